"""`glacierable restore`: request exactly what duplicity will read, and optionally wait until it is readable.

Locally (the default) it runs the restore use case with the workers' own per-batch function; with
`--function NAME` the deployed restore Lambda plans and queues instead. Either way the same summary,
next steps and wait follow.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glacierable import restore_flow
from glacierable.aws_errors import describe_error
from glacierable.batches import Batch
from glacierable.listing import ListingError
from glacierable.names import format_time
from glacierable.object_status import StatusError, StatusReport
from glacierable.plan import PlanError
from glacierable.prefixes import duplicity_url
from glacierable.pricing import cost_assumptions
from glacierable.restore import RestoreReport
from glacierable.restore_request import RequestError, RestoreRequest
from glacierable.restore_summary import RestoreRefusal, RestoreSummary, SummaryError, read_answer
from glacierable_cli import selection
from glacierable_cli.errors import CommandError, ExitCode, UsageError
from glacierable_cli.output import print_json
from glacierable_cli.plan_cmd import cost_text
from glacierable_cli.render import Renderer

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

DEFAULT_INTERVAL = 60.0
LAMBDA_READ_TIMEOUT = 960  # longer than a Lambda's 15 minutes: a timed-out read would invoke it again

_OUTCOME_LABELS = {
    "requested": "requested",
    "extended": "expiry extended",
    "in_progress": "already restoring",
    "not_archived": "not archived",
    "failed": "failed",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `restore`."""
    parser = subparsers.add_parser(
        "restore",
        parents=[selection.selection_parser(bucket_required=False)],
        help="request restores of exactly what duplicity will read",
        description=(
            "Plan the restore, then request every archived object it needs (from this machine, or with "
            "--function through the deployed restore Lambda). Safe to rerun: objects already restored or "
            "being restored are not requested again."
        ),
    )
    selection.add_tier(parser, "retrieval tier: Standard (default), Bulk or Expedited (not for DEEP_ARCHIVE)")
    selection.add_days(parser, "days the restored copies stay readable")
    parser.add_argument("--dry-run", action="store_true", help="plan and estimate, request nothing")
    parser.add_argument(
        "--expedited-fallback",
        action="store_true",
        help="when Expedited capacity is not available, request Standard instead",
    )
    parser.add_argument(
        "--function",
        metavar="NAME",
        default=None,
        help="invoke this deployed restore Lambda instead of requesting from here (it fixes the bucket)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="poll until every needed object is readable, then print the duplicity command",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"seconds between polls with --wait (default: {DEFAULT_INTERVAL:.0f})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON Lines records instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.interval < 0:
        raise UsageError(f"--interval must not be negative, got {args.interval}")
    if args.function:
        return _restore_by_function(args)
    if not args.bucket:
        raise UsageError("--bucket is required (except with --function, whose stack fixes the bucket)")
    return _restore_locally(args)


def _restore_locally(args: argparse.Namespace) -> int:
    now = int(time.time())
    request = selection.restore_request(args, now)
    client = selection.s3(args)
    try:
        prepared = restore_flow.prepare(client, args.bucket, request, now=now)
    except RequestError as error:
        raise UsageError(str(error)) from None
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None
    summary = prepared.summary()
    report = RestoreReport()
    if not request.dry_run and prepared.keys:
        report = request_batches(client, prepared.batches(), args.concurrency)
    return _after_request(args, request, summary, report, client)


def _after_request(
    args: argparse.Namespace,
    request: RestoreRequest,
    summary: RestoreSummary,
    report: RestoreReport,
    client: S3Client,
) -> int:
    """Print the summary and the next step; with --wait, wait, then print the duplicity command."""
    render = Renderer()
    bucket, restore_time = summary.bucket, summary.restore_time
    status_command = selection.glacierable_command("status", args, request, restore_time, bucket=bucket)
    wait_command = selection.glacierable_command(
        "restore", args, request, restore_time, bucket=bucket, wait=True
    )
    if args.json:
        requests = {} if summary.queued is not None else {"requests": report.to_json()}
        print_json("restore", {**summary.to_json(), **requests, "status_command": status_command})
    else:
        show_summary(render, summary, report)
    if not report.ok:
        show_failures(render, report)
        return ExitCode.FAILED
    if request.dry_run:
        return ExitCode.OK
    if not args.json:
        show_notification(render, summary, closing="you may close this terminal")
    if not args.wait:
        if not args.json:
            render.line("next: check progress with the time pinned (a later backup would change 'now'):")
            render.command(status_command)
            render.line("or wait here until everything is readable:")
            render.command(wait_command)
        return ExitCode.OK
    try:
        point = restore_flow.RestorePoint(bucket, request, restore_time)
        status = wait_until_readable(client, point, interval=args.interval, concurrency=args.concurrency)
    except KeyboardInterrupt:
        render.line("stopped waiting; the restores go on in S3. Check them with:", err=True)
        render.line(
            f"  {status_command}\nor wait again (nothing is requested twice):\n  {wait_command}", err=True
        )
        raise
    duplicity = selection.duplicity_command_for(args, request, restore_time, par2=summary.par2, bucket=bucket)
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
        render.command(duplicity, lead="")
    return ExitCode.OK


def request_batches(client: S3Client, batches: list[Batch], concurrency: int) -> RestoreReport:
    """The batches from here, with a progress display; Ctrl-C says what was sent."""
    render = Renderer()
    with render.progress("requesting") as progress:
        try:
            return restore_flow.request_batches(
                client, batches, concurrency=concurrency, on_progress=progress.update
            )
        except restore_flow.RestoreInterrupted as interrupted:
            render.line(
                f"\ninterrupted after {interrupted.sent} of {interrupted.total} restore requests; rerun the "
                "same command to request the rest (what S3 accepted is not requested again)",
                err=True,
            )
            raise


def wait_until_readable(
    client: S3Client, point: restore_flow.RestorePoint, *, interval: float, concurrency: int
) -> StatusReport:
    """The restore use case's wait, shown on stderr: a live line on a terminal, else a line a poll."""
    render = Renderer()
    with render.progress("readable") as progress:

        def show(poll: restore_flow.Poll) -> None:
            status = poll.status
            if progress.hours is None:
                progress.hours = restore_flow.hours_range(poll.plan, point.request.tier)
            progress.update(status.readable_count, len(status.objects))
            if not progress.enabled:
                counts = ", ".join(f"{n} {state}" for state, n in status.counts().items() if n)
                eta = "" if status.all_readable else f" {progress.eta()}"
                render.line(
                    f"{status.readable_count}/{len(status.objects)} readable ({counts}){eta}", err=True
                )
            if poll.requested_again:
                render.line(
                    f"{len(poll.requested_again)} needed object(s) are archived with no restore (a restored "
                    "copy expired, or a request was lost): requested them again",
                    err=True,
                )

        try:
            return restore_flow.wait_until_readable(
                client, point, interval=interval, concurrency=concurrency, on_poll=show
            )
        except restore_flow.RequestAgainFailed as error:
            show_failures(render, error.report)
            raise CommandError(
                f"while waiting, {len(error.report.failed)} object(s) could not be requested again; fix the "
                "cause and rerun the same command"
            ) from None
        except (PlanError, StatusError, ListingError) as error:
            raise CommandError(str(error)) from None


def _restore_by_function(args: argparse.Namespace) -> int:
    payload = selection.request_fields(args)
    # Validate here too: a typo is refused without a round trip, and with the same words as the Lambda's.
    now = int(time.time())
    given = selection.restore_request(args, now)
    summary = invoke_function(args.function, payload)
    if args.bucket and args.bucket != summary.bucket:
        raise UsageError(f"--bucket {args.bucket!r} differs from the function's bucket {summary.bucket!r}")
    request = RestoreRequest(
        folder=summary.prefix,
        time=given.time,
        prefixes=given.prefixes,
        tier=given.tier,
        days=given.days,
        dry_run=given.dry_run,
        expedited_fallback=given.expedited_fallback,
    )
    # The function queued the requests for its workers: this machine has sent none.
    return _after_request(args, request, summary, RestoreReport(), selection.s3(args))


def invoke_function(function: str, payload: dict[str, object]) -> RestoreSummary:
    """Invoke the deployed restore Lambda with a request's JSON fields; its summary, or CommandError."""
    try:
        response = lambda_client().invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = response["Payload"].read()
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"cannot invoke {function}: {describe_error(error)}") from None
    try:
        result = json.loads(body) if body else None
    except ValueError:
        raise CommandError(f"{function} returned something that is not JSON: {body[:200]!r}") from None
    if response.get("FunctionError"):  # a failure; or a refusal from a function deployed before refusals
        message = result.get("errorMessage") if isinstance(result, dict) else None
        kind = result.get("errorType") if isinstance(result, dict) else None
        detail = f"{kind}: {message}" if kind and message else (message or body.decode(errors="replace"))
        raise CommandError(f"{function} refused or failed the restore: {detail}")
    try:
        summary = read_answer(result)
    except SummaryError as error:
        raise CommandError(f"{function} returned {body[:200]!r}: {error}") from None
    if isinstance(summary, RestoreRefusal):
        # Exit 1 as a refusal raised by the function always did: the request reached it and was refused.
        raise CommandError(f"{function} refused the restore: {summary.text}")
    return summary


def lambda_client() -> LambdaClient:
    """A Lambda client that waits as long as the function may run, and never re-invokes on a timeout."""
    config = Config(
        read_timeout=LAMBDA_READ_TIMEOUT,
        connect_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client("lambda", config=config)


def show_notification(render: Renderer, summary: RestoreSummary, *, closing: str, err: bool = False) -> None:
    """What the restore Lambda said of its ready message (nothing in local mode, which sends none)."""
    if summary.notify is None:
        return
    if summary.notifies:
        render.line(
            f"a message on {summary.notify} will say when everything is readable (or that it is late), "
            f"with the duplicity command: {closing}",
            err=err,
        )
    else:
        render.line(
            "no message will say when it is ready: the stack has no notification topic (deploy it with "
            "-c notify_email=ADDRESS or -c alarm_email=ADDRESS), or its check could not be queued",
            err=err,
        )


def show_summary(render: Renderer, summary: RestoreSummary, report: RestoreReport) -> None:
    rows = [
        ("backup", duplicity_url(summary.bucket, summary.prefix, par2=summary.par2)),
        ("restore time", f"{summary.restore_time_text} ({summary.time})"),
        ("needed", str(summary.count("needed"))),
        ("readable", str(summary.count("readable"))),
        ("in progress", str(summary.count("in_progress"))),
        ("to restore", str(summary.count("to_restore"))),
    ]
    if summary.queued is not None:  # the restore Lambda queued them for its workers
        rows.append(("queued", f"{summary.queued} in {summary.batches or 0} batch(es)"))
    elif not summary.dry_run:
        rows += [
            (_OUTCOME_LABELS.get(outcome, outcome), str(count)) for outcome, count in report.counts().items()
        ]
        if report.fell_back:
            rows.append(("fell back to Standard", str(len(report.fell_back))))
    cost = summary.cost if summary.count("to_restore") else None
    if cost is not None:
        rows.append(("estimate", f"{cost_text(cost, days=True)} with {cost.tier.value}"))
    render.rows(rows)
    if cost is not None:
        render.line(f"({cost_assumptions(cost.transfer_out)})")
    for warning in summary.warnings:
        render.warning(warning)
    if summary.dry_run:
        render.line("dry run: nothing was requested")


def show_failures(render: Renderer, report: RestoreReport) -> None:
    render.failures(
        f"glacierable restore: {len(report.failed)} restore requests failed (rerun to retry just those):",
        [f"{f.key}: {f.code}: {f.message}" for f in report.failed],
    )
