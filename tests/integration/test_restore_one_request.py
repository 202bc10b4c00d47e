"""Requesting a restore costs one request per object: the listing's states where it has them, S3's answers
where it has not (202 new, 409 in progress, 200 already restored), never a HEAD first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from glacierable.clients import s3_client
from glacierable.object_status import load_plan
from glacierable.restore import RestoreReport
from glacierable.restore_flow import PreparedRestore, prepare, request_batches, unknown_states_warning
from glacierable.restore_request import RestoreRequest
from glacierable_dev.emulator import MotoServer
from tests.integration.test_restore import (
    count_operations,
    hold_restores_in_progress,
    list_restore_states_like_aws,
    refuse_restores_in_progress_like_aws,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOW = 1_800_000_000
FOLDER = "backups/host1/"
FULL = "20231110T000000Z"
VOLUMES = 40


@pytest.fixture
def archived_backup(s3: S3Client, bucket: str) -> tuple[str, ...]:
    """One full backup of VOLUMES archived volumes; its manifest and signatures readable."""
    volumes = tuple(f"{FOLDER}duplicity-full.{FULL}.vol{n}.difftar.gpg" for n in range(1, VOLUMES + 1))
    for key in volumes:
        s3.put_object(Bucket=bucket, Key=key, Body=b"v", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key=f"{FOLDER}duplicity-full.{FULL}.manifest.gpg", Body=b"m")
    s3.put_object(Bucket=bucket, Key=f"{FOLDER}duplicity-full-signatures.{FULL}.sigtar.gpg", Body=b"s")
    return volumes


@pytest.fixture
def client(endpoint_url: str) -> S3Client:
    """A client of its own, so that each test's hooks and counts see only its requests."""
    return s3_client(endpoint_url=endpoint_url, max_pool_connections=32)


@pytest.fixture
def keep_ongoing(moto_server: MotoServer) -> Iterator[Callable[[int], None]]:
    yield moto_server.keep_restores_ongoing
    moto_server._post("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})


def request() -> RestoreRequest:
    return RestoreRequest.from_json({"prefix": FOLDER}, now=NOW)


@dataclass(frozen=True)
class Run:
    prepared: PreparedRestore
    report: RestoreReport
    calls: Counter[str]
    """Every S3 call the run made, by operation."""


def restore(client: S3Client, bucket: str) -> Run:
    """Plan and request as the CLI's local mode does, and the workers per batch."""
    calls = count_operations(client)
    prepared = prepare(client, bucket, request(), now=NOW)
    report = request_batches(client, prepared.batches(), concurrency=16)
    assert report.ok
    return Run(prepared, report, calls)


def test_planning_from_a_listing_without_restore_states_reads_no_object(
    client: S3Client, bucket: str, archived_backup: tuple[str, ...]
) -> None:
    calls = count_operations(client)
    prepared = prepare(client, bucket, request(), now=NOW)
    assert calls == Counter({"ListObjectsV2": 1})
    assert prepared.keys == list(archived_backup)
    assert unknown_states_warning(VOLUMES) in prepared.summary().warnings


def test_restoring_n_archived_objects_costs_one_request_each_instead_of_two(
    client: S3Client, bucket: str, archived_backup: tuple[str, ...]
) -> None:
    # Before: the plan HEADed each archived object the listing was silent about, then requested it.
    before = count_operations(client)
    load_plan(client, bucket, FOLDER, NOW)
    assert before == Counter({"ListObjectsV2": 1, "HeadObject": VOLUMES})

    run = restore(client, bucket)
    report, calls = run.report, run.calls
    assert calls == Counter({"ListObjectsV2": 1, "RestoreObject": VOLUMES})
    assert (len(report.requested), report.extended, report.in_progress) == (VOLUMES, [], [])


def test_a_rerun_after_the_restores_completed_is_answered_already_restored(
    client: S3Client, bucket: str, archived_backup: tuple[str, ...]
) -> None:
    restore(client, bucket)
    run = restore(client, bucket)
    report, calls = run.report, run.calls
    # S3's 200: each copy's expiry moves, no second retrieval starts.
    assert sorted(report.extended) == sorted(archived_backup)
    assert (report.requested, report.in_progress) == ([], [])
    assert calls == Counter({"ListObjectsV2": 1, "RestoreObject": VOLUMES})


def test_a_rerun_while_the_restores_run_is_answered_in_progress(
    client: S3Client,
    s3: S3Client,
    bucket: str,
    archived_backup: tuple[str, ...],
    moto_server: MotoServer,
    keep_ongoing: Callable[[int], None],
) -> None:
    refuse_restores_in_progress_like_aws(client, truth=s3)  # moto itself answers 200 even while ongoing
    restore(client, bucket)
    hold_restores_in_progress(moto_server, s3, bucket, archived_backup)
    run = restore(client, bucket)
    report, calls = run.report, run.calls
    assert sorted(report.in_progress) == sorted(archived_backup)
    assert (report.requested, report.extended) == ([], [])
    assert calls == Counter({"ListObjectsV2": 1, "RestoreObject": VOLUMES})


def test_where_the_listing_reports_restore_states_a_rerun_requests_nothing(
    client: S3Client, s3: S3Client, bucket: str, archived_backup: tuple[str, ...]
) -> None:
    list_restore_states_like_aws(client, truth=s3)
    restore(client, bucket)
    run = restore(client, bucket)
    prepared, calls = run.prepared, run.calls
    assert prepared.keys == []
    assert prepared.summary().warnings == ()
    assert calls == Counter({"ListObjectsV2": 1})


def test_a_partly_restored_backup_requests_only_the_rest_where_the_listing_says(
    client: S3Client, s3: S3Client, bucket: str, archived_backup: tuple[str, ...]
) -> None:
    list_restore_states_like_aws(client, truth=s3)
    first = archived_backup[:10]
    for key in first:
        s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": 1})
    run = restore(client, bucket)
    prepared, calls = run.prepared, run.calls
    assert prepared.keys == list(archived_backup[10:])
    assert calls == Counter({"ListObjectsV2": 1, "RestoreObject": VOLUMES - 10})
