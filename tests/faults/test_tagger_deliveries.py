"""The tagger under S3's delivery quirks: duplicates, versions out of order, concurrent invocations.

Sequential deliveries run the handler in this process, its client through the fault proxy with the issue's
fault mix; concurrent ones run in two execution environments (processes) through a proxy that holds every
GetObjectTagging until both have arrived, so that both read the tags before either writes them, however
busy the machine.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from glacierable import TAG_KEY
from glacierable.clients import s3_client
from glacierable.handlers import tagger
from glacierable_dev.fault_proxy import Fate, LatencyProxy, ProxySettings
from glacierable_dev.lambdas import FakeLambdaContext
from tests.faults import ISSUE_FAULTS, created_event, invoke_tagger, tagger_environments

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VOLUME = "backups/host1/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
MANIFEST = "backups/host1/duplicity-full.20231114T221320Z.manifest.gpg"

Invoke = Callable[[dict[str, Any]], Any]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, fault_proxy: LatencyProxy) -> Iterator[Invoke]:
    """The tagger handler in this process, its client through the fault proxy (with the issue's faults)."""
    fault_proxy.settings = ISSUE_FAULTS
    monkeypatch.setenv("ARCHIVE_UNKNOWN", "false")
    monkeypatch.setattr(tagger.metrics, "namespace", "Glacierable")
    monkeypatch.setattr(tagger.logger.registered_handler, "stream", io.StringIO())
    with tagger.s3.use(s3_client(endpoint_url=fault_proxy.url)):
        yield lambda event: tagger.handler(event, FakeLambdaContext())


def tags_of(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    target: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        target["VersionId"] = version_id
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**target)["TagSet"]}


def put(s3: S3Client, bucket: str, key: str, tagging: str = "") -> str:
    return str(s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging).get("VersionId"))


def answered_puts(proxy: LatencyProxy, bucket: str, key: str) -> int:
    """PutObjectTagging requests on `key` that S3 carried out and answered (a lost answer's retry counts)."""
    path = f"/{bucket}/{key}"
    return sum(
        1
        for h in proxy.handled()
        if (h.operation, h.path, h.fate) == ("PutObjectTagging", path, Fate.FORWARDED)
    )


# --- duplicates ------------------------------------------------------------------------------------


def test_a_duplicate_delivery_leaves_the_tags_as_the_first_one_wrote_them(
    invoke: Invoke, fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, VOLUME, tagging="owner=ops")
    event = created_event(bucket, VOLUME)

    invoke(event)
    invoke(event)

    assert tags_of(s3, bucket, VOLUME) == {"owner": "ops", TAG_KEY: "true"}
    assert answered_puts(fault_proxy, bucket, VOLUME) == 1


def test_a_record_repeated_within_one_event_is_tagged_once(
    invoke: Invoke, fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, MANIFEST)
    record = created_event(bucket, MANIFEST)["Records"][0]

    invoke({"Records": [record, record]})

    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}
    assert answered_puts(fault_proxy, bucket, MANIFEST) == 1


# --- out of order ----------------------------------------------------------------------------------


def test_an_older_versions_event_after_a_newer_ones_tags_each_version_with_its_own_tags(
    invoke: Invoke, s3: S3Client, versioned_bucket: str
) -> None:
    bucket = versioned_bucket
    older = put(s3, bucket, VOLUME, tagging="upload=first")
    newer = put(s3, bucket, VOLUME, tagging="upload=second")

    invoke(created_event(bucket, VOLUME, newer))
    invoke(created_event(bucket, VOLUME, older))

    assert tags_of(s3, bucket, VOLUME, older) == {"upload": "first", TAG_KEY: "true"}
    assert tags_of(s3, bucket, VOLUME, newer) == {"upload": "second", TAG_KEY: "true"}
    assert tags_of(s3, bucket, VOLUME) == {"upload": "second", TAG_KEY: "true"}


def test_a_late_event_for_a_version_deleted_since_succeeds_and_touches_nothing_else(
    invoke: Invoke, s3: S3Client, versioned_bucket: str
) -> None:
    bucket = versioned_bucket
    older = put(s3, bucket, VOLUME)
    newer = put(s3, bucket, VOLUME)
    invoke(created_event(bucket, VOLUME, newer))
    s3.delete_object(Bucket=bucket, Key=VOLUME, VersionId=older)

    result = invoke(created_event(bucket, VOLUME, older))

    assert (result["Skipped"], result["Failed"]) == (1, 0)
    assert tags_of(s3, bucket, VOLUME, newer) == {TAG_KEY: "true"}


# --- concurrent invocations --------------------------------------------------------------------------


def run_at_once(proxy: LatencyProxy, events: list[dict[str, Any]]) -> list[str | None]:
    """The events in as many execution environments at once; each invocation's error, or None."""
    proxy.settings = ProxySettings(latency=0.0, gather=len(events), gather_operation="GetObjectTagging")
    with tagger_environments(proxy.url, len(events)) as environments:
        proxy.reset_log()
        futures = [environments.submit(invoke_tagger, event) for event in events]
        return [future.result() for future in futures]


def assert_both_read_before_either_wrote(proxy: LatencyProxy) -> None:
    operations = [h.operation for h in proxy.handled()]
    assert operations == ["GetObjectTagging"] * 2 + ["PutObjectTagging"] * 2, operations


def test_two_concurrent_invocations_for_the_same_key_end_with_the_right_tags(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, VOLUME, tagging="owner=ops&retention=long")
    event = created_event(bucket, VOLUME)

    errors = run_at_once(fault_proxy, [event, event])

    assert errors == [None, None]
    assert_both_read_before_either_wrote(fault_proxy)
    assert tags_of(s3, bucket, VOLUME) == {"owner": "ops", "retention": "long", TAG_KEY: "true"}


def test_concurrent_invocations_for_two_versions_of_a_key_tag_each_version(
    fault_proxy: LatencyProxy, s3: S3Client, versioned_bucket: str
) -> None:
    bucket = versioned_bucket
    older = put(s3, bucket, MANIFEST, tagging="upload=first")
    newer = put(s3, bucket, MANIFEST, tagging="upload=second")

    errors = run_at_once(fault_proxy, [created_event(bucket, MANIFEST, v) for v in (newer, older)])

    assert errors == [None, None]
    assert_both_read_before_either_wrote(fault_proxy)
    assert tags_of(s3, bucket, MANIFEST, older) == {"upload": "first", TAG_KEY: "false"}
    assert tags_of(s3, bucket, MANIFEST, newer) == {"upload": "second", TAG_KEY: "false"}
