"""`glacierable backfill`: tag the objects that were uploaded before the tagger was deployed."""

from __future__ import annotations

import argparse

from glacierable.backfill import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    BackfillError,
    BackfillInterrupted,
    BackfillSummary,
    Failure,
    backfill,
)
from glacierable.clients import s3_client
from glacierable.prefixes import PrefixError, duplicity_url, key_prefix
from glacierable.prefixes import folder as folder_of
from glacierable.tagging import Action
from glacierable_cli import options
from glacierable_cli.errors import CommandError, ExitCode, UsageError
from glacierable_cli.output import print_json
from glacierable_cli.render import Renderer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `backfill`."""
    parser = subparsers.add_parser(
        "backfill",
        help="tag the objects already in a bucket (safe to rerun)",
        description=(
            "Tag every existing object under PREFIX (every version, in a versioned bucket) with "
            "glacierable=true|false, keeping its other tags and any glacierable tag it already has. "
            "Rerun to retry objects that failed. Exits 1 if any object could not be tagged, or if "
            "nothing at all is listed under a non-empty PREFIX."
        ),
    )
    options.add_bucket_option(parser, help_text="the bucket duplicity writes to")
    parser.add_argument(
        "--prefix",
        default="",
        help="only keys under this prefix, read as duplicity reads its URL path: /host1 is host1, "
        "hosts//a/ is hosts/a/ (default: whole bucket)",
    )
    parser.add_argument("--dry-run", action="store_true", help="classify and count, write nothing")
    options.add_concurrency_option(
        parser, default=DEFAULT_CONCURRENCY, maximum=MAX_CONCURRENCY, help_text="objects tagged at once"
    )
    parser.add_argument(
        "--archive-unknown",
        action="store_true",
        help="archive keys that are no duplicity file (default: keep them in Standard)",
    )
    options.add_endpoint_option(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bucket: str = args.bucket
    concurrency: int = args.concurrency
    try:
        prefix = key_prefix(args.prefix)
    except PrefixError as error:
        raise UsageError(f"--prefix {error}") from None
    client = s3_client(endpoint_url=args.endpoint_url, max_pool_connections=concurrency)

    render = Renderer()
    try:
        with render.progress("classifying" if args.dry_run else "tagging") as progress:
            summary = backfill(
                client,
                bucket,
                prefix=prefix,
                archive_unknown=args.archive_unknown,
                concurrency=concurrency,
                dry_run=args.dry_run,
                on_progress=progress.update,
            )
    except BackfillError as exc:
        raise CommandError(str(exc)) from None
    except BackfillInterrupted as interrupted:
        done = interrupted.summary
        render.line(
            f"\ninterrupted after {BackfillInterrupted.completed_of(done)} of {done.listed} listed objects "
            f"({done.tagged_by_decision[True] + done.tagged_by_decision[False]} tagged, "
            f"{len(done.failed)} failed); rerun the same command to finish (tagged objects are kept)",
            err=True,
        )
        raise

    if args.json:
        print_json("backfill", summary.to_dict())
    else:
        render.rows(table_rows(summary))
        if summary.dry_run:
            render.line("dry run: nothing was written")
    if not summary.ok:
        render.failures(
            f"glacierable backfill: {len(summary.failed)} objects could not be tagged (rerun to retry):",
            [failure_text(f) for f in summary.failed],
        )
        return ExitCode.FAILED
    if summary.prefix and summary.listed == 0:
        # A wrong prefix ('/host1', 'host1' for 'backups/host1') finds nothing: never report that as success.
        raise CommandError(nothing_listed(summary))
    return ExitCode.OK


def nothing_listed(summary: BackfillSummary) -> str:
    """Why a run under a prefix did nothing, and what to check."""
    folder = folder_of(summary.prefix)
    return (
        f"no objects under s3://{summary.bucket}/{summary.prefix}: check --prefix (the backup at "
        f"{duplicity_url(summary.bucket, folder)} is --prefix {folder})"
    )


def table_rows(summary: BackfillSummary) -> list[tuple[str, str]]:
    """The human summary: one row per count."""
    rate = summary.processed / summary.elapsed if summary.elapsed > 0 else 0.0
    rows: list[tuple[str, object]] = [("bucket", f"s3://{summary.bucket}/{summary.prefix}")]
    if summary.versioned:
        rows += [
            ("versioning", f"{summary.versioning} (every version is tagged)"),
            ("listed", f"{summary.listed} versions ({summary.noncurrent} noncurrent)"),
            ("delete markers", f"{summary.delete_markers} (skipped)"),
        ]
    else:
        rows.append(("listed", summary.listed))
    if summary.skipped:
        rows.append(("skipped (older)", summary.skipped))
    if summary.dry_run:
        rows += [
            ("would be true", summary.decisions[True]),
            ("would be false", summary.decisions[False]),
        ]
    else:
        rows += [
            ("tagged true", summary.tagged_by_decision[True]),
            ("tagged false", summary.tagged_by_decision[False]),
            ("already tagged", summary.actions[Action.KEPT]),
            ("gone", summary.actions[Action.GONE]),
            ("failed", len(summary.failed)),
        ]
    rows.append(("elapsed", f"{summary.elapsed:.1f} s ({rate:.0f} objects/s)"))
    return [(label, str(value)) for label, value in rows]


def failure_text(failure: Failure) -> str:
    """One failed object, its version and why."""
    version = f" (version {failure.version_id})" if failure.version_id else ""
    return f"{failure.key}{version}: {failure.error}"
