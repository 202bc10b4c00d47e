"""Settings from CDK context: strings and JSON values accepted, every bad setting named in its own message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def problem_for(context: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings({"bucket": "my-backups", **context})
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_defaults_with_only_a_bucket() -> None:
    assert load_settings({"bucket": "my-backups"}) == Settings(
        bucket="my-backups",
        prefix="",
        storage_class="GLACIER",
        days=1,
        create_bucket=False,
        archive_unknown=False,
        reconcile_days=3,
        reconcile_schedule="rate(1 day)",
    )


def test_strings_from_command_line_are_parsed() -> None:
    settings = load_settings(
        {
            "bucket": "my-backups",
            "prefix": "host1/",
            "storage_class": "DEEP_ARCHIVE",
            "days": "2",
            "create_bucket": "true",
            "archive_unknown": "TRUE",
            "reconcile_days": "7",
            "reconcile_schedule": "rate(12 hours)",
        }
    )
    assert (settings.days, settings.create_bucket, settings.archive_unknown, settings.reconcile_days) == (
        2,
        True,
        True,
        7,
    )
    assert (settings.prefix, settings.storage_class, settings.reconcile_schedule) == (
        "host1/",
        "DEEP_ARCHIVE",
        "rate(12 hours)",
    )


def test_json_values_from_cdk_json_are_accepted() -> None:
    settings = load_settings({"bucket": "my-backups", "days": 2, "create_bucket": False, "reconcile_days": 1})
    assert (settings.days, settings.create_bucket, settings.reconcile_days) == (2, False, 1)


def test_cdk_json_defaults_are_valid_settings() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert load_settings({**context, "bucket": "my-backups"}) == Settings(bucket="my-backups")


def test_unrelated_context_keys_are_ignored() -> None:
    assert load_settings(
        {"bucket": "my-backups", "@aws-cdk/core:newStyleStackSynthesis": True, "glacier": "x"}
    )


def test_storage_class_is_case_insensitive() -> None:
    assert (
        load_settings({"bucket": "my-backups", "storage_class": "glacier_ir"}).storage_class == "GLACIER_IR"
    )


def test_missing_bucket_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^bucket: required"):
        load_settings({})


@pytest.mark.parametrize(
    "bucket",
    [
        "My-Backups",
        "ab",
        "a" * 64,
        "-backups",
        "backups-",
        "my_backups",
        "my..backups",
        "192.168.1.1",
        "xn--abc",
        "b-s3alias",
    ],
)
def test_malformed_bucket_name_is_named(bucket: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"bucket": bucket})
    assert caught.value.problems[0].startswith(f"bucket: {bucket!r} is not a valid S3 bucket name")


@pytest.mark.parametrize("bucket", ["abc", "my-backups", "my.backups.2024", "a" * 63])
def test_valid_bucket_names_pass(bucket: str) -> None:
    assert load_settings({"bucket": bucket}).bucket == bucket


def test_unknown_storage_class_names_setting_and_allowed_values() -> None:
    message = problem_for({"storage_class": "STANDARD_IA"})
    assert message.startswith("storage_class: 'STANDARD_IA'")
    assert "GLACIER, DEEP_ARCHIVE, GLACIER_IR" in message


@pytest.mark.parametrize("days", ["0", 0, "3651", -1, "1.5", "one", True, 2.0])
def test_days_out_of_range_or_not_whole_is_named(days: object) -> None:
    message = problem_for({"days": days})
    assert message.startswith("days: ")
    assert "1..3650" in message


@pytest.mark.parametrize(
    ("given", "prefix"), [("/backups/", "backups/"), ("backups//host1", "backups/host1")]
)
def test_prefix_is_read_as_duplicity_reads_its_url(given: str, prefix: str) -> None:
    # As every command reads --prefix: a rule or grant for '/backups/' would match no key duplicity writes.
    assert load_settings({"bucket": "my-backups", "prefix": given}).prefix == prefix


def test_prefix_longer_than_an_s3_key_is_named() -> None:
    assert problem_for({"prefix": "a" * 1025}).startswith("prefix: must be at most 1024 bytes")


def test_prefix_that_is_not_a_string_is_named() -> None:
    assert problem_for({"prefix": 5}).startswith("prefix: must be a string")


@pytest.mark.parametrize("key", ["create_bucket", "archive_unknown"])
@pytest.mark.parametrize("value", ["yes", "1", 1, "maybe"])
def test_non_boolean_flag_is_named(key: str, value: object) -> None:
    message = problem_for({key: value})
    assert message == f"{key}: {value!r} is not a boolean; allowed: true, false"


@pytest.mark.parametrize("value", ["0", "366", "x"])
def test_reconcile_days_out_of_range_is_named(value: str) -> None:
    message = problem_for({"reconcile_days": value})
    assert message.startswith("reconcile_days: ")
    assert "1..365" in message


@pytest.mark.parametrize("value", ["daily", "rate(1 week)", "cron()", ""])
def test_malformed_schedule_is_named(value: str) -> None:
    assert problem_for({"reconcile_schedule": value}).startswith("reconcile_schedule: ")


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"bucket": "Bad_Bucket", "days": "0", "storage_class": "STANDARD", "create_bucket": "yes"}
        )
    named = [problem.split(":")[0] for problem in caught.value.problems]
    assert named == ["bucket", "storage_class", "days", "create_bucket"]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


@pytest.mark.parametrize(
    ("bucket", "stack_name"),
    [("my-backups", "Glacierable-my-backups"), ("my.backups.2024", "Glacierable-my-backups-2024")],
)
def test_stack_name_is_derived_from_bucket(bucket: str, stack_name: str) -> None:
    assert load_settings({"bucket": bucket}).stack_name == stack_name


# --- app.py as the CDK CLI runs it ------------------------------------------------------------------


def run_app(context: dict[str, Any], outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.cdk
def test_app_synthesizes_offline_from_cdk_context_json(tmp_path: Path) -> None:
    result = run_app({"bucket": "x-bucket"}, tmp_path)
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "Glacierable-x-bucket.template.json").read_text())
    assert "Custom::GlacierableLifecycleRule" in {r["Type"] for r in template["Resources"].values()}
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [(p["pluginName"], p["conclusion"]) for p in report["pluginReports"]] == [
        ("AwsSolutions", "success")
    ]


@pytest.mark.cdk
def test_app_exits_non_zero_naming_the_bad_setting(tmp_path: Path) -> None:
    result = run_app({"bucket": "x-bucket", "storage_class": "STANDARD"}, tmp_path)
    assert result.returncode != 0
    assert "storage_class: 'STANDARD' is not supported" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()


def test_events_default_to_eventbridge_and_accept_direct() -> None:
    assert load_settings({"bucket": "my-backups"}).events == "eventbridge"
    assert load_settings({"bucket": "my-backups", "events": " Direct "}).events == "direct"


@pytest.mark.parametrize("value", ["sqs", "", "eventbridge,direct", 1])
def test_unknown_event_delivery_is_named(value: object) -> None:
    assert problem_for({"events": value}).startswith("events: ")


def test_alarm_destination_is_an_email_or_a_topic() -> None:
    assert load_settings({"bucket": "my-backups", "alarm_email": "ops@example.com"}).alarm_email == (
        "ops@example.com"
    )
    arn = "arn:aws:sns:eu-west-1:123456789012:backup-alarms"
    assert load_settings({"bucket": "my-backups", "alarm_topic_arn": arn}).alarm_topic_arn == arn
    unset = load_settings({"bucket": "my-backups", "alarm_email": "", "alarm_topic_arn": " "})
    assert (unset.alarm_email, unset.alarm_topic_arn) == (None, None)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alarm_email", "ops"),
        ("alarm_email", "ops@localhost"),
        ("alarm_email", "a b@example.com"),
        ("alarm_topic_arn", "arn:aws:sqs:eu-west-1:123456789012:q"),
        ("alarm_topic_arn", "arn:aws:sns:eu-west-1:1234:t"),
    ],
)
def test_malformed_alarm_destination_is_named(key: str, value: str) -> None:
    assert problem_for({key: value}).startswith(f"{key}: ")


def test_both_alarm_destinations_are_refused() -> None:
    message = problem_for(
        {"alarm_email": "ops@example.com", "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops"}
    )
    assert message.startswith("alarm_email, alarm_topic_arn: ")
