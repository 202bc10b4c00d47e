"""The Lambdas read their PREFIX as every command reads --prefix: duplicity's reading of its URL path."""

from __future__ import annotations

import pytest

from glacierable.handlers import reconcile, restore

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
