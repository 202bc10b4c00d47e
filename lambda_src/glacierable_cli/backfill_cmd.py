"""`glacierable backfill`: tag the objects that were uploaded before the tagger was deployed."""

from __future__ import annotations

import argparse
import sys

from glacierable.backfill import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    BackfillError,
    BackfillSummary,
    backfill,
)
from glacierable.clients import s3_client
from glacierable.prefixes import PrefixError, duplicity_url, key_prefix
from glacierable.prefixes import folder as folder_of
from glacierable.tagging import Action
from glacierable_cli import main
from glacierable_cli.output import print_json
from glacierable_cli.progress import ProgressBar

MAX_FAILURES_SHOWN = 20


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
    parser.add_argument("--bucket", required=True, help="the bucket duplicity writes to")
    parser.add_argument(
        "--prefix",
        default="",
        help="only keys under this prefix, read as duplicity reads its URL path: /host1 is host1, "
        "hosts//a/ is hosts/a/ (default: whole bucket)",
    )
    parser.add_argument("--dry-run", action="store_true", help="classify and count, write nothing")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"objects tagged at once, 1..{MAX_CONCURRENCY} (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--archive-unknown",
        action="store_true",
        help="archive keys that are no duplicity file (default: keep them in Standard)",
    )
    main.add_endpoint_option(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bucket: str = args.bucket
    concurrency: int = args.concurrency
    if not bucket or "/" in bucket:
        raise main.UsageError(f"--bucket must be a bucket name, not {bucket!r}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise main.UsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    try:
        prefix = key_prefix(args.prefix)
    except PrefixError as error:
        raise main.UsageError(f"--prefix {error}") from None
    client = s3_client(endpoint_url=args.endpoint_url, max_pool_connections=concurrency)

    progress = ProgressBar("classifying" if args.dry_run else "tagging", stream=sys.stderr)
    try:
        with progress:
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
        print(f"glacierable backfill: error: {exc}", file=sys.stderr)
        return 1

    if args.json:
        print_json("backfill", summary.to_dict())
    else:
        print(format_table(summary))
    if not summary.ok:
        print(format_failures(summary), file=sys.stderr)
        return 1
    if summary.prefix and summary.listed == 0:
        # A wrong prefix ('/host1', 'host1' for 'backups/host1') finds nothing: never report that as success.
        print(f"glacierable backfill: error: {nothing_listed(summary)}", file=sys.stderr)
        return 1
    return 0


def nothing_listed(summary: BackfillSummary) -> str:
    """Why a run under a prefix did nothing, and what to check."""
    folder = folder_of(summary.prefix)
    return (
        f"no objects under s3://{summary.bucket}/{summary.prefix}: check --prefix (the backup at "
        f"{duplicity_url(summary.bucket, folder)} is --prefix {folder})"
    )


def format_table(summary: BackfillSummary) -> str:
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
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    if summary.dry_run:
        lines.append("dry run: nothing was written")
    return "\n".join(lines)


def format_failures(summary: BackfillSummary) -> str:
    """The failed keys (the first few) and what to do about them."""
    failed = summary.failed
    lines = [f"glacierable backfill: {len(failed)} objects could not be tagged (rerun to retry):"]
    lines += [
        f"  {f.key}{f' (version {f.version_id})' if f.version_id else ''}: {f.error}"
        for f in failed[:MAX_FAILURES_SHOWN]
    ]
    if len(failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  … and {len(failed) - MAX_FAILURES_SHOWN} more (--json lists all)")
    return "\n".join(lines)
