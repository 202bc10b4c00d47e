"""`glacierable plan | restore | status`: what a restore needs, requesting it, and watching it thaw.

`restore` runs locally by default, with the same planner and per-batch function as the restore Lambda and
its workers; `--function NAME` invokes the deployed restore Lambda instead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glacierable import restore_flow
from glacierable.aws_errors import describe_error
from glacierable.batches import Batch
from glacierable.clients import s3_client
from glacierable.duplicity_command import TARGET_PREFIX, duplicity_command
from glacierable.listing import ListingError
from glacierable.names import format_time
from glacierable.object_status import State, StatusError, StatusReport, load_plan
from glacierable.plan import PlanError, RestorePlan
from glacierable.prefixes import duplicity_url
from glacierable.pricing import GIB, RestoreCost, Tier, cost_assumptions
from glacierable.restore import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, RestoreReport
from glacierable.restore_request import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, RequestError, RestoreRequest
from glacierable.timespec import ACCEPTED_FORMS, time_argument
from glacierable_cli import main
from glacierable_cli.output import print_json, printable
from glacierable_cli.progress import ProgressBar

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

DEFAULT_INTERVAL = 60.0
MAX_FAILURES_SHOWN = 20
LAMBDA_READ_TIMEOUT = 960  # longer than a Lambda's 15 minutes: a timed-out read would invoke it again

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
    _add_days(plan, "days the restored copies would be kept, for the estimate")
    plan.add_argument("--json", action="store_true", help="print one JSON Lines record (keys, chain, costs)")
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
    _add_tier(restore, "retrieval tier: Standard (default), Bulk or Expedited (not for DEEP_ARCHIVE)")
    _add_days(restore, "days the restored copies stay readable")
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
    restore.add_argument("--json", action="store_true", help="print JSON Lines records instead of text")
    restore.set_defaults(func=_guarded(run_restore, "restore"))

    status = subparsers.add_parser(
        "status",
        help="show the restore state of every object a restore needs",
        description=(
            "Counts per state (archived, restoring, restored, readable) of the needed objects, and what to "
            f"do next. Exit {main.ExitCode.OK} when duplicity can read everything, "
            f"{main.ExitCode.NOT_READY} while it cannot yet."
        ),
    )
    _add_selection(status)
    _add_tier(status, "the tier the restores were requested with, for the ETA (default: Standard)")
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
    parser.add_argument(
        "--target",
        metavar="DIR",
        default=None,
        help=f"the folder the printed duplicity command restores into (default: ./{TARGET_PREFIX}TIME)",
    )
    main.add_endpoint_option(parser)


def _add_tier(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--tier", default=Tier.STANDARD.value, help=help_text)


def _add_days(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"{help_text}, {MIN_DAYS}..{MAX_DAYS} (default: {DEFAULT_DAYS})",
    )


def _guarded(run: Callable[[argparse.Namespace], int], command: str) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CommandError as error:
            print(f"glacierable {command}: error: {printable(str(error))}", file=sys.stderr)
            return main.ExitCode.FAILED

    return guarded


# --- plan -----------------------------------------------------------------------------------------


def run_plan(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = _request(args, now)
    client = _s3(args)
    restore_time = request.restore_time(now=now)
    plan = _load(client, args.bucket, request, restore_time, args.concurrency)
    costs = [plan.cost(tier, days=request.days) for tier in plan.usable_tiers()]
    restore_command = _glacierable_command("restore", args, request, restore_time)
    duplicity = _duplicity_command_for(args, request, plan, restore_time)
    if args.json:
        document = {
            "bucket": args.bucket,
            "prefix": request.folder,
            "time": request.time,
            "restore_time": restore_time,
            "restore_time_text": format_time(restore_time),
            **plan.to_json(),
            "costs": [cost.to_json() for cost in costs] if plan.to_restore else [],
            "restore_command": restore_command,
            "duplicity_command": duplicity,
        }
        print_json("plan", document)
        return main.ExitCode.OK
    print(format_plan(args.bucket, request, plan, costs))
    if plan.to_restore:
        print(f"next: {restore_command}")
    else:
        print(f"nothing to restore: duplicity can read it all now:\n  {duplicity}")
    return main.ExitCode.OK


def format_plan(bucket: str, request: RestoreRequest, plan: RestorePlan, costs: Sequence[RestoreCost]) -> str:
    """The human plan: the chain, the counts and bytes, and the whole bill per tier."""
    chain = plan.chain
    to_restore = plan.to_restore
    incs = chain.incremental_times
    chain_text = f"full {format_time(chain.full_time)}" + (
        f" + {len(incs)} incremental(s) to {format_time(incs[-1])}" if incs else ""
    )
    rows: list[tuple[str, str]] = [
        ("backup", duplicity_url(bucket, request.folder, par2=plan.par2)),
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
    if to_restore:
        rows += [(cost.tier.value.lower(), _cost_text(cost)) for cost in costs]
    lines = _rows(rows)
    if to_restore:
        lines.append(f"({cost_assumptions()}; copies kept {request.days} days, --days)")
    lines += [f"warning: {printable(warning)}" for warning in plan.warnings]
    return "\n".join(lines)


def _cost_text(cost: RestoreCost) -> str:
    parts = (
        f"retrieval ${cost.retrieval_usd:,.2f} + requests ${cost.requests_usd:,.2f} + "
        f"copies ${cost.copies_usd:,.2f} + download ${cost.transfer_usd:,.2f}"
    )
    return f"~${cost.total_usd:,.2f} ({parts}), {_hours(cost.hours_min, cost.hours_max)}"


# --- status ---------------------------------------------------------------------------------------


def run_status(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = _request(args, now)
    client = _s3(args)
    restore_time = request.restore_time(now=now)
    plan = _load(client, args.bucket, request, restore_time, args.concurrency)
    status = StatusReport.of(plan)
    code = main.ExitCode.OK if status.all_readable else main.ExitCode.NOT_READY
    if args.json:
        document = {
            "bucket": args.bucket,
            "prefix": request.folder,
            "time": request.time,
            "restore_time": restore_time,
            "restore_time_text": format_time(restore_time),
            **status.to_json(per_object=True),
            "duplicity_command": _duplicity_command_for(args, request, plan, restore_time),
        }
        print_json("status", document)
        return code
    print(format_status(status, restore_flow.hours_range(plan, request.tier), request.tier))
    counts = status.counts()
    if status.all_readable:
        print(
            f"every needed object is readable: duplicity can restore now:\n  "
            f"{_duplicity_command_for(args, request, plan, restore_time)}"
        )
    elif counts[State.ARCHIVED.value]:
        print(
            f"{counts[State.ARCHIVED.value]} needed object(s) are archived with no restore: request them:\n"
            f"  {_glacierable_command('restore', args, request, restore_time)}"
        )
    else:
        print(f"check again later:\n  {_glacierable_command('status', args, request, restore_time)}")
    return code


def format_status(status: StatusReport, hours: tuple[float, float] | None, tier: Tier) -> str:
    """Counts per state, the first expiry and, while objects are restoring, the tier's time range."""
    counts = status.counts()
    rows = [(state.value, str(counts[state.value])) for state in State]
    rows.append(("total", str(len(status.objects))))
    expiry = status.earliest_expiry
    if expiry is not None:
        rows.append(("first expiry", expiry.isoformat()))
    if counts[State.RESTORING.value] and hours is not None:
        rows.append(("ETA", f"{tier.value} restores take {_hours(*hours)} from their request"))
    return "\n".join(_rows(rows))


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
    try:
        prepared = restore_flow.prepare(client, args.bucket, request, now=now, concurrency=args.concurrency)
    except RequestError as error:
        raise main.UsageError(str(error)) from None
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None
    summary: dict[str, Any] = prepared.summary()
    report = RestoreReport()
    if not request.dry_run and prepared.keys:
        report = _request_batches(client, prepared.batches(), args.concurrency)
    summary["requests"] = report.to_json()
    return _after_request(args, request, summary, report, client, args.bucket, prepared.plan.par2)


def _after_request(
    args: argparse.Namespace,
    request: RestoreRequest,
    summary: dict[str, Any],
    report: RestoreReport,
    client: S3Client,
    bucket: str,
    par2: bool,
) -> int:
    """Print the summary and the next step; with --wait, wait, then print the duplicity command."""
    restore_time: int = summary["restore_time"]
    status_command = _glacierable_command("status", args, request, restore_time, bucket=bucket)
    wait_command = _glacierable_command("restore", args, request, restore_time, bucket=bucket, wait=True)
    summary["status_command"] = status_command
    if args.json:
        print_json("restore", summary)
    else:
        print(_format_summary(summary, report))
    if not report.ok:
        print(_format_failures(report), file=sys.stderr)
        return main.ExitCode.FAILED
    if request.dry_run:
        return main.ExitCode.OK
    if not args.wait:
        if not args.json:
            print(
                f"next: check progress with the time pinned (a later backup would change 'now'):\n"
                f"  {status_command}\nor wait here until everything is readable:\n  {wait_command}"
            )
        return main.ExitCode.OK
    try:
        status = wait_until_readable(
            client, bucket, request, restore_time, interval=args.interval, concurrency=args.concurrency
        )
    except KeyboardInterrupt:
        print(
            "stopped waiting; the restores go on in S3. Check them with:\n"
            f"  {status_command}\nor wait again (nothing is requested twice):\n  {wait_command}",
            file=sys.stderr,
        )
        raise
    duplicity = duplicity_command(
        bucket,
        request.folder,
        restore_time,
        request.prefixes,
        args.endpoint_url,
        par2=par2,
        target=args.target,
    )
    if args.json:
        expiry = status.earliest_expiry
        ready = {
            "bucket": bucket,
            "prefix": request.folder,
            "restore_time": restore_time,
            "restore_time_text": format_time(restore_time),
            "needed_count": len(status.objects),
            "readable_count": status.readable_count,
            "earliest_expiry": expiry.isoformat() if expiry is not None else None,
            "duplicity_command": duplicity,
        }
        print_json("ready", ready)
    else:
        print(duplicity)
    return main.ExitCode.OK


def _request_batches(client: S3Client, batches: list[Batch], concurrency: int) -> RestoreReport:
    """The batches from here, with a progress bar; Ctrl-C says what was sent."""
    with ProgressBar("requesting", stream=sys.stderr) as bar:
        try:
            return restore_flow.request_batches(
                client, batches, concurrency=concurrency, on_progress=bar.update
            )
        except restore_flow.RestoreInterrupted as interrupted:
            print(
                f"\ninterrupted after {interrupted.sent} of {interrupted.total} restore requests; rerun the "
                "same command to request the rest (what S3 accepted is not requested again)",
                file=sys.stderr,
            )
            raise


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
    if not isinstance(result, dict):
        raise CommandError(f"{args.function} returned {body[:200]!r}, not a restore summary")
    bucket, folder, restore_time = result.get("bucket"), result.get("prefix"), result.get("restore_time")
    if not isinstance(bucket, str) or not isinstance(folder, str) or not isinstance(restore_time, int):
        raise CommandError(f"{args.function}'s result lacks bucket, prefix or restore_time")
    if args.bucket and args.bucket != bucket:
        raise main.UsageError(f"--bucket {args.bucket!r} differs from the function's bucket {bucket!r}")
    given = _request(args, now)
    request = RestoreRequest(
        folder=folder,
        time=given.time,
        prefixes=given.prefixes,
        tier=given.tier,
        days=given.days,
        dry_run=given.dry_run,
        expedited_fallback=given.expedited_fallback,
    )
    # The function's own report: it queued the requests, so this machine has sent none.
    report = RestoreReport()
    return _after_request(args, request, result, report, _s3(args), bucket, bool(result.get("par2")))


def lambda_client() -> LambdaClient:
    """A Lambda client that waits as long as the function may run, and never re-invokes on a timeout."""
    config = Config(
        read_timeout=LAMBDA_READ_TIMEOUT,
        connect_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client("lambda", config=config)


def _format_summary(summary: dict[str, Any], report: RestoreReport) -> str:
    rows = [
        ("backup", duplicity_url(summary["bucket"], summary["prefix"], par2=bool(summary.get("par2")))),
        ("restore time", f"{summary['restore_time_text']} ({summary['time']})"),
        ("needed", str(summary["needed_count"])),
        ("readable", str(summary["readable_count"])),
        ("in progress", str(summary["in_progress_count"])),
        ("to restore", str(summary["to_restore_count"])),
    ]
    if "queued" in summary:  # the restore Lambda queued them for its workers
        rows.append(("queued", f"{summary['queued']} in {summary.get('batches', 0)} batch(es)"))
    elif not summary["dry_run"]:
        rows += [
            (_OUTCOME_LABELS.get(outcome, outcome), str(count)) for outcome, count in report.counts().items()
        ]
        if report.fell_back:
            rows.append(("fell back to Standard", str(len(report.fell_back))))
    cost = summary.get("cost")
    if isinstance(cost, dict) and summary["to_restore_count"]:
        rows.append(
            (
                "estimate",
                f"~${cost['total_usd']:,.2f} with {cost['tier']} (retrieval ${cost['retrieval_usd']:,.2f} + "
                f"requests ${cost['requests_usd']:,.2f} + copies ${cost['copies_usd']:,.2f} for "
                f"{cost['days']} d + download ${cost['transfer_usd']:,.2f}), "
                f"{_hours(cost['hours_min'], cost['hours_max'])}",
            )
        )
    lines = _rows(rows)
    if isinstance(cost, dict) and summary["to_restore_count"]:
        lines.append(f"({cost['assumptions']})")
    lines += [f"warning: {printable(warning)}" for warning in summary["warnings"]]
    if summary["dry_run"]:
        lines.append("dry run: nothing was requested")
    return "\n".join(lines)


def _format_failures(report: RestoreReport) -> str:
    failed = report.failed
    lines = [f"glacierable restore: {len(failed)} restore requests failed (rerun to retry just those):"]
    lines += [f"  {printable(f.key)}: {f.code}: {printable(f.message)}" for f in failed[:MAX_FAILURES_SHOWN]]
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
        if self._total and self._done >= self._total:
            return line
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
    """The restore use case's wait, with its progress on stderr: a bar on a terminal, else a line a poll."""
    bar = _ThawBar(None, stream=sys.stderr)

    def show(poll: restore_flow.Poll) -> None:
        status = poll.status
        if bar.hours is None:
            bar.hours = restore_flow.hours_range(poll.plan, request.tier)
        bar.update(status.readable_count, len(status.objects))
        if not bar.enabled:
            counts = ", ".join(f"{n} {state}" for state, n in status.counts().items() if n)
            eta = "" if status.all_readable else f" {eta_text(bar.hours, time.monotonic() - bar.started)}"
            print(f"{status.readable_count}/{len(status.objects)} readable ({counts}){eta}", file=sys.stderr)
        if poll.requested_again:
            print(
                f"{len(poll.requested_again)} needed object(s) are archived with no restore (a restored copy "
                "expired, or a request was lost): requested them again",
                file=sys.stderr,
            )

    with bar:
        try:
            return restore_flow.wait_until_readable(
                client,
                bucket,
                request,
                restore_time,
                interval=interval,
                concurrency=concurrency,
                on_poll=show,
            )
        except restore_flow.RequestAgainFailed as error:
            raise CommandError(
                f"{_format_failures(error.report)}\nwhile waiting, {len(error.report.failed)} object(s) "
                "could not be requested again; fix the cause and rerun the same command"
            ) from None
        except (PlanError, StatusError, ListingError) as error:
            raise CommandError(str(error)) from None


# --- the commands printed for the next step -------------------------------------------------------


def _duplicity_command_for(
    args: argparse.Namespace, request: RestoreRequest, plan: RestorePlan, restore_time: int
) -> str:
    return duplicity_command(
        args.bucket,
        request.folder,
        restore_time,
        request.prefixes,
        args.endpoint_url,
        par2=plan.par2,
        target=args.target,
    )


def _glacierable_command(
    command: str,
    args: argparse.Namespace,
    request: RestoreRequest,
    restore_time: int,
    *,
    bucket: str | None = None,
    wait: bool = False,
) -> str:
    """A `glacierable plan|restore|status` line for the same backup, with the restore time pinned."""
    parts = ["glacierable", command, "--bucket", bucket or args.bucket]
    if request.folder:
        parts += ["--prefix", request.folder]
    parts += ["-t", time_argument(restore_time), *request.prefixes.options()]
    if command == "restore":
        parts += ["--tier", request.tier.value, "--days", str(request.days)]
        if wait:
            parts.append("--wait")
    elif command == "status" and request.tier is not Tier.STANDARD:
        parts += ["--tier", request.tier.value]
    if args.target:
        parts += ["--target", args.target]
    if args.endpoint_url:
        parts += ["--endpoint-url", args.endpoint_url]
    return shlex.join(parts)


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


def _rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(label) for label, _ in rows)
    return [f"{label:<{width}}  {value}" for label, value in rows]


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
