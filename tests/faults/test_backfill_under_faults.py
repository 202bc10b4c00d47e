"""Backfill of 2,000 objects through SlowDown, InternalError and dropped connections: every object right."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from glacierable import TAG_KEY
from glacierable.backfill import backfill
from glacierable.classify import is_glacierable
from glacierable.clients import s3_client
from glacierable_cli.main import main
from glacierable_dev.fault_proxy import Fate, LatencyProxy
from tests.faults import ISSUE_FAULTS, backup_keys, put_objects, tags_in_s3, unanswered, wrong

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OBJECTS = 2000
OWNER = {"owner": "ops"}


def prepare(s3: S3Client, bucket: str, count: int) -> dict[str, dict[str, str]]:
    """Duplicity files and some strangers, a tenth with a tag of their own; the tags each must end with."""
    strangers = [f"host1/notes/{i}.txt" for i in range(count // 20)]
    keys = [*backup_keys(count - len(strangers), "host1/"), *strangers]
    owned = set(keys[::10])
    put_objects(s3, bucket, [key for key in keys if key not in owned])
    put_objects(s3, bucket, owned, tagging="owner=ops")
    return {
        key: {**(OWNER if key in owned else {}), TAG_KEY: "true" if is_glacierable(key) else "false"}
        for key in keys
    }


def run_cli(url: str, bucket: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, set[str] | None]:
    """`glacierable backfill --json` through the proxy: exit code and the keys it reported as failed.

    None for the keys when the listing itself failed: then the run reports nothing per key, only the error.
    """
    code = main(["backfill", "--bucket", bucket, "--endpoint-url", url, "--json"])
    out, err = capsys.readouterr()
    if not out.strip():
        assert code == 1 and f"cannot list s3://{bucket}/" in err
        return code, None
    summary = json.loads(out)
    failed = {item["key"] for item in summary["failed"]}
    assert summary["failed_count"] == len(failed)
    assert summary["listed"] == summary["processed"]
    return code, failed


def assert_reported_exactly(reported: set[str], left: set[str], proxy: LatencyProxy, bucket: str) -> None:
    """Every key not right in S3 is reported; any other reported key was tagged by a PUT never answered.

    The client cannot tell those from failures, so reporting them (the rerun finds them tagged) is right.
    """
    assert left <= reported, f"not tagged right in S3 but not reported: {sorted(left - reported)}"
    assert reported - left <= unanswered(proxy, bucket, "PutObjectTagging")


def test_backfill_ends_with_every_object_tagged_or_reports_exactly_the_rest(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = prepare(s3, bucket, OBJECTS)
    fault_proxy.settings = ISSUE_FAULTS

    code, reported = run_cli(fault_proxy.url, bucket, capsys)
    left = wrong(tags_in_s3(s3, bucket, expected), expected)

    print(f"\nfirst run: exit {code}, counts {dict(fault_proxy.counts())}")
    assert all(fault_proxy.counts()[fate] for fate in Fate if fate is not Fate.BAD_GATEWAY)
    if reported is not None:
        assert_reported_exactly(reported, left, fault_proxy, bucket)
    assert (code == 0) == (not reported)
    if code != 0:
        code, reported = run_cli(fault_proxy.url, bucket, capsys)
        assert (code, reported) == (0, set())
        assert wrong(tags_in_s3(s3, bucket, expected), expected) == set()


def test_when_retries_run_out_the_unfinished_keys_are_reported_and_a_rerun_finishes(
    fault_proxy: LatencyProxy, faulty_s3: S3Client, s3: S3Client, bucket: str
) -> None:
    expected = prepare(s3, bucket, 600)
    fault_proxy.settings = ISSUE_FAULTS
    # One retry instead of glacierable.clients' eight, so that some
    # objects run out of them.
    stingy = s3_client(endpoint_url=fault_proxy.url, max_pool_connections=32, max_attempts=2)

    first = backfill(stingy, bucket, concurrency=32)
    left = wrong(tags_in_s3(s3, bucket, expected), expected)

    assert left, "with two attempts some objects should have failed: the fault mix is too gentle"
    assert_reported_exactly({failure.key for failure in first.failed}, left, fault_proxy, bucket)
    rerun = backfill(faulty_s3, bucket, concurrency=32)  # the tools' own client, through the same faults
    assert rerun.ok, rerun.failed
    assert wrong(tags_in_s3(s3, bucket, expected), expected) == set()
