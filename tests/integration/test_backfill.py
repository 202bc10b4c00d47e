"""backfill() against a moto server: the right tags, merge semantics, dry run, reruns, failures, filters."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from glacierable import backfill as backfill_module
from glacierable.backfill import BackfillError, backfill
from glacierable.clients import s3_client
from glacierable.tagging import Action

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FULL = "20240101T000000Z"
INC = "20240102T000000Z"

# A duplicity backup in folders (one named like a manifest), plus files that are not duplicity's.
EXPECTED = {
    f"host1/duplicity-full.{FULL}.vol1.difftar.gpg": "true",
    f"host1/duplicity-full.{FULL}.vol2.difftar.gpg": "true",
    f"host1/duplicity-full.{FULL}.manifest.gpg": "false",
    f"host1/duplicity-full-signatures.{FULL}.sigtar.gpg": "false",
    f"host1/duplicity-inc.{FULL}.to.{INC}.vol1.difftar.gpg": "true",
    f"host1/duplicity-inc.{FULL}.to.{INC}.manifest.gpg": "false",
    f"host1/duplicity-new-signatures.{FULL}.to.{INC}.sigtar.gpg": "false",
    f"manifests/duplicity-full.{FULL}.vol1.difftar.gz": "true",
    f"host 2/ünïcode_duplicity-full.{FULL}.vol1.difftar": "true",
    "notes/readme.txt": "false",
    "folder/": "false",
}


def put_keys(s3: S3Client, bucket: str, keys: Iterable[str], tagging: str | None = None) -> None:
    for key in keys:
        extra: dict[str, Any] = {"Tagging": tagging} if tagging else {}
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", **extra)


def tags_of(s3: S3Client, bucket: str, key: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def glacierable_tags(s3: S3Client, bucket: str) -> dict[str, str | None]:
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: tags_of(s3, bucket, key).get("glacierable") for key in keys}


class CallCounter:
    """Counts API calls per operation through botocore's event hooks (the requests S3 would bill)."""

    def __init__(self, s3: S3Client) -> None:
        self.calls: dict[str, int] = {}
        s3.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1

    def __getitem__(self, operation: str) -> int:
        return self.calls.get(operation, 0)


def fail_tagging_for(s3: S3Client, keys: set[str], operation: str = "PutObjectTagging") -> None:
    """Make `operation` fail with AccessDenied for these keys only."""

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") in keys:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, operation)

    s3.meta.events.register(f"before-parameter-build.s3.{operation}", maybe_fail)


@pytest.fixture
def backup(s3: S3Client, bucket: str) -> str:
    put_keys(s3, bucket, EXPECTED)
    return bucket


def test_tags_each_object_by_its_duplicity_name(s3: S3Client, backup: str) -> None:
    summary = backfill(s3, backup)

    assert summary.ok
    assert glacierable_tags(s3, backup) == EXPECTED


def test_summary_counts_actions_and_decisions(s3: S3Client, backup: str) -> None:
    summary = backfill(s3, backup)

    trues = sum(1 for value in EXPECTED.values() if value == "true")
    assert summary.listed == len(EXPECTED)
    assert summary.actions[Action.TAGGED] == len(EXPECTED)
    assert summary.decisions == {True: trues, False: len(EXPECTED) - trues}
    assert summary.tagged_by_decision == summary.decisions
    assert summary.failed == []
    assert summary.elapsed > 0


def test_keeps_other_tags(s3: S3Client, bucket: str) -> None:
    key = f"duplicity-full.{FULL}.vol1.difftar.gpg"
    put_keys(s3, bucket, [key], tagging="owner=ops&retention=long")

    backfill(s3, bucket)

    assert tags_of(s3, bucket, key) == {"owner": "ops", "retention": "long", "glacierable": "true"}


def test_keeps_an_operators_glacierable_tag(s3: S3Client, bucket: str) -> None:
    key = f"duplicity-full.{FULL}.vol1.difftar.gpg"
    put_keys(s3, bucket, [key], tagging="glacierable=false")

    summary = backfill(s3, bucket)

    assert tags_of(s3, bucket, key) == {"glacierable": "false"}
    assert summary.actions[Action.KEPT] == 1


def test_archive_unknown_archives_unrecognised_files(s3: S3Client, bucket: str) -> None:
    put_keys(s3, bucket, ["notes/readme.txt", f"duplicity-full.{FULL}.manifest"])

    backfill(s3, bucket, archive_unknown=True)

    assert glacierable_tags(s3, bucket) == {
        "notes/readme.txt": "true",
        f"duplicity-full.{FULL}.manifest": "false",
    }


def test_prefix_limits_the_objects_tagged(s3: S3Client, backup: str) -> None:
    summary = backfill(s3, backup, prefix="host1/")

    tags = glacierable_tags(s3, backup)
    assert summary.listed == sum(1 for key in EXPECTED if key.startswith("host1/"))
    assert all(value is not None for key, value in tags.items() if key.startswith("host1/"))
    assert all(value is None for key, value in tags.items() if not key.startswith("host1/"))


def test_dry_run_writes_nothing_and_reports_decisions(s3: S3Client, backup: str) -> None:
    calls = CallCounter(s3)

    summary = backfill(s3, backup, dry_run=True)

    assert calls["PutObjectTagging"] == 0
    assert calls["GetObjectTagging"] == 0
    assert set(glacierable_tags(s3, backup).values()) == {None}
    trues = sum(1 for value in EXPECTED.values() if value == "true")
    assert summary.decisions == {True: trues, False: len(EXPECTED) - trues}
    assert summary.actions[Action.TAGGED] == 0


def test_rerun_makes_no_put_requests(s3: S3Client, backup: str) -> None:
    backfill(s3, backup)
    calls = CallCounter(s3)

    summary = backfill(s3, backup)

    assert calls["PutObjectTagging"] == 0
    assert calls["GetObjectTagging"] == len(EXPECTED)
    assert summary.actions[Action.KEPT] == len(EXPECTED)


def test_failures_are_reported_by_key_and_others_still_tagged(s3: S3Client, backup: str) -> None:
    broken = {f"host1/duplicity-full.{FULL}.vol2.difftar.gpg", "notes/readme.txt"}
    fail_tagging_for(s3, broken)

    summary = backfill(s3, backup, concurrency=4)

    assert not summary.ok
    assert {failure.key for failure in summary.failed} == broken
    assert all("AccessDenied" in failure.error for failure in summary.failed)
    tags = glacierable_tags(s3, backup)
    assert all(tags[key] is None for key in broken)
    assert all(tags[key] == value for key, value in EXPECTED.items() if key not in broken)


def test_a_failing_read_is_reported_too(s3: S3Client, backup: str) -> None:
    fail_tagging_for(s3, {"notes/readme.txt"}, operation="GetObjectTagging")

    summary = backfill(s3, backup)

    assert [failure.key for failure in summary.failed] == ["notes/readme.txt"]


def test_rerun_after_failures_finishes_the_job(s3: S3Client, backup: str, endpoint_url: str) -> None:
    broken = {f"host1/duplicity-full.{FULL}.vol1.difftar.gpg"}
    fail_tagging_for(s3, broken)
    assert not backfill(s3, backup).ok

    healthy = s3_client(endpoint_url=endpoint_url, max_pool_connections=32)
    calls = CallCounter(healthy)
    summary = backfill(healthy, backup)

    assert summary.ok
    assert calls["PutObjectTagging"] == len(broken)
    assert glacierable_tags(s3, backup) == EXPECTED


def test_object_with_ten_tags_is_a_failure(s3: S3Client, bucket: str) -> None:
    key = f"duplicity-full.{FULL}.vol1.difftar.gpg"
    put_keys(s3, bucket, [key], tagging="&".join(f"t{i}=v" for i in range(10)))

    summary = backfill(s3, bucket)

    assert summary.actions[Action.TOO_MANY_TAGS] == 1
    assert [failure.key for failure in summary.failed] == [key]
    assert "10 tags" in summary.failed[0].error


def test_modified_since_in_the_future_touches_nothing(s3: S3Client, backup: str) -> None:
    calls = CallCounter(s3)

    summary = backfill(s3, backup, modified_since=datetime.now(UTC) + timedelta(hours=1))

    assert summary.listed == len(EXPECTED)
    assert summary.skipped == len(EXPECTED)
    assert calls["GetObjectTagging"] == 0


def test_modified_since_in_the_past_tags_recent_objects(s3: S3Client, backup: str) -> None:
    summary = backfill(s3, backup, modified_since=datetime.now(UTC) - timedelta(days=3))

    assert summary.skipped == 0
    assert glacierable_tags(s3, backup) == EXPECTED


def test_naive_modified_since_is_rejected(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        backfill(s3, bucket, modified_since=datetime(2024, 1, 1))


def test_lists_every_page(s3: S3Client, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backfill_module, "_PAGE_SIZE", 4)
    keys = [f"duplicity-full.{FULL}.vol{n}.difftar.gpg" for n in range(1, 12)]
    put_keys(s3, bucket, keys)

    summary = backfill(s3, bucket, concurrency=2)

    assert summary.listed == len(keys)
    assert set(glacierable_tags(s3, bucket).values()) == {"true"}


def test_progress_reaches_the_total(s3: S3Client, backup: str) -> None:
    seen: list[tuple[int, int]] = []

    backfill(s3, backup, on_progress=lambda done, total: seen.append((done, total)))

    assert seen[-1] == (len(EXPECTED), len(EXPECTED))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_missing_bucket_raises_a_clear_error(s3: S3Client) -> None:
    with pytest.raises(BackfillError, match="NoSuchBucket") as caught:
        backfill(s3, "no-such-bucket-for-backfill")

    assert "s3://no-such-bucket-for-backfill/" in str(caught.value)


@pytest.mark.parametrize("concurrency", [0, 513])
def test_concurrency_out_of_range_is_rejected(s3: S3Client, bucket: str, concurrency: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        backfill(s3, bucket, concurrency=concurrency)


def test_client_pool_smaller_than_concurrency_is_rejected(endpoint_url: str, bucket: str) -> None:
    small = s3_client(endpoint_url=endpoint_url, max_pool_connections=4)

    with pytest.raises(ValueError, match="max_pool_connections=4"):
        backfill(small, bucket, concurrency=8)


# --- versioned buckets --------------------------------------------------------------------------------

VOLUME = f"host1/duplicity-full.{FULL}.vol1.difftar.gpg"
MANIFEST = f"host1/duplicity-full.{FULL}.manifest.gpg"


def versions_of(s3: S3Client, bucket: str, key: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v["VersionId"] for v in listed if v["Key"] == key]


def version_tags(s3: S3Client, bucket: str, key: str) -> dict[str, str | None]:
    """The glacierable tag of each version of `key`, by version id."""
    result: dict[str, str | None] = {}
    for version_id in versions_of(s3, bucket, key):
        tag_set = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
        result[version_id] = {t["Key"]: t["Value"] for t in tag_set}.get("glacierable")
    return result


def put_versions(s3: S3Client, bucket: str, key: str, count: int) -> None:
    for n in range(count):
        s3.put_object(Bucket=bucket, Key=key, Body=str(n).encode())


def test_versioned_bucket_tags_every_version_not_only_the_current_one(
    s3: S3Client, versioned_bucket: str
) -> None:
    put_versions(s3, versioned_bucket, VOLUME, 3)
    put_versions(s3, versioned_bucket, MANIFEST, 2)

    summary = backfill(s3, versioned_bucket)

    assert summary.ok
    assert (summary.versioning, summary.listed, summary.noncurrent) == ("Enabled", 5, 3)
    assert list(version_tags(s3, versioned_bucket, VOLUME).values()) == ["true"] * 3
    assert list(version_tags(s3, versioned_bucket, MANIFEST).values()) == ["false"] * 2


def test_versions_written_before_versioning_was_enabled_are_tagged_too(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key=VOLUME, Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=VOLUME, Body=b"after")

    backfill(s3, bucket)

    tags = version_tags(s3, bucket, VOLUME)
    assert "null" in tags  # S3's id for the version written while versioning was off
    assert set(tags.values()) == {"true"}


def test_suspended_versioning_still_tags_every_version(s3: S3Client, versioned_bucket: str) -> None:
    put_versions(s3, versioned_bucket, VOLUME, 2)
    # Suspending keeps the versions already written. (Not exercised: a PUT while suspended, after which
    # moto 5.2.5 lists only the new "null" version where S3 keeps the others.)
    s3.put_bucket_versioning(Bucket=versioned_bucket, VersioningConfiguration={"Status": "Suspended"})

    summary = backfill(s3, versioned_bucket)

    assert (summary.versioning, summary.listed, summary.noncurrent) == ("Suspended", 2, 1)
    assert list(version_tags(s3, versioned_bucket, VOLUME).values()) == ["true"] * 2


def test_delete_markers_are_skipped_and_the_versions_behind_them_tagged(
    s3: S3Client, versioned_bucket: str
) -> None:
    s3.put_object(Bucket=versioned_bucket, Key=VOLUME, Body=b"x")
    s3.delete_object(Bucket=versioned_bucket, Key=VOLUME)  # the volume is now only a noncurrent version
    calls = CallCounter(s3)

    summary = backfill(s3, versioned_bucket)

    assert summary.ok
    assert (summary.listed, summary.noncurrent, summary.delete_markers) == (1, 1, 1)
    assert calls["GetObjectTagging"] == 1  # the version, never the delete marker
    assert list(version_tags(s3, versioned_bucket, VOLUME).values()) == ["true"]


def test_unversioned_bucket_is_listed_without_versions(s3: S3Client, backup: str) -> None:
    calls = CallCounter(s3)

    summary = backfill(s3, backup)

    assert summary.versioning is None
    assert (calls["ListObjectVersions"], calls["ListObjectsV2"]) == (0, 1)
    assert summary.to_dict()["versioning"] is None


def test_rerun_on_a_versioned_bucket_makes_no_put_requests(s3: S3Client, versioned_bucket: str) -> None:
    put_versions(s3, versioned_bucket, VOLUME, 3)
    backfill(s3, versioned_bucket)
    calls = CallCounter(s3)

    summary = backfill(s3, versioned_bucket)

    assert calls["PutObjectTagging"] == 0
    assert summary.actions[Action.KEPT] == 3


def test_dry_run_on_a_versioned_bucket_classifies_every_version(s3: S3Client, versioned_bucket: str) -> None:
    put_versions(s3, versioned_bucket, VOLUME, 2)

    summary = backfill(s3, versioned_bucket, dry_run=True)

    assert summary.decisions == {True: 2, False: 0}
    assert set(version_tags(s3, versioned_bucket, VOLUME).values()) == {None}


def test_modified_since_is_applied_to_each_version(s3: S3Client, versioned_bucket: str) -> None:
    s3.put_object(Bucket=versioned_bucket, Key=VOLUME, Body=b"old")
    # S3 dates versions to the second: start the next version in the next second.
    time.sleep(1.05 - time.time() % 1)
    s3.put_object(Bucket=versioned_bucket, Key=VOLUME, Body=b"new")
    listed = s3.list_object_versions(Bucket=versioned_bucket)["Versions"]
    (new,) = [v for v in listed if v["IsLatest"]]
    (old,) = [v for v in listed if not v["IsLatest"]]
    assert old["LastModified"] < new["LastModified"]

    summary = backfill(s3, versioned_bucket, modified_since=new["LastModified"])

    assert (summary.listed, summary.skipped) == (2, 1)
    assert version_tags(s3, versioned_bucket, VOLUME) == {new["VersionId"]: "true", old["VersionId"]: None}


def test_a_failure_names_the_version(s3: S3Client, versioned_bucket: str) -> None:
    put_versions(s3, versioned_bucket, VOLUME, 2)
    fail_tagging_for(s3, {VOLUME})

    summary = backfill(s3, versioned_bucket)

    assert sorted(f.version_id or "" for f in summary.failed) == sorted(
        versions_of(s3, versioned_bucket, VOLUME)
    )
    assert {f["version_id"] for f in summary.to_dict()["failed"]} == set(
        versions_of(s3, versioned_bucket, VOLUME)
    )


def test_unreadable_versioning_state_is_a_clear_error(s3: S3Client, backup: str) -> None:
    def deny(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, "GetBucketVersioning")

    s3.meta.events.register("before-parameter-build.s3.GetBucketVersioning", deny)

    with pytest.raises(BackfillError, match=r"cannot read the versioning state of s3://.*AccessDenied"):
        backfill(s3, backup)
