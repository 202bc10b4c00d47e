"""Restore states of the objects a restore needs: from the listing where it has them, else by HEAD."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from glacierable.clients import s3_client
from glacierable.object_status import (
    State,
    StatusError,
    StatusReport,
    list_folder,
    listing_reports_restores,
    load_plan,
)
from glacierable.pricing import Tier
from glacierable.restore import request_restores
from glacierable.timespec import parse_time
from glacierable_dev.emulator import MotoServer
from tests.integration.test_restore import BETWEEN_CHAINS, T3, T4, client_error, upload_two_chains

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOW = 1_800_000_000


def count_calls(client: S3Client, operation: str) -> Counter[str]:
    calls: Counter[str] = Counter()

    def on_call(params: dict[str, Any], **_: Any) -> None:
        calls[params["Key"]] += 1

    client.meta.events.register(f"before-parameter-build.s3.{operation}", on_call)
    return calls


@pytest.fixture
def keep_ongoing(moto_server: MotoServer) -> Iterator[Callable[[int], None]]:
    yield moto_server.keep_restores_ongoing
    # The state manager is server-wide: later tests expect restores to complete at once again.
    moto_server._post("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})


def test_listing_skips_sub_folders_and_other_prefixes(s3: S3Client, bucket: str) -> None:
    for key in ("b/h/one", "b/h/two", "b/h/sub/three", "b/h2/four", "b/other"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert [obj.key for obj in list_folder(s3, bucket, "b/h/")] == ["b/h/one", "b/h/two"]


def test_listing_of_a_missing_bucket_is_a_status_error(s3: S3Client) -> None:
    with pytest.raises(StatusError, match="NoSuchBucket"):
        list_folder(s3, "no-such-bucket-here", "")


def test_moto_listing_is_not_trusted_for_restore_states(s3: S3Client, bucket: str) -> None:
    upload_two_chains(s3, bucket)
    assert not listing_reports_restores(s3, list_folder(s3, bucket, "backups/host1/"))


def test_new_archived_volumes_are_archived(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)
    plan = load_plan(s3, bucket, backup.folder, NOW)
    status = StatusReport.of(plan)
    assert [obj.key for obj in status.objects] == list(backup.new_chain)
    assert status.counts() == {"archived": 3, "restoring": 0, "restored": 0, "readable": 0}
    assert not status.all_readable


def test_only_the_needed_archived_objects_are_headed(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)
    heads = count_calls(s3, "HeadObject")
    load_plan(s3, bucket, backup.folder, NOW)
    assert heads == Counter(dict.fromkeys(backup.new_chain, 1))


def test_older_time_selects_the_older_chain(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)
    plan = load_plan(s3, bucket, backup.folder, parse_time(BETWEEN_CHAINS, now=NOW))
    assert plan.volumes == list(backup.old_chain)


def test_restored_volumes_are_restored_with_an_expiry(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)
    request_restores(s3, bucket, backup.new_chain, tier=Tier.STANDARD, days=3)
    status = StatusReport.of(load_plan(s3, bucket, backup.folder, NOW))
    assert status.counts()["restored"] == 3
    assert status.all_readable
    assert status.earliest_expiry is not None and status.earliest_expiry > datetime.now(UTC)


def test_status_moves_from_restoring_to_restored(
    s3: S3Client, bucket: str, keep_ongoing: Callable[[int], None]
) -> None:
    backup = upload_two_chains(s3, bucket)
    keep_ongoing(3)
    request_restores(s3, bucket, backup.new_chain, tier=Tier.STANDARD, days=3)
    seen = []
    for _ in range(6):
        status = StatusReport.of(load_plan(s3, bucket, backup.folder, NOW))
        seen.append(status.counts()["restoring"])
        if status.all_readable:
            break
    assert seen[0] == 3
    assert status.all_readable and status.counts()["restored"] == 3


def test_per_object_json_names_each_state(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)
    request_restores(s3, bucket, backup.new_chain[:1], tier=Tier.STANDARD, days=3)
    document = StatusReport.of(load_plan(s3, bucket, backup.folder, NOW)).to_json(per_object=True)
    states = {obj["key"]: obj["state"] for obj in document["objects"]}  # type: ignore[attr-defined]
    assert states == {
        backup.new_chain[0]: "restored",
        backup.new_chain[1]: "archived",
        backup.new_chain[2]: "archived",
    }


def test_head_failure_other_than_missing_is_a_status_error(s3: S3Client, bucket: str) -> None:
    backup = upload_two_chains(s3, bucket)

    def deny(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == backup.new_chain[0]:
            raise client_error("AccessDenied", 403, "HeadObject")

    s3.meta.events.register("before-parameter-build.s3.HeadObject", deny)
    with pytest.raises(StatusError, match=f"{backup.new_chain[0]}.*AccessDenied"):
        load_plan(s3, bucket, backup.folder, NOW)


# --- the RestoreStatus path (AWS), with canned pages: moto never sends RestoreStatus -------------------

VOLUMES = [f"b/duplicity-full.{T3}.vol{n}.difftar.gpg" for n in (1, 2, 3)]
INC = f"b/duplicity-inc.{T3}.to.{T4}.vol1.difftar.gpg"
EXPIRY = datetime(2031, 1, 2, tzinfo=UTC)


def aws_client() -> S3Client:
    return s3_client(endpoint_url="https://s3.us-east-1.amazonaws.com")


def entry(key: str, storage_class: str = "GLACIER", status: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"Key": key, "Size": 10, "StorageClass": storage_class}
    if status is not None:
        item["RestoreStatus"] = status
    return item


def expected_list(token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Bucket": "bkt",
        "Prefix": "b/",
        "Delimiter": "/",
        "OptionalObjectAttributes": ["RestoreStatus"],
        "MaxKeys": 1000,
    }
    if token:
        params["ContinuationToken"] = token
    return params


def test_restore_status_from_the_listing_needs_no_head() -> None:
    client = aws_client()
    pages = [
        {
            "Contents": [
                entry(VOLUMES[0], status={"IsRestoreInProgress": True}),
                entry(VOLUMES[1], status={"IsRestoreInProgress": False, "RestoreExpiryDate": EXPIRY}),
                entry(VOLUMES[2]),
            ],
            "IsTruncated": True,
            "NextContinuationToken": "t2",
        },
        {
            "Contents": [
                entry(INC, "STANDARD"),
                entry(f"b/duplicity-full.{T3}.manifest.gpg", "STANDARD"),
                entry(f"b/duplicity-inc.{T3}.to.{T4}.manifest.gpg", "STANDARD"),
                entry(f"b/duplicity-full-signatures.{T3}.sigtar.gpg", "STANDARD"),
            ],
            "IsTruncated": False,
        },
    ]
    with Stubber(client) as stub:
        stub.add_response("list_objects_v2", pages[0], expected_list())
        stub.add_response("list_objects_v2", pages[1], expected_list("t2"))
        # Any HeadObject would fail: the stubber has no response queued for it.
        plan = load_plan(client, "bkt", "b/", NOW)
        stub.assert_no_pending_responses()
    states = [(obj.key, obj.state, obj.expiry) for obj in StatusReport.of(plan).objects]
    assert states == [
        (VOLUMES[0], State.RESTORING, None),
        (VOLUMES[1], State.RESTORED, EXPIRY),
        (VOLUMES[2], State.ARCHIVED, None),
        (INC, State.READABLE, None),
    ]
    assert [obj.key for obj in plan.to_restore] == [VOLUMES[2]]


def test_aws_endpoint_listing_is_trusted_even_without_any_restore_status() -> None:
    assert listing_reports_restores(aws_client(), [])
