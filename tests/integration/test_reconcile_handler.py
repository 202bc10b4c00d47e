"""The scheduled reconcile Lambda against a moto server: recent objects tagged, failures raised at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from glacierable.handlers import reconcile
from glacierable.lifecycle import ARCHIVE_RULE_ID
from glacierable.lifecycle_store import apply_rules
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef

FULL = "20240101T000000Z"
VOLUME = f"host1/duplicity-full.{FULL}.vol1.difftar.gpg"
VOLUME2 = f"host1/duplicity-full.{FULL}.vol2.difftar.gpg"
MANIFEST = f"host1/duplicity-full.{FULL}.manifest.gpg"
OTHER = f"elsewhere/duplicity-full.{FULL}.vol1.difftar.gpg"


@pytest.fixture
def objects(s3: S3Client, bucket: str) -> list[str]:
    keys = [VOLUME, VOLUME2, MANIFEST, OTHER]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    return keys


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, bucket: str, endpoint_url: str) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("BUCKET", bucket)
    monkeypatch.setenv("PREFIX", "host1/")
    monkeypatch.delenv("RECONCILE_DAYS", raising=False)
    monkeypatch.delenv("ARCHIVE_UNKNOWN", raising=False)
    with reconcile.s3.use():  # the handler builds its own client from this environment, for this test only
        yield monkeypatch


def invoke() -> Any:
    return reconcile.handler({"source": "aws.scheduler"}, FakeLambdaContext("glacierable-reconcile"))


def glacierable_tag(s3: S3Client, bucket: str, key: str) -> str | None:
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    return tags.get("glacierable")


def metrics_blob(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The one CloudWatch EMF document the invocation printed."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (blob,) = [line for line in lines if "_aws" in line]
    assert isinstance(blob, dict)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Glacierable"
    return blob


def fail_puts_for(keys: set[str]) -> None:
    """Make the handler's client fail PutObjectTagging for `keys` only."""

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") in keys:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, "PutObjectTagging")

    reconcile.s3().meta.events.register("before-parameter-build.s3.PutObjectTagging", maybe_fail)


@pytest.mark.usefixtures("env")
def test_tags_recent_objects_under_the_prefix(s3: S3Client, bucket: str, objects: list[str]) -> None:
    result = invoke()

    assert glacierable_tag(s3, bucket, VOLUME) == "true"
    assert glacierable_tag(s3, bucket, MANIFEST) == "false"
    assert glacierable_tag(s3, bucket, OTHER) is None
    assert result["actions"]["tagged"] == 3
    assert result["ok"] is True


@pytest.mark.usefixtures("env", "objects")
def test_objects_older_than_the_window_are_left_alone(
    s3: S3Client, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LastModified cannot be backdated in moto: move the clock forward past the 3-day window instead.
    monkeypatch.setattr(reconcile, "_now", lambda: datetime.now(UTC) + timedelta(days=3, minutes=1))

    result = invoke()

    assert glacierable_tag(s3, bucket, VOLUME) is None
    assert result["skipped"] == 3
    assert result["processed"] == 0


@pytest.mark.usefixtures("objects")
def test_reconcile_days_widens_the_window(
    s3: S3Client, bucket: str, env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.setenv("RECONCILE_DAYS", "5")
    monkeypatch.setattr(reconcile, "_now", lambda: datetime.now(UTC) + timedelta(days=4))

    invoke()

    assert glacierable_tag(s3, bucket, VOLUME) == "true"


@pytest.mark.usefixtures("objects")
def test_archive_unknown_is_honoured(s3: S3Client, bucket: str, env: pytest.MonkeyPatch) -> None:
    s3.put_object(Bucket=bucket, Key="host1/notes.txt", Body=b"x")
    env.setenv("ARCHIVE_UNKNOWN", "true")

    invoke()

    assert glacierable_tag(s3, bucket, "host1/notes.txt") == "true"


@pytest.mark.usefixtures("env", "objects")
def test_failures_raise_after_all_other_objects_are_tagged(s3: S3Client, bucket: str) -> None:
    fail_puts_for({VOLUME2})

    with pytest.raises(reconcile.ReconcileFailed, match="1 of 3 objects") as caught:
        invoke()

    assert VOLUME2 in str(caught.value)
    assert glacierable_tag(s3, bucket, VOLUME) == "true"
    assert glacierable_tag(s3, bucket, MANIFEST) == "false"
    assert glacierable_tag(s3, bucket, VOLUME2) is None


@pytest.mark.usefixtures("env", "objects")
def test_failures_are_logged_and_counted(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    fail_puts_for({VOLUME2})

    with pytest.raises(reconcile.ReconcileFailed):
        invoke()

    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [(r.getMessage(), getattr(r, "key", None)) for r in errors] == [("object not tagged", VOLUME2)]
    assert metrics_blob(capsys)["ReconcileFailed"] == [1.0]


@pytest.mark.usefixtures("env", "objects")
def test_metrics_count_what_the_sweep_tagged(capsys: pytest.CaptureFixture[str]) -> None:
    invoke()

    blob = metrics_blob(capsys)
    values = {name: blob[name] for name in ("ReconcileTaggedTrue", "ReconcileTaggedFalse", "ReconcileKept")}
    # Powertools v3 writes each metric as the list of values added in the invocation.
    assert values == {"ReconcileTaggedTrue": [2.0], "ReconcileTaggedFalse": [1.0], "ReconcileKept": [0.0]}


@pytest.mark.usefixtures("env", "objects")
def test_second_run_keeps_every_tag() -> None:
    invoke()

    result = invoke()

    assert result["actions"] == {"tagged": 0, "kept": 3, "gone": 0, "too_many_tags": 0}


def test_sweep_tags_recent_noncurrent_versions_too(
    s3: S3Client, versioned_bucket: str, env: pytest.MonkeyPatch
) -> None:
    env.setenv("BUCKET", versioned_bucket)
    for body in (b"1", b"2"):
        s3.put_object(Bucket=versioned_bucket, Key=VOLUME, Body=body)

    result = invoke()

    versions = s3.list_object_versions(Bucket=versioned_bucket)["Versions"]
    tags = [
        s3.get_object_tagging(Bucket=versioned_bucket, Key=VOLUME, VersionId=v["VersionId"])["TagSet"]
        for v in versions
    ]
    assert (result["versioning"], result["listed"], result["noncurrent_count"]) == ("Enabled", 2, 1)
    assert tags == [[{"Key": "glacierable", "Value": "true"}]] * 2


@pytest.mark.usefixtures("objects")
def test_prefix_setting_is_read_as_duplicity_reads_its_url(
    s3: S3Client, bucket: str, env: pytest.MonkeyPatch
) -> None:
    env.setenv("PREFIX", "/host1")

    result = invoke()

    assert result["prefix"] == "host1"
    assert glacierable_tag(s3, bucket, VOLUME) == "true"


@pytest.mark.usefixtures("objects")
def test_nothing_under_the_prefix_is_logged_as_a_warning(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env.setenv("PREFIX", "host2/")

    invoke()

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["nothing listed under the prefix: check the stack's prefix"]


def test_missing_bucket_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUCKET", raising=False)

    with pytest.raises(reconcile.ConfigError, match="BUCKET is required"):
        invoke()


@pytest.mark.parametrize("days", ["0", "three", "-1"])
def test_bad_reconcile_days_is_a_clear_error(env: pytest.MonkeyPatch, days: str) -> None:
    env.setenv("RECONCILE_DAYS", days)

    with pytest.raises(reconcile.ConfigError, match="RECONCILE_DAYS"):
        invoke()


def test_bad_archive_unknown_is_a_clear_error(env: pytest.MonkeyPatch) -> None:
    env.setenv("ARCHIVE_UNKNOWN", "maybe")

    with pytest.raises(reconcile.ConfigError, match="ARCHIVE_UNKNOWN"):
        invoke()


# --- the archive rule check -----------------------------------------------------------------------

OWNERS_RULE: dict[str, Any] = {
    "ID": "owner-expire-logs",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Expiration": {"Days": 30},
}


@pytest.fixture
def rule_env(env: pytest.MonkeyPatch, s3: S3Client, bucket: str) -> pytest.MonkeyPatch:
    """The environment the stack gives the function, and our rules applied as the custom resource does."""
    env.setenv("ARCHIVE_RULE_ID", ARCHIVE_RULE_ID)
    env.setenv("ARCHIVE_STORAGE_CLASS", "DEEP_ARCHIVE")
    env.setenv("ARCHIVE_DAYS", "2")
    another_writer_puts(s3, bucket, [OWNERS_RULE])
    apply_rules(s3, bucket, prefix="host1/", storage_class="DEEP_ARCHIVE", days=2)
    return env


def another_writer_puts(s3: S3Client, bucket: str, rules: list[dict[str, Any]]) -> None:
    """What a console edit or another tool does: replace the whole configuration."""
    typed = cast("list[LifecycleRuleTypeDef]", rules)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": typed})


def our_archive_rule(s3: S3Client, bucket: str) -> dict[str, Any]:
    (rule,) = [
        r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] if r["ID"] == ARCHIVE_RULE_ID
    ]
    return dict(rule)


@pytest.mark.usefixtures("rule_env", "objects")
def test_rule_in_place_publishes_zero(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke()

    blob = metrics_blob(capsys)
    assert (blob["ArchiveRuleMissing"], blob["ArchiveRuleUnchecked"]) == ([0.0], [0.0])
    assert result["archive_rule"]["state"] == "present"


@pytest.mark.usefixtures("rule_env", "objects")
def test_rule_removed_by_another_writer_publishes_one_and_the_sweep_still_tags(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    another_writer_puts(s3, bucket, [OWNERS_RULE])

    result = invoke()

    assert metrics_blob(capsys)["ArchiveRuleMissing"] == [1.0]
    assert result["archive_rule"]["state"] == "absent"
    assert f"no rule '{ARCHIVE_RULE_ID}'" in result["archive_rule"]["detail"]
    errors = [(r.getMessage(), getattr(r, "state", None)) for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [("archive rule missing", "absent")]
    assert glacierable_tag(s3, bucket, VOLUME) == "true"
    assert result["actions"]["tagged"] == 3


@pytest.mark.usefixtures("rule_env", "objects")
def test_rule_disabled_publishes_one(s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    rule = {**our_archive_rule(s3, bucket), "Status": "Disabled"}
    another_writer_puts(s3, bucket, [OWNERS_RULE, rule])

    result = invoke()

    assert metrics_blob(capsys)["ArchiveRuleMissing"] == [1.0]
    assert result["archive_rule"]["state"] == "disabled"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"Transitions": [{"Days": 2, "StorageClass": "GLACIER"}]}, "transitions"),
        ({"Filter": {"Prefix": "host1/"}}, "tags"),
        ({"Expiration": {"Days": 90}}, "expiration"),
    ],
)
@pytest.mark.usefixtures("rule_env", "objects")
def test_rule_changed_by_another_writer_publishes_one_naming_the_change(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str], change: dict[str, Any], named: str
) -> None:
    another_writer_puts(s3, bucket, [{**our_archive_rule(s3, bucket), **change}])

    result = invoke()

    assert metrics_blob(capsys)["ArchiveRuleMissing"] == [1.0]
    assert result["archive_rule"]["state"] == "different"
    assert f"changed: {named} " in result["archive_rule"]["detail"]


@pytest.mark.usefixtures("rule_env", "objects")
def test_no_lifecycle_configuration_at_all_is_reported_as_such(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.delete_bucket_lifecycle(Bucket=bucket)

    result = invoke()

    assert metrics_blob(capsys)["ArchiveRuleMissing"] == [1.0]
    assert result["archive_rule"]["state"] == "no_configuration"
    assert "has no lifecycle configuration" in result["archive_rule"]["detail"]


@pytest.mark.usefixtures("rule_env", "objects")
def test_access_denied_is_reported_as_unchecked_and_the_sweep_still_tags(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def deny(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
            "GetBucketLifecycleConfiguration",
        )

    reconcile.s3().meta.events.register("before-call.s3.GetBucketLifecycleConfiguration", deny)

    result = invoke()

    blob = metrics_blob(capsys)
    assert blob["ArchiveRuleUnchecked"] == [1.0]
    assert "ArchiveRuleMissing" not in blob  # unknown is neither present nor missing
    assert result["archive_rule"]["state"] == "unreadable"
    assert "AccessDenied" in result["archive_rule"]["detail"]
    assert glacierable_tag(s3, bucket, VOLUME) == "true"


@pytest.mark.usefixtures("env", "objects")
def test_without_a_rule_id_nothing_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke()

    assert "archive_rule" not in result
    assert "ArchiveRuleMissing" not in metrics_blob(capsys)


def test_the_sweep_runs_the_backup_check_and_publishes_its_problem_count(
    env: pytest.MonkeyPatch, s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A volume and its set's manifest, no signature: the check must name the missing signature.
    s3.put_object(Bucket=bucket, Key=VOLUME, Body=b"x")
    s3.put_object(Bucket=bucket, Key=MANIFEST, Body=b"x")
    # A day later: past the check's grace for a backup being written, within the sweep's 3 days.
    env.setattr(reconcile, "_now", lambda: datetime.now(UTC) + timedelta(days=1))
    capsys.readouterr()

    result = invoke()

    counts = result["check"]["problem_counts"]
    # The sweep has just tagged both objects, so nothing is untagged; the test bucket has no rule.
    assert (counts["missing-signature"], counts["untagged"], counts["no-lifecycle-rule"]) == (1, 0, 1)
    assert result["check"]["problem_count"] == 2
    assert metrics_blob(capsys)["CheckProblems"] == [2.0]


def test_the_backup_check_is_skipped_when_too_little_time_is_left(
    env: pytest.MonkeyPatch, s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=bucket, Key=VOLUME, Body=b"x")
    capsys.readouterr()
    context = FakeLambdaContext("glacierable-reconcile", remaining_ms=reconcile.CHECK_MIN_REMAINING_MS - 1)

    result = reconcile.handler({"source": "aws.scheduler"}, context)

    assert "check" not in result
    assert "CheckProblems" not in metrics_blob(capsys)
