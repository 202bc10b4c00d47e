"""`glacierable run -- duplicity restore …`: thaw exactly what the user's own restore reads, wait, run it.

duplicity is the planner: the user's command, run once with `--dry-run`, lists the volumes it reads (every
duplicity option counts, as duplicity reads it). Those keys, with their par2 files for a `par2+` URL, are
restored through the one restore use case (from here, or with `--function` by the deployed restore
Lambda), waited for with the restore command's progress display, and then the user's command runs
unchanged; `run` ends with duplicity's exit code. The environment (PASSPHRASE, the gpg agent, the AWS
profile) reaches duplicity as it is; glacierable never prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from glacierable import restore_flow
from glacierable.clients import check_endpoint_url
from glacierable.duplicity_cli import (
    DuplicityCommandError,
    RestoreCommand,
    parse_required_volumes,
    parse_restore_command,
    restore_keys,
    volume_prefix,
)
from glacierable.key_plan import latest_time
from glacierable.listing import ListedObject, ListingError
from glacierable.names import DuplicityPrefixes, format_time
from glacierable.object_status import StatusError, list_folder, load_plan
from glacierable.plan import PlanError, RestorePlan
from glacierable.plan_hints import other_prefixes
from glacierable.pricing import PricingError, RestoreCost, Tier, cost_assumptions
from glacierable.restore import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, RestoreReport
from glacierable.restore_request import RequestError, RestoreRequest
from glacierable.restore_summary import RestoreSummary
from glacierable_cli import options, restore_cmd, selection
from glacierable_cli.errors import CommandError, ExitCode, UsageError
from glacierable_cli.output import print_json
from glacierable_cli.plan_cmd import cost_text
from glacierable_cli.render import Renderer, size_text

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_INTERVAL = restore_cmd.DEFAULT_INTERVAL
OUTPUT_TAIL_LINES = 30
"""Lines of a failed dry run's output shown (duplicity's own words, which never hold the passphrase)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run`."""
    parser = subparsers.add_parser(
        "run",
        usage="glacierable run [options] -- duplicity restore [duplicity's options] URL TARGET",
        help="thaw exactly what your `duplicity restore` command reads, wait, then run it",
        description=(
            "Run your duplicity restore command once with --dry-run to learn the volumes it reads, request "
            "restores of exactly those (and their par2 files), wait until they are readable, then run your "
            "command unchanged and exit with its exit code. Safe to rerun: nothing already restored or "
            "being restored is requested again. Ctrl-C while waiting stops waiting, not the restores."
        ),
    )
    selection.add_tier(parser, "retrieval tier: Standard (default), Bulk or Expedited (not for DEEP_ARCHIVE)")
    selection.add_days(parser, "days the restored copies stay readable")
    parser.add_argument(
        "--function",
        metavar="NAME",
        default=None,
        help="request through this deployed restore Lambda instead of from here (its bucket must match)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"seconds between polls while waiting (default: {DEFAULT_INTERVAL:.0f})",
    )
    parser.add_argument(
        "--plan-only",
        action="store_true",
        help="show what would be thawed, its cost and time per tier, beside the whole restore point",
    )
    parser.add_argument(
        "--expedited-fallback",
        action="store_true",
        help="when Expedited capacity is not available, request Standard instead",
    )
    options.add_concurrency_option(
        parser, default=DEFAULT_CONCURRENCY, maximum=MAX_CONCURRENCY, help_text="S3 requests at once"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines records on stdout (duplicity's own output then goes to stderr)",
    )
    parser.add_argument(
        "duplicity_argv",  # not `command`: that is the subcommand's name (errors name it)
        nargs=argparse.REMAINDER,
        metavar="-- duplicity restore ...",
        help="your duplicity command: the executable (a name on PATH or a path), then its arguments as is",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Thaw:
    """What the dry run said, as keys: the volumes duplicity reads, their par2 files, and the listing."""

    command: RestoreCommand
    names: tuple[str, ...]
    """duplicity's "Required volumes to restore", in its order."""
    keys: tuple[str, ...]
    listing: tuple[ListedObject, ...]


def run(args: argparse.Namespace) -> int:
    if args.interval < 0:
        raise UsageError(f"--interval must not be negative, got {args.interval}")
    command = _parse_command(args.duplicity_argv)
    if command.endpoint_url:
        check_endpoint_url(command.endpoint_url)  # EndpointError: exit 2, before anything runs
    render = Renderer()
    client = selection.s3_for(
        command.endpoint_url, concurrency=args.concurrency, region_name=command.region_name
    )
    names, code = _dry_run(render, command, quiet=args.json)
    if names is None:
        return code
    thaw = _thaw(client, command, names)
    if not thaw.keys:
        render.line("duplicity reads no volume for this restore: nothing to thaw", err=True)
        return ExitCode.OK if args.plan_only else _run_duplicity(render, command, to_stderr=args.json)
    now = int(time.time())
    request = _request(args, thaw, now)
    restore_time = request.restore_time(now=now)
    if args.plan_only:
        return _plan_only(args, render, client, thaw, request, restore_time)
    summary, report = _request_restores(args, client, command.bucket, request, now)
    if command.bucket != summary.bucket:
        raise CommandError(
            f"{args.function} restores from bucket {summary.bucket!r}, but the duplicity URL reads "
            f"{command.bucket!r}: nothing of this restore was requested"
        )
    if args.json:
        requests = {} if summary.queued is not None else {"requests": report.to_json()}
        print_json("restore", {**summary.to_json(), **requests, "keys_count": len(thaw.keys)})
    else:
        restore_cmd.show_summary(render, summary, report)
    if not report.ok:
        restore_cmd.show_failures(render, report)
        return ExitCode.FAILED
    restore_cmd.show_notification(
        render,
        summary,
        closing="you may stop waiting here (Ctrl-C) and close this terminal, then rerun this command: it "
        "requests nothing twice and runs duplicity",
        err=True,
    )
    point = restore_flow.RestorePoint(command.bucket, request, restore_time)
    try:
        status = restore_cmd.wait_until_readable(
            client, point, interval=args.interval, concurrency=args.concurrency
        )
    except KeyboardInterrupt:
        render.line(
            "stopped waiting; the restores go on in S3. Wait again (nothing is requested twice) with:\n"
            f"  {rerun_command(args)}",
            err=True,
        )
        raise
    if args.json:
        expiry = status.earliest_expiry
        ready = {
            "bucket": command.bucket,
            "prefix": command.folder,
            "needed_count": len(status.objects),
            "readable_count": status.readable_count,
            "earliest_expiry": expiry.isoformat() if expiry is not None else None,
            "duplicity_command": command.text(),
        }
        print_json("ready", ready)
    return _run_duplicity(render, command, to_stderr=args.json)


def rerun_command(args: argparse.Namespace) -> str:
    """The same `glacierable run` line, ready to paste: it waits for the rest and requests nothing twice."""
    parts = ["glacierable", "run", "--tier", args.tier, "--days", str(args.days)]
    if args.function:
        parts += ["--function", args.function]
    if args.interval != DEFAULT_INTERVAL:
        parts += ["--interval", f"{args.interval:g}"]
    if args.expedited_fallback:
        parts.append("--expedited-fallback")
    if args.concurrency != DEFAULT_CONCURRENCY:
        parts += ["--concurrency", str(args.concurrency)]
    return shlex.join([*parts, "--", *_command_words(args.duplicity_argv)])


def _command_words(words: Sequence[str]) -> list[str]:
    # argparse keeps the '--' in front of a REMAINDER argument.
    return list(words[1:] if words and words[0] == "--" else words)


def _parse_command(words: Sequence[str]) -> RestoreCommand:
    try:
        return parse_restore_command(_command_words(words))
    except DuplicityCommandError as error:
        raise UsageError(str(error)) from None


def _dry_run(render: Renderer, command: RestoreCommand, *, quiet: bool) -> tuple[list[str] | None, int]:
    """duplicity's list of required volumes, or (None, its exit code) when the dry run failed."""
    if not quiet:
        render.line("asking duplicity which volumes this restore reads (its own --dry-run) …", err=True)
    # duplicity's dry run leaves an empty folder where the restore's target will be: the words that named
    # nothing before it and are an empty folder after it are removed, so the dry run leaves no trace.
    absent = [Path(word) for word in command.argv[2:] if not word.startswith("-") and not _exists(word)]
    with tempfile.TemporaryDirectory(prefix="glacierable-run-") as scratch:
        log = Path(scratch) / "duplicity.log"
        try:
            # stdin stays the terminal's: duplicity may ask for the passphrase when PASSPHRASE is unset.
            completed = subprocess.run(
                command.dry_run_argv(str(log)), capture_output=True, text=True, errors="replace", check=False
            )
        except OSError as error:
            raise UsageError(f"cannot run {command.executable!r}: {error.strerror or error}") from None
        finally:
            for path in absent:
                with contextlib.suppress(OSError):  # not a folder, not empty, or still absent: left alone
                    path.rmdir()
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    if completed.returncode != 0:
        output = "\n".join(
            f"{completed.stdout}\n{completed.stderr}".strip().splitlines()[-OUTPUT_TAIL_LINES:]
        )
        hint = (
            "\nduplicity read an archived manifest or signature file: `glacierable plan` lists the "
            "backup's archived metadata, `glacierable restore` thaws it with the rest of the restore point"
            if "InvalidObjectState" in output
            else ""
        )
        render.line(
            f"duplicity's dry run failed with exit code {completed.returncode}; nothing was requested. "
            f"Its output:\n{output}{hint}",
            err=True,
        )
        return None, completed.returncode
    try:
        return parse_required_volumes(text), ExitCode.OK
    except DuplicityCommandError as error:
        raise CommandError(str(error)) from None


def _exists(word: str) -> bool:
    try:
        return Path(word).exists()
    except (OSError, ValueError):  # a word too long or with a NUL for a path: not one
        return True


def _thaw(client: S3Client, command: RestoreCommand, names: Sequence[str]) -> Thaw:
    try:
        listing = list_folder(client, command.bucket, command.folder)
    except (StatusError, ListingError) as error:
        raise CommandError(str(error)) from None
    try:
        keys = restore_keys(names, command.folder, (obj.key for obj in listing), par2=command.par2)
    except DuplicityCommandError as error:
        raise CommandError(str(error)) from None
    return Thaw(command, tuple(names), tuple(keys), tuple(listing))


def _request(args: argparse.Namespace, thaw: Thaw, now: int) -> RestoreRequest:
    # The restore time only dates the summary: duplicity already chose the volumes with its own -t.
    when = latest_time(thaw.keys)
    fields: dict[str, object] = {
        "prefix": thaw.command.folder,
        "time": "now" if when is None else str(when),
        "keys": list(thaw.keys),
        "tier": args.tier,
        "days": args.days,
        "expedited_fallback": args.expedited_fallback,
    }
    try:
        return RestoreRequest.from_json(fields, now=now)
    except RequestError as error:
        message = str(error)
        for name in ("tier", "days"):
            if message.startswith(name):
                message = f"--{message}"
        raise UsageError(message) from None


def _request_restores(
    args: argparse.Namespace, client: S3Client, bucket: str, request: RestoreRequest, now: int
) -> tuple[RestoreSummary, RestoreReport]:
    if args.function:
        # The function checks the keys against its stack's prefix and queues them for its workers.
        return restore_cmd.invoke_function(args.function, _payload(request)), RestoreReport()
    try:
        prepared = restore_flow.prepare(client, bucket, request, now=now)
    except RequestError as error:
        raise UsageError(str(error)) from None
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None
    report = RestoreReport()
    if prepared.keys:
        report = restore_cmd.request_batches(client, prepared.batches(), args.concurrency)
    return prepared.summary(), report


def _payload(request: RestoreRequest) -> dict[str, object]:
    fields = request.to_json()
    return {name: value for name, value in fields.items() if value is not None and value != ""}


def _run_duplicity(render: Renderer, command: RestoreCommand, *, to_stderr: bool) -> int:
    """The user's command, unchanged, with this process's environment and terminal; its exit code."""
    render.line(f"running: {command.text()}", err=True)
    try:
        completed = subprocess.run(list(command.argv), stdout=sys.stderr if to_stderr else None, check=False)
    except OSError as error:
        raise UsageError(f"cannot run {command.executable!r}: {error.strerror or error}") from None
    return completed.returncode


# --- --plan-only --------------------------------------------------------------------------------


def _plan_only(
    args: argparse.Namespace,
    render: Renderer,
    client: S3Client,
    thaw: Thaw,
    request: RestoreRequest,
    restore_time: int,
) -> int:
    command = thaw.command
    try:
        plan = restore_flow.load_request_plan(
            client, command.bucket, request, restore_time, concurrency=args.concurrency
        )
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None
    whole, why_not = _whole_point(client, thaw, restore_time, args.concurrency)
    days = request.days
    if args.json:
        document: dict[str, object] = {
            "bucket": command.bucket,
            "prefix": command.folder,
            "url": command.url,
            "restore_time": restore_time,
            "restore_time_text": format_time(restore_time),
            "required_volume_count": len(thaw.names),
            "keys_count": len(thaw.keys),
            "this_restore": {**plan.to_json(), "costs": _costs_json(plan, days)},
            "whole_restore_point": (
                {**whole.to_json(keys=False), "costs": _costs_json(whole, days)}
                if whole is not None
                else None
            ),
            "whole_restore_point_error": why_not,
            "duplicity_command": command.text(),
        }
        print_json("run_plan", document)
        return ExitCode.OK
    to_restore = plan.to_restore
    rows = [
        ("backup", command.url),
        ("duplicity reads", f"{len(thaw.names)} volume(s), {len(thaw.keys)} object(s) with par2 files"),
        ("to thaw", f"{len(to_restore)} objects ({size_text(sum(o.size for o in to_restore))})"),
    ]
    if whole is not None:
        whole_restore = whole.to_restore
        rows.append(
            (
                "whole point",
                f"{len(whole_restore)} objects ({size_text(sum(o.size for o in whole_restore))}) to thaw for "
                f"the whole restore point at {format_time(restore_time)}",
            )
        )
    render.rows(rows)
    table = [
        (tier.value, _cost_cell(plan, tier, days), _cost_cell(whole, tier, days) if whole else "-")
        for tier in Tier
    ]
    render.table(("tier", "this restore", "whole restore point"), table)
    render.line(f"({cost_assumptions()}; copies kept {days} days, --days)")
    if why_not:
        render.warning(f"the whole restore point could not be planned: {why_not}")
    render.line("nothing was requested; without --plan-only, glacierable run thaws, waits and runs:")
    render.command(command.text())
    return ExitCode.OK


def _whole_point(
    client: S3Client, thaw: Thaw, restore_time: int, concurrency: int
) -> tuple[RestorePlan | None, str | None]:
    """The listing-based plan of the whole restore point the keys belong to, or why there is none."""
    command = thaw.command
    prefixes = _prefixes_of(thaw)
    if prefixes is None:
        return None, "the listed volumes' --file-prefix options could not be told from their names"
    try:
        plan = load_plan(
            client, command.bucket, command.folder, restore_time, prefixes, concurrency=concurrency
        )
    except (PlanError, StatusError, ListingError) as error:
        return None, str(error)
    return plan, None


def _prefixes_of(thaw: Thaw) -> DuplicityPrefixes | None:
    """The `--file-prefix*` options of the backup duplicity read, from its volume names and the listing."""
    prefix = volume_prefix(thaw.names)
    if prefix is None:
        return None
    if not prefix:
        return DuplicityPrefixes()
    candidates = other_prefixes(thaw.listing, DuplicityPrefixes().by_kind(), thaw.command.folder)
    matching = [p for p in candidates if p.file_prefix + p.archive == prefix]
    return matching[0] if len(matching) == 1 else None


def _cost(plan: RestorePlan, tier: Tier, days: int) -> RestoreCost | None:
    if tier not in plan.usable_tiers():
        return None
    try:
        return plan.cost(tier, days=days)
    except PricingError:
        return None


def _cost_cell(plan: RestorePlan | None, tier: Tier, days: int) -> str:
    if plan is None:
        return "-"
    if not plan.to_restore:
        return "nothing to thaw"
    cost = _cost(plan, tier, days)
    if cost is None:
        return "not offered"
    return f"{cost_text(cost)} ({len(plan.to_restore)} objects)"


def _costs_json(plan: RestorePlan, days: int) -> list[dict[str, object]]:
    if not plan.to_restore:
        return []
    return [cost.to_json() for tier in Tier if (cost := _cost(plan, tier, days)) is not None]
