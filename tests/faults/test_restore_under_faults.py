"""Restores of archived volumes through SlowDown, InternalError and dropped connections.

Planning lists the folder and HEADs each archived volume (moto's listing has no restore status); the
requests go out batch by batch through `restore_batch`, as the workers and the CLI's local mode send them,
all through the fault proxy. In the end every volume the chain needs has a restore, nothing else has one,
and no key got a second request after S3 had answered the first.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from glacierable.batches import split_keys
from glacierable.clients import s3_client
from glacierable.object_status import StatusError, load_plan
from glacierable.pricing import Tier
from glacierable.restore import RestoreReport, restore_batch
from glacierable_cli.main import main
from glacierable_dev.fault_proxy import Fate, LatencyProxy
from tests.faults import ISSUE_FAULTS, keys_of, put_objects, restore_headers, unanswered

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FOLDER = "backups/host1/"
OLD = ("20231101T000000Z", "20231102T000000Z")
NEW = ("20231110T000000Z", "20231111T000000Z", "20231112T000000Z", "20231113T000000Z", "20231114T000000Z")
LATER = 2_000_000_000  # a restore time after every backup: the newest chain
WORKERS = 4  # batches restored at once, as concurrent worker invocations would
PER_WORKER = 8


def chain(times: tuple[str, ...], full_volumes: int, inc_volumes: int) -> tuple[list[str], list[str]]:
    """Volumes and metadata of one chain: a full at times[0], an incremental to each later time."""
    sets = [(f"full.{times[0]}", full_volumes, f"full-signatures.{times[0]}")]
    sets += [
        (f"inc.{start}.to.{end}", inc_volumes, f"new-signatures.{start}.to.{end}")
        for start, end in itertools.pairwise(times)
    ]
    volumes = [
        f"{FOLDER}duplicity-{stem}.vol{n}.difftar.gpg" for stem, count, _ in sets for n in range(1, count + 1)
    ]
    metadata = [f"{FOLDER}duplicity-{stem}.manifest.gpg" for stem, _, _ in sets]
    metadata += [f"{FOLDER}duplicity-{signatures}.sigtar.gpg" for _, _, signatures in sets]
    return volumes, metadata


def upload(s3: S3Client, bucket: str, full_volumes: int, inc_volumes: int) -> tuple[list[str], list[str]]:
    """An old chain nobody needs and a new one, volumes archived; returns both chains' volumes, new first."""
    old_volumes, old_metadata = chain(OLD, 100, 50)
    needed, new_metadata = chain(NEW, full_volumes, inc_volumes)
    put_objects(s3, bucket, [*old_volumes, *needed], storage_class="GLACIER")
    put_objects(s3, bucket, [*old_metadata, *new_metadata])
    return needed, old_volumes


def fan_out(client: S3Client, bucket: str, *, first: bool = False) -> RestoreReport:
    """Plan, split into batches and restore them, WORKERS batches at once; StatusError if planning failed.

    The `first` run trusts the listing, as on AWS, whose listings carry the restore status: nothing was
    restored yet, so it saves moto one HEAD per volume. Reruns HEAD, moto's listings being silent.
    """
    plan = load_plan(client, bucket, FOLDER, LATER, concurrency=32, trust_listing=True if first else None)
    batches = split_keys("r1", bucket, (obj.key for obj in plan.to_restore), tier=Tier.BULK, days=3)
    report = RestoreReport()
    with ThreadPoolExecutor(max_workers=WORKERS) as workers:
        for one in workers.map(lambda batch: restore_batch(client, batch, concurrency=PER_WORKER), batches):
            report.merge(one)
    return report


def assert_right_in_s3(
    s3: S3Client, proxy: LatencyProxy, bucket: str, needed: list[str], old: list[str]
) -> None:
    """Restores exist for exactly the needed keys, and none was asked for again once S3 had answered."""
    headers = restore_headers(s3, bucket, [*needed, *old])
    assert {key for key, header in headers.items() if header is not None} == set(needed)
    assert keys_of(proxy.reached("RestoreObject"), bucket) == set(needed)
    answered = [
        h.path for h in proxy.handled() if h.operation == "RestoreObject" and h.fate is Fate.FORWARDED
    ]
    assert len(answered) == len(set(answered)), "a key was requested again after S3 had answered"


def not_restored(s3: S3Client, bucket: str, keys: list[str]) -> set[str]:
    return {key for key, header in restore_headers(s3, bucket, keys).items() if header is None}


def assert_reported_exactly(reported: set[str], left: set[str], proxy: LatencyProxy, bucket: str) -> None:
    """Every key without a restore is reported; any other was carried out by S3 but never answered."""
    assert left <= reported, f"no restore in S3 but not reported: {sorted(left - reported)}"
    assert reported - left <= unanswered(proxy, bucket, "RestoreObject")


def test_fan_out_of_2000_volumes_requests_each_needed_one_once_or_reports_the_rest(
    fault_proxy: LatencyProxy, faulty_s3: S3Client, s3: S3Client, bucket: str
) -> None:
    needed, old = upload(s3, bucket, full_volumes=1200, inc_volumes=200)
    assert len(needed) == 2000
    fault_proxy.settings = ISSUE_FAULTS

    try:
        report: RestoreReport | None = fan_out(faulty_s3, bucket, first=True)
    except StatusError:  # planning ran out of retries: nothing was requested, the rerun does it all
        report = None

    print(f"\nfirst run: counts {dict(fault_proxy.counts())}")
    assert all(fault_proxy.counts()[fate] for fate in Fate if fate is not Fate.BAD_GATEWAY)
    if report is None or not report.ok:
        if report is not None:
            reported = {failure.key for failure in report.failed}
            assert_reported_exactly(reported, not_restored(s3, bucket, needed), fault_proxy, bucket)
        assert fan_out(faulty_s3, bucket).ok
    else:
        assert len(report.requested) + len(report.extended) == len(needed)
    assert_right_in_s3(s3, fault_proxy, bucket, needed, old)


def test_when_retries_run_out_the_unrequested_keys_are_reported_and_a_rerun_finishes(
    fault_proxy: LatencyProxy, faulty_s3: S3Client, s3: S3Client, bucket: str
) -> None:
    needed, old = upload(s3, bucket, full_volumes=200, inc_volumes=50)
    fault_proxy.settings = ISSUE_FAULTS
    # No retries instead of glacierable.clients' eight, so that some
    # requests fail for good.
    stingy = s3_client(endpoint_url=fault_proxy.url, max_pool_connections=32, max_attempts=1)
    plan = load_plan(faulty_s3, bucket, FOLDER, LATER)  # planned with retries: only the requests are stingy
    batches = split_keys("r1", bucket, (obj.key for obj in plan.to_restore), tier=Tier.BULK, days=3)

    report = RestoreReport()
    for batch in batches:
        report.merge(restore_batch(stingy, batch))

    reported = {failure.key for failure in report.failed}
    assert reported, "with one attempt some requests should have failed: the fault mix is too gentle"
    assert_reported_exactly(reported, not_restored(s3, bucket, needed), fault_proxy, bucket)
    assert fan_out(faulty_s3, bucket).ok
    assert_right_in_s3(s3, fault_proxy, bucket, needed, old)


def test_cli_restore_exits_non_zero_naming_what_is_left_and_a_rerun_completes_it(
    fault_proxy: LatencyProxy, s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    needed, old = upload(s3, bucket, full_volumes=150, inc_volumes=25)
    fault_proxy.settings = ISSUE_FAULTS

    runs: list[tuple[int, set[str] | None]] = []
    while not runs or runs[-1][0] != 0:
        assert len(runs) < 3, f"two reruns did not finish the restore: {runs}"
        code, reported = run_cli(fault_proxy.url, bucket, capsys)
        if reported is not None:
            assert_reported_exactly(reported, not_restored(s3, bucket, needed), fault_proxy, bucket)
        assert (code == 0) == (reported == set())
        runs.append((code, reported))

    assert_right_in_s3(s3, fault_proxy, bucket, needed, old)


def run_cli(url: str, bucket: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, set[str] | None]:
    """`glacierable restore --json` through the proxy: exit code and the keys it reported as failed.

    None for the keys when planning failed (a listing or HEAD that ran out of retries): nothing was requested.
    """
    options = ["--bucket", bucket, "--prefix", FOLDER, "--tier", "bulk", "--days", "3", "--endpoint-url", url]
    code = main(["restore", *options, "--json"])
    out, err = capsys.readouterr()
    if not out.strip():
        assert code == 1 and "glacierable restore: error:" in err
        return code, None
    summary = json.loads(out)
    return code, {failure["key"] for failure in summary["requests"]["failed"]}
