"""The Lambdas' settings: PREFIX read as every command reads --prefix (duplicity's reading of its URL path),
and the reconciler's expected archive rule."""

from __future__ import annotations

import pytest

from glacierable.env import ConfigError as EnvConfigError
from glacierable.handlers import reconcile, restore, restore_ready
from glacierable.lifecycle import ARCHIVE_RULE_ID, our_rules

BASE = {"BUCKET": "my-backups", "RESTORE_QUEUE_URL": "https://sqs.example/q"}


@pytest.mark.parametrize(
    ("given", "prefix"), [("/backups", "backups"), ("backups//host1/", "backups/host1/")]
)
def test_reconcile_reads_prefix_as_duplicity_does(given: str, prefix: str) -> None:
    assert reconcile.Settings.from_env({**BASE, "PREFIX": given}).prefix == prefix


@pytest.mark.parametrize(
    ("given", "prefix"), [("/backups", "backups"), ("backups//host1/", "backups/host1/")]
)
def test_restore_reads_prefix_as_duplicity_does(given: str, prefix: str) -> None:
    assert restore.Settings.from_env({**BASE, "PREFIX": given}).prefix == prefix


@pytest.mark.parametrize("settings", [reconcile.Settings, restore.Settings])
def test_a_prefix_longer_than_any_key_is_a_config_error(
    settings: type[reconcile.Settings] | type[restore.Settings],
) -> None:
    with pytest.raises(ValueError, match="PREFIX must be at most 1024 bytes"):
        settings.from_env({**BASE, "PREFIX": "a" * 1025})


RULE_ENV = {"ARCHIVE_RULE_ID": ARCHIVE_RULE_ID, "ARCHIVE_STORAGE_CLASS": "GLACIER_IR", "ARCHIVE_DAYS": "30"}


def test_reconcile_expects_the_rule_the_stack_deployed() -> None:
    settings = reconcile.Settings.from_env({**BASE, "PREFIX": "backups", **RULE_ENV})
    (deployed, _) = our_rules(prefix="backups", storage_class="GLACIER_IR", days=30)
    assert settings.archive_rule == deployed


def test_reconcile_checks_no_rule_without_a_rule_id() -> None:
    assert reconcile.Settings.from_env(BASE).archive_rule is None


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"ARCHIVE_DAYS": ""}, "ARCHIVE_DAYS"),
        ({"ARCHIVE_DAYS": "0"}, "ARCHIVE_DAYS"),
        ({"ARCHIVE_DAYS": "two"}, "ARCHIVE_DAYS"),
        ({"ARCHIVE_STORAGE_CLASS": "STANDARD"}, "ARCHIVE_STORAGE_CLASS"),
    ],
)
def test_a_rule_id_without_valid_rule_settings_is_a_config_error(changed: dict[str, str], named: str) -> None:
    with pytest.raises(reconcile.ConfigError, match=f"{named}.*ARCHIVE_RULE_ID is set"):
        reconcile.Settings.from_env({**BASE, **RULE_ENV, **changed})


def test_the_restore_planner_takes_the_ready_queue_and_topic_together() -> None:
    told = restore.Settings.from_env({**BASE, "READY_QUEUE_URL": "https://q", "NOTIFY_TOPIC_ARN": "arn:t"})
    assert (told.ready_queue_url, told.notify_topic) == ("https://q", "arn:t")
    assert restore.Settings.from_env(BASE).ready_queue_url == ""
    with pytest.raises(restore.ConfigError, match="READY_QUEUE_URL and NOTIFY_TOPIC_ARN go together"):
        restore.Settings.from_env({**BASE, "READY_QUEUE_URL": "https://q"})


def test_the_ready_checker_needs_its_bucket_queue_and_topic() -> None:
    with pytest.raises(EnvConfigError, match="READY_QUEUE_URL, NOTIFY_TOPIC_ARN required"):
        restore_ready.Settings.from_env({"BUCKET": "b"})
    settings = restore_ready.Settings.from_env(
        {"BUCKET": "b", "PREFIX": "/host1", "READY_QUEUE_URL": "https://q", "NOTIFY_TOPIC_ARN": "arn:t"}
    )
    assert (settings.prefix, settings.topic_arn) == ("host1", "arn:t")
