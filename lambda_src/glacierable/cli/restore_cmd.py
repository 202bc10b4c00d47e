"""`glacierable plan | restore | status`: what a restore needs, requesting it, and watching it thaw.

`restore` runs locally by default, with the same planner and per-batch function as the restore Lambda and
its workers; `--function NAME` invokes the deployed restore Lambda instead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glacierable.backfill import describe_error
from glacierable.batches import Batch, split_keys
from glacierable.cli import main
from glacierable.clients import s3_client
from glacierable.listing import ListingError
from glacierable.names import format_time
from glacierable.object_status import State, StatusError, StatusReport, load_plan
from glacierable.plan import DuplicityPrefixes, PlanError, RestorePlan
from glacierable.pricing import GIB, PRICES_DATE, PRICES_REGION, PricingError, Tier, estimate, tiers_for
from glacierable.progress import ProgressBar
from glacierable.restore import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, RestoreReport, restore_batch
from glacierable.restore_request import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, RequestError, RestoreRequest
from glacierable.timespec import ACCEPTED_FORMS

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

DEFAULT_INTERVAL = 60.0
MAX_FAILURES_SHOWN = 20
LAMBDA_READ_TIMEOUT = 960  # longer than a Lambda's 15 minutes: a timed-out read would invoke it again
TARGET_PLACEHOLDER = "<target-dir>"

_PREFIX_OPTIONS = (
    ("--file-prefix", "file_prefix"),
    ("--file-prefix-archive", "file_prefix_archive"),
    ("--file-prefix-manifest", "file_prefix_manifest"),
    ("--file-prefix-signature", "file_prefix_signature"),
    ("--file-prefix-jsonstat", "file_prefix_jsonstat"),
)


_OUTCOME_LABELS = {
    "requested": "requested",
    "extended": "expiry extended",
    "in_progress": "already restoring",
    "not_archived": "not archived",
    "failed": "failed",
}


class CommandError(Exception):
    """A failure worth one line on stderr and exit code 1 (not a usage error)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `plan`, `restore` and `status`."""
    plan = subparsers.add_parser(
        "plan",
        help="show what a restore at a time needs and what it would cost",
        description="List the objects `duplicity restore -t TIME` reads and which must be restored first.",
    )
    _add_selection(plan)
    plan.add_argument("--json", action="store_true", help="print one JSON object (keys, chain, estimates)")
    plan.set_defaults(func=_guarded(run_plan, "plan"))

    restore = subparsers.add_parser(
        "restore",
        help="request restores of exactly what duplicity will read",
        description=(
            "Plan the restore, then request every archived object it needs (from this machine, or with "
            "--function through the deployed restore Lambda). Safe to rerun: objects already restored or "
            "being restored are not requested again."
        ),
    )
    _add_selection(restore, bucket_required=False)
    restore.add_argument(
        "--tier",
        default=Tier.STANDARD.value,
        help="retrieval tier: Standard (default), Bulk or Expedited (not for DEEP_ARCHIVE)",
    )
    restore.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"days the restored copies stay readable, {MIN_DAYS}..{MAX_DAYS} (default: {DEFAULT_DAYS})",
    )
    restore.add_argument("--dry-run", action="store_true", help="plan and estimate, request nothing")
    restore.add_argument(
        "--expedited-fallback",
        action="store_true",
        help="when Expedited capacity is not available, request Standard instead",
    )
    restore.add_argument(
        "--function",
        metavar="NAME",
        default=None,
        help="invoke this deployed restore Lambda instead of requesting from here (it fixes the bucket)",
    )
    restore.add_argument(
        "--wait",
        action="store_true",
        help="poll until every needed object is readable, then print the duplicity command",
    )
    restore.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"seconds between polls with --wait (default: {DEFAULT_INTERVAL:.0f})",
    )
    restore.add_argument("--json", action="store_true", help="print the summary as JSON")
    restore.set_defaults(func=_guarded(run_restore, "restore"))

    status = subparsers.add_parser(
        "status",
        help="show the restore state of every object a restore needs",
        description="Counts per state (archived, restoring, restored, readable) of the needed objects.",
    )
    _add_selection(status)
    status.add_argument("--json", action="store_true", help="print counts and every object's state as JSON")
    status.set_defaults(func=_guarded(run_status, "status"))


def _add_selection(parser: argparse.ArgumentParser, *, bucket_required: bool = True) -> None:
    parser.add_argument(
        "--bucket",
        required=bucket_required,
        default=None,
        help="the bucket duplicity backs up to" + ("" if bucket_required else " (not with --function)"),
    )
    parser.add_argument(
        "--prefix",
        default=None,
        help="the backup's folder, as in duplicity's URL boto3+s3://BUCKET/PREFIX (default: bucket root)",
    )
    parser.add_argument(
        "--time", "-t", default="now", help=f"restore time, as duplicity's -t ({ACCEPTED_FORMS})"
    )
    for option, dest in _PREFIX_OPTIONS:
        parser.add_argument(option, dest=dest, default=None, metavar="PREFIX", help=f"duplicity's {option}")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"S3 requests at once, 1..{MAX_CONCURRENCY} (default: {DEFAULT_CONCURRENCY})",
    )
    main.add_endpoint_option(parser)


def _guarded(run: Callable[[argparse.Namespace], int], command: str) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CommandError as error:
            print(f"glacierable {command}: error: {error}", file=sys.stderr)
            return 1

    return guarded


# --- plan -----------------------------------------------------------------------------------------


def run_plan(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = _request(args, now)
    client = _s3(args)
    restore_time = request.restore_time(now=now)
    plan = _load(client, args.bucket, request, restore_time, args.concurrency)
    if args.json:
        document = {
            "bucket": args.bucket,
            "prefix": request.folder,
            "time": request.time,
            **plan.to_json(),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(format_plan(args.bucket, request, plan))
    return 0


def format_plan(bucket: str, request: RestoreRequest, plan: RestorePlan) -> str:
    """The human plan: the chain, the counts and bytes, and an estimate per tier."""
    chain = plan.chain
    to_restore = plan.to_restore
    incs = chain.incremental_times
    chain_text = f"full {format_time(chain.full_time)}" + (
        f" + {len(incs)} incremental(s) to {format_time(incs[-1])}" if incs else ""
    )
    rows: list[tuple[str, str]] = [
        ("backup", _url(bucket, request.folder)),
        ("restore time", f"{format_time(chain.restore_time)} ({request.time})"),
        ("chain", chain_text),
    ]
    if chain.later_incremental_times:
        rows.append(("not used", f"{len(chain.later_incremental_times)} later incremental(s) of this chain"))
    rows += [
        ("data volumes", f"{chain.volume_count} ({_size(chain.volume_bytes)})"),
        ("needed", f"{len(plan.needed)} objects ({_size(sum(o.size for o in plan.needed))})"),
        ("readable", str(len(plan.readable))),
        ("in progress", str(len(plan.in_progress))),
        ("to restore", f"{len(to_restore)} objects ({_size(sum(o.size for o in to_restore))})"),
    ]
    classes = {obj.storage_class for obj in to_restore}
    for tier in Tier:
        if to_restore and all(tier in tiers_for(cls) for cls in classes):
            estimates = plan.estimate(tier)
            cost = sum(e.cost_usd for e in estimates)
            hours = max(e.hours_max for e in estimates)
            low = max(e.hours_min for e in estimates)
            rows.append((tier.value.lower(), f"~${cost:,.2f}, {_hours(low, hours)}"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    if to_restore:
        lines.append(f"(approximate {PRICES_REGION} prices of {PRICES_DATE}; see aws.amazon.com/s3/pricing)")
    lines += [f"warning: {warning}" for warning in plan.warnings]
    return "\n".join(lines)


# --- status ---------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = _request(args, now)
    client = _s3(args)
    restore_time = request.restore_time(now=now)
    status = StatusReport.of(_load(client, args.bucket, request, restore_time, args.concurrency))
    if args.json:
        document = {"bucket": args.bucket, "prefix": request.folder, "restore_time": restore_time}
        print(json.dumps({**document, **status.to_json(per_object=True)}, indent=2, ensure_ascii=False))
    else:
        print(format_status(status))
    return 0


def format_status(status: StatusReport) -> str:
    """Counts per state, and what to do next."""
    counts = status.counts()
    rows = [(state.value, str(counts[state.value])) for state in State]
    rows.append(("total", str(len(status.objects))))
    expiry = status.earliest_expiry
    if expiry is not None:
        rows.append(("first expiry", expiry.isoformat()))
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    if status.all_readable:
        lines.append("every needed object is readable: duplicity can restore now")
    elif counts[State.ARCHIVED.value]:
        lines.append(f"{counts[State.ARCHIVED.value]} needed objects are archived: run `glacierable restore`")
    return "\n".join(lines)


# --- restore --------------------------------------------------------------------------------------


def run_restore(args: argparse.Namespace) -> int:
    if args.interval < 0:
        raise main.UsageError(f"--interval must not be negative, got {args.interval}")
    if args.function:
        return _restore_by_function(args)
    if not args.bucket:
        raise main.UsageError("--bucket is required (except with --function, whose stack fixes the bucket)")
    return _restore_locally(args)


def _restore_locally(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = _request(args, now)
    client = _s3(args)
    restore_time = request.restore_time(now=now)
    plan = _load(client, args.bucket, request, restore_time, args.concurrency)
    try:
        request.check_plan(plan)
    except RequestError as error:
        raise main.UsageError(str(error)) from None
    restore_id = f"{format_time(now)}-{uuid.uuid4().hex[:8]}"
    summary: dict[str, Any] = {
        "bucket": args.bucket,
        **request.summary(plan, restore_time=restore_time, restore_id=restore_id),
    }
    keys = [obj.key for obj in plan.to_restore]
    report = RestoreReport()
    if not request.dry_run and keys:
        batches = split_keys(
            restore_id,
            args.bucket,
            keys,
            tier=request.tier,
            days=request.days,
            expedited_fallback=request.expedited_fallback,
        )
        report = _request_batches(client, batches, concurrency=args.concurrency)
    summary["requests"] = report.to_json()
    _print_summary(summary, report, json_output=args.json)
    if not report.ok:
        print(_format_failures(report), file=sys.stderr)
        return 1
    if request.dry_run:
        return 0
    if args.wait:
        bucket = args.bucket
        wait_until_readable(
            client, bucket, request, restore_time, interval=args.interval, concurrency=args.concurrency
        )
        print(duplicity_command(bucket, request.folder, restore_time, request.prefixes, args.endpoint_url))
    return 0


# Threads per batch in local mode: batches run side by side, so one batch's slowest retry (SlowDown
# back-off) no longer holds up the rest, as on AWS where several workers take batches at once.
THREADS_PER_BATCH = 8


def _request_batches(client: S3Client, batches: list[Batch], *, concurrency: int) -> RestoreReport:
    """Each batch through the workers' own per-batch function, several at once, with a progress bar."""
    report = RestoreReport()
    total = sum(len(batch.keys) for batch in batches)
    side_by_side = max(1, min(len(batches), concurrency // THREADS_PER_BATCH))
    per_batch = max(1, concurrency // side_by_side)
    lock = threading.Lock()
    done_by_batch = [0] * len(batches)
    with ProgressBar("requesting", stream=sys.stderr) as bar:

        def run(index: int) -> RestoreReport:
            def progress(n: int, _batch_total: int) -> None:
                with lock:
                    done_by_batch[index] = n
                    bar.update(sum(done_by_batch), total)

            return restore_batch(client, batches[index], concurrency=per_batch, on_progress=progress)

        with ThreadPoolExecutor(max_workers=side_by_side, thread_name_prefix="batch") as pool:
            for batch_report in pool.map(run, range(len(batches))):
                report.merge(batch_report)
    return report


def _restore_by_function(args: argparse.Namespace) -> int:
    payload = _request_fields(args)
    # Validate here too: a typo is refused without a round trip, and with the same words as the Lambda's.
    now = int(time.time())
    _request(args, now)
    try:
        response = lambda_client().invoke(
            FunctionName=args.function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = response["Payload"].read()
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"cannot invoke {args.function}: {describe_error(error)}") from None
    try:
        result = json.loads(body) if body else None
    except ValueError:
        raise CommandError(f"{args.function} returned something that is not JSON: {body[:200]!r}") from None
    if response.get("FunctionError"):
        message = result.get("errorMessage") if isinstance(result, dict) else None
        kind = result.get("errorType") if isinstance(result, dict) else None
        detail = f"{kind}: {message}" if kind and message else (message or body.decode(errors="replace"))
        raise CommandError(f"{args.function} refused or failed the restore: {detail}")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.wait or not isinstance(result, dict) or result.get("dry_run"):
        return 0
    bucket, folder, restore_time = result.get("bucket"), result.get("prefix"), result.get("restore_time")
    if not isinstance(bucket, str) or not isinstance(folder, str) or not isinstance(restore_time, int):
        raise CommandError(f"{args.function}'s result lacks bucket, prefix or restore_time: cannot --wait")
    if args.bucket and args.bucket != bucket:
        raise main.UsageError(f"--bucket {args.bucket!r} differs from the function's bucket {bucket!r}")
    request = _request(args, now)
    request = RestoreRequest(
        folder=folder,
        time=request.time,
        prefixes=request.prefixes,
        tier=request.tier,
        days=request.days,
    )
    client = _s3(args)
    wait_until_readable(
        client, bucket, request, restore_time, interval=args.interval, concurrency=args.concurrency
    )
    print(duplicity_command(bucket, folder, restore_time, request.prefixes, args.endpoint_url))
    return 0


def lambda_client() -> LambdaClient:
    """A Lambda client that waits as long as the function may run, and never re-invokes on a timeout."""
    config = Config(
        read_timeout=LAMBDA_READ_TIMEOUT,
        connect_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client("lambda", config=config)


def _print_summary(summary: dict[str, Any], report: RestoreReport, *, json_output: bool) -> None:
    if json_output:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    counts = report.counts()
    rows = [
        ("backup", _url(summary["bucket"], summary["prefix"])),
        ("restore time", f"{summary['restore_time_text']} ({summary['time']})"),
        ("needed", str(summary["volumes"])),
        ("readable", str(summary["counts"]["readable"])),
        ("in progress", str(summary["counts"]["in_progress"])),
        ("to restore", str(summary["to_restore"])),
    ]
    if not summary["dry_run"]:
        rows += [(_OUTCOME_LABELS.get(outcome, outcome), str(count)) for outcome, count in counts.items()]
        if report.fell_back:
            rows.append(("fell back to Standard", str(len(report.fell_back))))
    for item in summary["estimate"]:
        rows.append(
            (
                f"estimate {item['storage_class']}",
                f"~${item['cost_usd']:,.2f} ({item['tier']}, {_hours(item['hours_min'], item['hours_max'])})",
            )
        )
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines += [f"warning: {warning}" for warning in summary["warnings"]]
    if summary["dry_run"]:
        lines.append("dry run: nothing was requested")
    print("\n".join(lines))


def _format_failures(report: RestoreReport) -> str:
    failed = report.failed
    lines = [f"glacierable restore: {len(failed)} restore requests failed (rerun to retry just those):"]
    lines += [f"  {f.key}: {f.code}: {f.message}" for f in failed[:MAX_FAILURES_SHOWN]]
    if len(failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  … and {len(failed) - MAX_FAILURES_SHOWN} more (--json lists all)")
    return "\n".join(lines)


# --- wait -----------------------------------------------------------------------------------------


class _ThawBar(ProgressBar):
    """The progress bar with an ETA from the tier's documented time range instead of a rate."""

    def __init__(self, hours: tuple[float, float] | None, *, stream: TextIO) -> None:
        super().__init__("readable", stream=stream)
        self.hours = hours
        self.started = time.monotonic()

    def render(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        line = super().render(now).rsplit(" ", 1)[0]  # the rate of readable objects per second means nothing
        return f"{line} {eta_text(self.hours, now - self.started)}"


def eta_text(hours: tuple[float, float] | None, elapsed: float) -> str:
    """ "ETA 2h59m-4h59m" from the tier's range less the time already waited; "ETA any moment" past it."""
    if hours is None:
        return "ETA unknown"
    low, high = (max(0.0, h * 3600 - elapsed) for h in hours)
    if high <= 0:
        return "ETA any moment"
    return f"ETA ≤ {_duration(high)}" if low <= 0 else f"ETA {_duration(low)}-{_duration(high)}"


def wait_until_readable(
    client: S3Client,
    bucket: str,
    request: RestoreRequest,
    restore_time: int,
    *,
    interval: float,
    concurrency: int,
) -> StatusReport:
    """Poll the needed objects' states until all are readable, showing progress on stderr."""
    hours: tuple[float, float] | None = None
    bar = _ThawBar(None, stream=sys.stderr)
    with bar:
        while True:
            plan = _load(client, bucket, request, restore_time, concurrency)
            status = StatusReport.of(plan)
            if hours is None:
                hours = bar.hours = _hours_range(plan, request.tier)
            bar.update(status.readable_count, len(status.objects))
            if not bar.enabled:
                counts = ", ".join(f"{n} {state}" for state, n in status.counts().items() if n)
                print(
                    f"{status.readable_count}/{len(status.objects)} readable ({counts}) "
                    f"{eta_text(hours, time.monotonic() - bar.started)}",
                    file=sys.stderr,
                )
            if status.all_readable:
                return status
            time.sleep(interval)


def _hours_range(plan: RestorePlan, tier: Tier) -> tuple[float, float] | None:
    ranges = []
    for cls in {obj.storage_class for obj in plan.needed if obj.archived and not obj.readable}:
        try:
            rate = estimate(cls, tier, 0, 0)
        except PricingError:
            rate = estimate(cls, Tier.STANDARD, 0, 0)  # Expedited fell back, or was never offered
        ranges.append((rate.hours_min, rate.hours_max))
    if not ranges:
        return None
    return max(low for low, _ in ranges), max(high for _, high in ranges)


def duplicity_command(
    bucket: str,
    folder: str,
    restore_time: int,
    prefixes: DuplicityPrefixes,
    endpoint_url: str | None,
) -> str:
    """The `duplicity restore` command line that reads exactly the planned objects."""
    parts = ["duplicity", "restore", "-t", format_time(restore_time), *prefixes.options()]
    if endpoint_url:
        parts += ["--s3-endpoint-url", endpoint_url]
    parts.append(_url(bucket, folder))
    return f"{shlex.join(parts)} {TARGET_PLACEHOLDER}"


# --- shared ---------------------------------------------------------------------------------------


def _request_fields(args: argparse.Namespace) -> dict[str, object]:
    """The restore request's JSON fields from the options (only those given: defaults stay the Lambda's)."""
    fields: dict[str, object] = {"time": args.time}
    if args.prefix is not None:
        fields["prefix"] = args.prefix
    for _, dest in _PREFIX_OPTIONS:
        value = getattr(args, dest)
        if value is not None:
            fields[dest] = value
    for name in ("tier", "days", "dry_run", "expedited_fallback"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    return fields


def _request(args: argparse.Namespace, now: int) -> RestoreRequest:
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise main.UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}, got {args.concurrency}")
    if args.bucket is not None and (not args.bucket or "/" in args.bucket):
        raise main.UsageError(f"--bucket must be a bucket name, not {args.bucket!r}")
    try:
        return RestoreRequest.from_json(_request_fields(args), now=now)
    except RequestError as error:
        raise main.UsageError(_as_option_names(str(error))) from None


def _as_option_names(message: str) -> str:
    # The request's field names, as the options that set them.
    names = (*_PREFIX_OPTIONS, ("--days", "days"), ("--tier", "tier"), ("--time", "time"))
    for option, dest in sorted(names, key=lambda pair: -len(pair[1])):
        if message.startswith(dest):
            return option + message[len(dest) :]
    return message


def _s3(args: argparse.Namespace) -> S3Client:
    try:
        return s3_client(endpoint_url=args.endpoint_url, max_pool_connections=args.concurrency)
    except ValueError as error:  # botocore's "Invalid endpoint: …"
        raise main.UsageError(str(error)) from None


def _load(
    client: S3Client, bucket: str, request: RestoreRequest, restore_time: int, concurrency: int
) -> RestorePlan:
    try:
        folder, prefixes = request.folder, request.prefixes
        return load_plan(client, bucket, folder, restore_time, prefixes, concurrency=concurrency)
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None


def _url(bucket: str, folder: str) -> str:
    path = folder.strip("/")
    return f"boto3+s3://{bucket}/{path}" if path else f"boto3+s3://{bucket}"


def _size(size: int) -> str:
    if size >= GIB:
        return f"{size / GIB:.2f} GiB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MiB"
    return f"{size:,} bytes"


def _hours(low: float, high: float) -> str:
    if high < 1:
        within = f"within {_duration(high * 3600)}"
        return f"{_duration(low * 3600)}-{_duration(high * 3600)}" if low else within
    return f"{low:g}-{high:g} h" if low else f"within {high:g} h"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60 + (seconds % 60 > 0))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02}m" if hours else f"{minutes}m"
