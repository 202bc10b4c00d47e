"""`glacierable lifecycle apply|remove|show` against a moto server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from glacierable.lifecycle import ABORT_MPU_RULE_ID, ARCHIVE_RULE_ID, our_rules
from glacierable.lifecycle_store import read_rules
from glacierable_cli.main import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OWNER_RULE: Any = {
    "ID": "owner-expire-tmp",
    "Filter": {"Prefix": "tmp/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Exit code, the one JSON Lines record printed (None if nothing was), stderr."""
    code = main(["lifecycle", *argv])
    out, err = capsys.readouterr()
    if not out:
        return code, None, err
    (line,) = out.splitlines()
    return code, json.loads(line), err


def put_owner_rule(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [OWNER_RULE]})


def test_apply_adds_our_rules_and_prints_the_result(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_owner_rule(s3, bucket)
    args = ["--bucket", bucket, "--prefix", "b/", "--storage-class", "DEEP_ARCHIVE", "--days", "3"]
    code, out, _ = run(capsys, "apply", *args, "--endpoint-url", endpoint_url)
    expected = [OWNER_RULE, *our_rules(prefix="b/", storage_class="DEEP_ARCHIVE", days=3)]
    assert code == 0
    assert (out["changed"], out["added"]) == (True, [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID])
    assert out["rules"] == expected
    assert read_rules(s3, bucket) == expected


@pytest.mark.parametrize("action", ["apply", "remove", "show"])
def test_every_action_prints_one_json_lines_record_naming_it(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    main(["lifecycle", action, "--bucket", bucket, "--endpoint-url", endpoint_url])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["record"], record["action"], record["bucket"]) == ("lifecycle", action, bucket)


@pytest.mark.parametrize(
    ("given", "prefix"),
    [("/backups", "backups"), ("backups//host1/", "backups/host1/"), ("//", "")],
)
def test_apply_reads_the_prefix_as_duplicity_reads_its_url(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str], given: str, prefix: str
) -> None:
    code, out, _ = run(capsys, "apply", "--bucket", bucket, "--prefix", given, "--endpoint-url", endpoint_url)
    assert code == 0
    assert read_rules(s3, bucket) == out["rules"] == our_rules(prefix=prefix)


def test_apply_twice_reports_no_change(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    code, out, _ = run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    assert (code, out["changed"], out["unchanged"]) == (0, False, [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID])


def test_apply_with_new_days_reports_the_archive_rule_replaced(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    _, out, _ = run(capsys, "apply", "--bucket", bucket, "--days", "9", "--endpoint-url", endpoint_url)
    assert (out["replaced"], out["unchanged"]) == ([ARCHIVE_RULE_ID], [ABORT_MPU_RULE_ID])


def test_apply_dry_run_prints_the_result_and_writes_nothing(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_owner_rule(s3, bucket)
    code, out, _ = run(capsys, "apply", "--bucket", bucket, "--dry-run", "--endpoint-url", endpoint_url)
    assert (code, out["dry_run"], out["rules"]) == (0, True, [OWNER_RULE, *our_rules()])
    assert read_rules(s3, bucket) == [OWNER_RULE]


def test_apply_honours_aws_endpoint_url(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    assert run(capsys, "apply", "--bucket", bucket)[0] == 0
    assert read_rules(s3, bucket) == our_rules()


def test_remove_keeps_owner_rules(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_owner_rule(s3, bucket)
    run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    code, out, _ = run(capsys, "remove", "--bucket", bucket, "--endpoint-url", endpoint_url)
    assert (code, out["removed"], out["rules"]) == (0, [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID], [OWNER_RULE])
    assert read_rules(s3, bucket) == [OWNER_RULE]


def test_remove_dry_run_writes_nothing(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    _, out, _ = run(capsys, "remove", "--bucket", bucket, "--dry-run", "--endpoint-url", endpoint_url)
    assert (out["rules"], read_rules(s3, bucket)) == ([], our_rules())


def test_show_lists_rules_and_marks_ours(
    s3: S3Client, bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_owner_rule(s3, bucket)
    run(capsys, "apply", "--bucket", bucket, "--endpoint-url", endpoint_url)
    code, out, _ = run(capsys, "show", "--bucket", bucket, "--endpoint-url", endpoint_url)
    assert code == 0
    assert out == {
        "record": "lifecycle",
        "action": "show",
        "bucket": bucket,
        "ours": [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID],
        "rules": [OWNER_RULE, *our_rules()],
    }


def test_show_of_a_bucket_without_configuration_lists_nothing(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "show", "--bucket", bucket, "--endpoint-url", endpoint_url)
    assert (out["ours"], out["rules"]) == ([], [])


@pytest.mark.parametrize("action", ["apply", "remove", "show"])
def test_missing_bucket_is_one_line_on_stderr_and_exit_1(
    endpoint_url: str, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    missing = "glacierable-no-such-bucket"
    code, out, err = run(capsys, action, "--bucket", missing, "--endpoint-url", endpoint_url)
    assert (code, out) == (1, None)
    assert err.count("\n") == 1
    assert err.startswith(f"glacierable lifecycle {action}: error: NoSuchBucket")
    assert missing in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--storage-class", "STANDARD_IA"], "--storage-class must be one of GLACIER, DEEP_ARCHIVE,"),
        (["--days", "0"], "--days must be a whole number from 1 to 3650"),
        (["--prefix", "a" * 1025], "--prefix must be at most 1024 bytes"),
    ],
)
def test_bad_input_is_a_usage_error(
    bucket: str, endpoint_url: str, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["lifecycle", "apply", "--bucket", bucket, *option, "--endpoint-url", endpoint_url])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
