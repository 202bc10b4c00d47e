"""`glacierable check`: will every backup under a prefix restore on a new machine? Know before you need it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from glacierable.check import ChainHealth, CheckReport, Problem, ProblemCode
from glacierable.check_store import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, CheckError, check_bucket
from glacierable.clients import s3_client
from glacierable.lifecycle import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from glacierable.names import DuplicityPrefixes, format_time
from glacierable.prefixes import PrefixError, duplicity_url
from glacierable.prefixes import folder as folder_of
from glacierable_cli import options
from glacierable_cli.errors import CommandError, ExitCode, UsageError
from glacierable_cli.output import print_json, printable
from glacierable_cli.plan_cmd import cost_text
from glacierable_cli.render import Renderer, size_text
from glacierable_cli.selection import PREFIX_OPTIONS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `check`."""
    codes = ", ".join(code.value for code in ProblemCode)
    parser = subparsers.add_parser(
        "check",
        help="check that every backup under a prefix can be restored, and what it costs",
        description=(
            "For each backup chain under PREFIX (in every folder below it): its sets, volumes, storage "
            "cost and the cost and time to restore its latest point; then every problem found "
            f"({codes}), with what to do. Exit {ExitCode.OK} when healthy, {ExitCode.FAILED} when any "
            f"problem is found, {ExitCode.USAGE} for bad usage. Reads only listings, tags and the "
            "bucket's lifecycle rules; changes nothing."
        ),
    )
    options.add_bucket_option(parser)
    parser.add_argument(
        "--prefix",
        default="",
        help="the backup's folder, as in duplicity's URL boto3+s3://BUCKET/PREFIX, or a folder above "
        "several backups (default: the whole bucket)",
    )
    for option, dest in PREFIX_OPTIONS:
        parser.add_argument(option, dest=dest, default=None, metavar="PREFIX", help=f"duplicity's {option}")
    parser.add_argument(
        "--days",
        type=options.whole_number(MIN_DAYS, MAX_DAYS),
        default=None,
        help="days after which the archive rule moves a volume, for volume-not-archived (default: the "
        f"bucket's rule's, else {DEFAULT_DAYS})",
    )
    options.add_concurrency_option(
        parser, default=DEFAULT_CONCURRENCY, maximum=MAX_CONCURRENCY, help_text="tags read at once"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON Lines record per chain and per problem, then a summary",
    )
    options.add_endpoint_option(parser)
    parser.set_defaults(func=run)


def now() -> int:
    """The time the check is made at (epoch s); tests replace it to age what they uploaded."""
    return int(time.time())


def run(args: argparse.Namespace) -> int:
    try:
        folder = folder_of(args.prefix)
    except PrefixError as error:
        raise UsageError(f"--prefix {error}") from None
    file_prefixes = DuplicityPrefixes(
        file_prefix=args.file_prefix or "",
        archive=args.file_prefix_archive or "",
        manifest=args.file_prefix_manifest or "",
        signature=args.file_prefix_signature or "",
        jsonstat=args.file_prefix_jsonstat or "",
    )
    client = s3_client(endpoint_url=args.endpoint_url, max_pool_connections=args.concurrency)
    try:
        report = check_bucket(
            client,
            args.bucket,
            folder,
            now=now(),
            prefixes=file_prefixes,
            days=args.days,
            concurrency=args.concurrency,
            endpoint_url=args.endpoint_url,
        )
    except CheckError as error:
        raise CommandError(str(error)) from None
    if not report.backup_found:
        raise CommandError(nothing_found(report))
    if args.json:
        for chain in report.chains:
            print_json("chain", {"bucket": report.bucket, **chain.to_json()})
        for problem in report.problems:
            print_json("problem", {"bucket": report.bucket, **problem.to_json()})
        print_json("check", report.to_json())
    else:
        render = Renderer()
        for index, chain in enumerate(report.chains):
            if index:
                render.line()
            render.rows(chain_rows(report.bucket, chain))
        render_problems(render, report.problems)
        render.line()
        render.line(summary_text(report))
    return ExitCode.OK if report.healthy else ExitCode.FAILED


def nothing_found(report: CheckReport) -> str:
    """No duplicity file with these prefixes: say where we looked, and which prefixes are there."""
    selected = " ".join(report.prefixes.options()) or "no --file-prefix options"
    found = " or ".join(" ".join(p.options()) or "no --file-prefix options" for p in report.other_prefixes)
    hint = f"; the files there need {found}" if found else ""
    return f"no duplicity backup under s3://{report.bucket}/{report.prefix} with {selected}{hint}"


def chain_rows(bucket: str, chain: ChainHealth) -> list[tuple[str, str]]:
    """One chain: its sets, volumes per class, storage cost, and the restore of its latest point."""
    incs = chain.incremental_times
    sets = f"full {format_time(chain.full_time)}" + (
        f" + {len(incs)} incremental(s) to {format_time(incs[-1])}" if incs else ""
    )
    classes = ", ".join(
        f"{cls} {usage.count} ({size_text(usage.bytes)})"
        for cls, usage in sorted(chain.volume_classes.items())
    )
    storage = f"~${chain.storage_usd_per_month:,.2f} a month ({chain.object_count} objects, "
    storage += f"{size_text(chain.object_bytes)})"
    if chain.unpriced_classes:
        storage += f", not counting {', '.join(chain.unpriced_classes)}"
    rows = [
        ("backup", duplicity_url(bucket, chain.folder)),
        ("chain", sets),
        (
            "volumes",
            f"{chain.volume_count} ({size_text(chain.volume_bytes)})" + (f": {classes}" if classes else ""),
        ),
        ("storage", storage),
        ("latest point", format_time(chain.restore_time)),
    ]
    if chain.restore_error is not None:
        rows.append(("restore", f"impossible: {chain.restore_error}"))
    rows += [("restore", f"warning: {warning}") for warning in chain.restore_warnings]
    rows += [(f"  {cost.tier.value.lower()}", cost_text(cost)) for cost in chain.restore_costs]
    return [(label, printable(value)) for label, value in rows]


def render_problems(render: Renderer, problems: Sequence[Problem]) -> None:
    """Each problem: its code and subject, what is wrong, what to do, and the commands that do it."""
    for problem in problems:
        render.line()
        subject = problem.key or problem.set
        render.line(problem.code.value + (f"  {printable(subject)}" if subject else ""), style="bold")
        render.line(f"  {printable(problem.detail)}")
        render.line(f"  what to do: {printable(problem.action)}")
        for command in problem.commands:
            render.command(command, lead="    ")


def summary_text(report: CheckReport) -> str:
    """The last line: healthy, or how many problems of each code."""
    chains = f"{len(report.chains)} chain(s) under s3://{report.bucket}/{report.prefix}"
    if report.healthy:
        return f"healthy: {chains}, no problems"
    counts = ", ".join(f"{code} {count}" for code, count in report.problem_counts().items() if count)
    return f"{report.problem_count} problem(s) in {chains}: {counts}"
