"""The restore use case, once: validate → restore time → plan → check → restore id → batches → summary.

The restore Lambda queues the batches for its workers; the CLI and the demo carry them out here with the
workers' own per-batch function; all three then read the same typed summary. Waiting until everything is
readable lives here too, so every caller waits (and re-requests what lapsed) the same way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from glacierable.batches import Batch, split_keys
from glacierable.fanout import map_in_order
from glacierable.key_plan import keys_plan
from glacierable.listing import ListedObject
from glacierable.names import format_time
from glacierable.object_status import (
    StatusReport,
    list_folder,
    listing_reports_restores,
    load_plan,
    plan_from_listing,
    with_head_states,
)
from glacierable.plan import PlanError, RestorePlan
from glacierable.pricing import PricingError, Tier, estimate
from glacierable.restore import RestoreReport, restore_batch
from glacierable.restore_request import RestoreRequest
from glacierable.restore_summary import RestoreSummary
from glacierable.text import first_and_more

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

THREADS_PER_BATCH = 8
"""Local mode runs batches side by side, each with this many threads: one batch's slowest retry (SlowDown
back-off) then no longer holds up the rest, as on AWS where several workers take batches at once."""

Progress = Callable[[int, int], None]
"""Called with (done, total) as requests complete."""


def new_restore_id(now: int) -> str:
    """A restore id that sorts by time and is unique: "20231114T221320Z-1a2b3c4d"."""
    return f"{format_time(now)}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class PreparedRestore:
    """A request checked against its plan: what to restore, under which id, at which time."""

    bucket: str
    request: RestoreRequest
    restore_time: int
    plan: RestorePlan
    restore_id: str

    @property
    def keys(self) -> list[str]:
        """The keys to request: needed, archived, and neither restored nor being restored."""
        return [obj.key for obj in self.plan.to_restore]

    def batches(self, keys: Sequence[str] | None = None) -> list[Batch]:
        """`keys` (default: every key to restore) in the workers' batches."""
        request = self.request
        return split_keys(
            self.restore_id,
            self.bucket,
            self.keys if keys is None else keys,
            tier=request.tier,
            days=request.days,
            expedited_fallback=request.expedited_fallback,
        )

    def summary(self) -> RestoreSummary:
        """Counts, chain, warnings and the bill: what the Lambda returns and the CLI shows."""
        return self.request.summary(
            self.plan, bucket=self.bucket, restore_time=self.restore_time, restore_id=self.restore_id
        )


def prepare(
    client: S3Client,
    bucket: str,
    request: RestoreRequest,
    *,
    now: int,
    restore_id: str | None = None,
) -> PreparedRestore:
    """Plan `request` at `now` from one listing and check the plan; raises PlanError, StatusError or
    RequestError.

    Nothing is read per object (the restore Lambda holds s3:ListBucket only): where the listing reports no
    restore states, every archived needed object is to be requested, and S3's answer to each request (202
    new, 409 in progress, 200 already restored) is its state — one request per object instead of a HEAD
    and a request. The plan then carries a warning saying so.
    """
    restore_time = request.restore_time(now=now)
    plan, unknown = listed_request_plan(client, bucket, request, restore_time)
    if unknown:
        plan = replace(plan, warnings=(*plan.warnings, unknown_states_warning(unknown)))
    request.check_plan(plan)
    return PreparedRestore(bucket, request, restore_time, plan, restore_id or new_restore_id(now))


def listed_request_plan(
    client: S3Client, bucket: str, request: RestoreRequest, restore_time: int
) -> tuple[RestorePlan, int]:
    """`request`'s plan from one listing only (s3:ListBucket), and how many of its objects to restore have
    unknown states (the listing reports none: each is counted as archived with no restore)."""
    if not request.keys:
        listed = plan_from_listing(client, bucket, request.folder, restore_time, request.prefixes)
        return listed.plan, len(listed.unknown_states)
    objects, folder = _listed_keys(client, bucket, request)
    plan = keys_plan(objects, restore_time)
    return plan, 0 if listing_reports_restores(client, folder) else len(plan.to_restore)


def load_request_plan(
    client: S3Client, bucket: str, request: RestoreRequest, restore_time: int, *, concurrency: int
) -> RestorePlan:
    """What `request` needs now, with every needed object's restore state: for status and waiting.

    The restore point at `restore_time`, or exactly its `keys` (from duplicity's own dry run, which knows
    every option duplicity has), read from one listing and HEADed where the listing is silent. (Requesting
    needs no HEAD: `prepare` plans from the listing alone.)
    """
    if not request.keys:
        return load_plan(
            client, bucket, request.folder, restore_time, request.prefixes, concurrency=concurrency
        )
    objects, folder = _listed_keys(client, bucket, request)
    if not listing_reports_restores(client, folder):
        updated = with_head_states(client, bucket, objects, concurrency=concurrency)
        objects = [updated.get(obj.key, obj) for obj in objects]
    return keys_plan(objects, restore_time)


def _listed_keys(
    client: S3Client, bucket: str, request: RestoreRequest
) -> tuple[list[ListedObject], list[ListedObject]]:
    """The request's keys as one listing of their folder shows them, and everything that listing holds."""
    listed = {obj.key: obj for obj in list_folder(client, bucket, request.folder)}
    missing = [key for key in request.keys if key not in listed]
    if missing:
        raise PlanError(
            f"{len(missing)} of the {len(request.keys)} keys to restore are not in "
            f"s3://{bucket}/{request.folder}: {first_and_more(missing, MAX_KEYS_NAMED)}"
        )
    return [listed[key] for key in request.keys], list(listed.values())


MAX_KEYS_NAMED = 5


def unknown_states_warning(count: int) -> str:
    """What a plan from a listing without restore states says about its `count` objects to restore."""
    return (
        f"this endpoint's listing reports no restore states: all {count} archived object(s) needed are "
        "requested, and S3's answers tell new restores from those already in progress or restored "
        "(counts and cost here include them all)"
    )


def request_batches(
    client: S3Client,
    batches: Sequence[Batch],
    *,
    concurrency: int,
    on_progress: Progress | None = None,
) -> RestoreReport:
    """Carry out `batches` from here with the workers' per-batch function, several side by side."""
    report = RestoreReport()
    if not batches:
        return report
    total = sum(len(batch.keys) for batch in batches)
    side_by_side = max(1, min(len(batches), concurrency // THREADS_PER_BATCH))
    per_batch = max(1, concurrency // side_by_side)
    lock = threading.Lock()
    done_by_batch = [0] * len(batches)

    def run(index: int) -> RestoreReport:
        def progress(done: int, _batch_total: int) -> None:
            with lock:
                done_by_batch[index] = done
                sent = sum(done_by_batch)
            if on_progress is not None:
                on_progress(sent, total)

        return restore_batch(client, batches[index], concurrency=per_batch, on_progress=progress)

    try:
        for batch_report in map_in_order(run, range(len(batches)), concurrency=side_by_side, name="batch"):
            report.merge(batch_report)
    except KeyboardInterrupt:
        # Batches under way have finished (S3 took their requests); the rest never started.
        with lock:
            sent = sum(done_by_batch)
        raise RestoreInterrupted(sent, total) from None
    return report


class RestoreInterrupted(KeyboardInterrupt):
    """Ctrl-C while requesting: `sent` of `total` requests went out; a rerun requests only the rest."""

    def __init__(self, sent: int, total: int) -> None:
        super().__init__(f"{sent} of {total} restore requests sent")
        self.sent = sent
        self.total = total


@dataclass(frozen=True, slots=True)
class Poll:
    """One look at a restore while waiting: the plan now, its states, and what was requested again."""

    plan: RestorePlan
    status: StatusReport
    requested_again: tuple[str, ...] = ()
    report: RestoreReport = field(default_factory=RestoreReport)


@dataclass(frozen=True, slots=True)
class RestorePoint:
    """What a wait follows: a request's backup at its pinned restore time, in one bucket."""

    bucket: str
    request: RestoreRequest
    restore_time: int


def wait_until_readable(
    client: S3Client,
    point: RestorePoint,
    *,
    interval: float,
    concurrency: int,
    on_poll: Callable[[Poll], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StatusReport:
    """Poll the needed objects until duplicity can read all of them.

    A needed object found archived with no restore (its copy expired while waiting, or its request was
    lost) is requested again: the restore needs it, and waiting for it otherwise would never end. A
    re-request that fails raises RequestAgainFailed with its report.
    """
    bucket, request, restore_time = point.bucket, point.request, point.restore_time
    while True:
        plan = load_request_plan(client, bucket, request, restore_time, concurrency=concurrency)
        status = StatusReport.of(plan)
        lapsed = () if status.all_readable else tuple(obj.key for obj in plan.to_restore)
        report = RestoreReport()
        if lapsed:
            again = PreparedRestore(bucket, request, restore_time, plan, new_restore_id(int(time.time())))
            report = request_batches(client, again.batches(lapsed), concurrency=concurrency)
        if on_poll is not None:
            on_poll(Poll(plan, status, lapsed, report))
        if not report.ok:
            raise RequestAgainFailed(report)
        if status.all_readable:
            return status
        sleep(interval)


class RequestAgainFailed(RuntimeError):
    """While waiting, objects that had lapsed could not be requested again."""

    def __init__(self, report: RestoreReport) -> None:
        super().__init__(f"{len(report.failed)} object(s) could not be requested again")
        self.report = report


def hours_range(plan: RestorePlan, tier: Tier) -> tuple[float, float] | None:
    """The documented time range of the restores still outstanding in `plan` with `tier` (None: none)."""
    ranges = []
    for storage_class in {obj.storage_class for obj in plan.needed if obj.archived and not obj.readable}:
        try:
            rate = estimate(storage_class, tier, 0, 0)
        except PricingError:
            rate = estimate(storage_class, Tier.STANDARD, 0, 0)  # Expedited fell back, or was never offered
        ranges.append((rate.hours_min, rate.hours_max))
    if not ranges:
        return None
    return max(low for low, _ in ranges), max(high for _, high in ranges)


def longest_hours(plan: RestorePlan, request: RestoreRequest) -> float:
    """The documented longest time of `plan`'s outstanding restores with `request`'s tier (0: none), or with
    Standard where an Expedited request may fall back to it."""
    tiers = [request.tier]
    if request.tier is Tier.EXPEDITED and request.expedited_fallback:
        tiers.append(Tier.STANDARD)
    return max((span[1] for span in (hours_range(plan, tier) for tier in tiers) if span), default=0.0)
