"""What `plan`, `restore` and `status` share: the backup they select, and the commands they print next."""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

from glacierable.clients import s3_client
from glacierable.duplicity_command import TARGET_PREFIX, duplicity_command
from glacierable.listing import ListingError
from glacierable.names import format_time
from glacierable.object_status import StatusError, load_plan
from glacierable.plan import PlanError, RestorePlan
from glacierable.pricing import Tier
from glacierable.restore import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from glacierable.restore_request import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, RequestError, RestoreRequest
from glacierable.timespec import ACCEPTED_FORMS, time_argument
from glacierable_cli import options
from glacierable_cli.errors import CommandError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX_OPTIONS = (
    ("--file-prefix", "file_prefix"),
    ("--file-prefix-archive", "file_prefix_archive"),
    ("--file-prefix-manifest", "file_prefix_manifest"),
    ("--file-prefix-signature", "file_prefix_signature"),
    ("--file-prefix-jsonstat", "file_prefix_jsonstat"),
)
"""duplicity's prefix options and the restore request's field for each."""


def selection_parser(*, bucket_required: bool = True) -> argparse.ArgumentParser:
    """The options that select a backup and a restore time, as a parent parser."""
    parser = argparse.ArgumentParser(add_help=False)
    options.add_bucket_option(
        parser,
        required=bucket_required,
        help_text="the bucket duplicity backs up to" + ("" if bucket_required else " (not with --function)"),
    )
    parser.add_argument(
        "--prefix",
        default=None,
        help="the backup's folder, as in duplicity's URL boto3+s3://BUCKET/PREFIX (default: bucket root)",
    )
    parser.add_argument(
        "--time", "-t", default="now", help=f"restore time, as duplicity's -t ({ACCEPTED_FORMS})"
    )
    for option, dest in PREFIX_OPTIONS:
        parser.add_argument(option, dest=dest, default=None, metavar="PREFIX", help=f"duplicity's {option}")
    options.add_concurrency_option(
        parser, default=DEFAULT_CONCURRENCY, maximum=MAX_CONCURRENCY, help_text="S3 requests at once"
    )
    parser.add_argument(
        "--target",
        metavar="DIR",
        default=None,
        help=f"the folder the printed duplicity command restores into (default: ./{TARGET_PREFIX}TIME)",
    )
    options.add_endpoint_option(parser)
    return parser


def add_tier(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--tier", default=Tier.STANDARD.value, help=help_text)


def add_days(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"{help_text}, {MIN_DAYS}..{MAX_DAYS} (default: {DEFAULT_DAYS})",
    )


def request_fields(args: argparse.Namespace) -> dict[str, object]:
    """The restore request's JSON fields from the options (only those given: defaults stay the Lambda's)."""
    fields: dict[str, object] = {"time": args.time}
    if args.prefix is not None:
        fields["prefix"] = args.prefix
    for _, dest in PREFIX_OPTIONS:
        value = getattr(args, dest)
        if value is not None:
            fields[dest] = value
    for name in ("tier", "days", "dry_run", "expedited_fallback"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    return fields


def restore_request(args: argparse.Namespace, now: int) -> RestoreRequest:
    """The options as one validated request, with the request's complaints worded as options."""
    try:
        return RestoreRequest.from_json(request_fields(args), now=now)
    except RequestError as error:
        raise UsageError(_as_option_names(str(error))) from None


def _as_option_names(message: str) -> str:
    names = (*PREFIX_OPTIONS, ("--days", "days"), ("--tier", "tier"), ("--time", "time"))
    for option, dest in sorted(names, key=lambda pair: -len(pair[1])):
        if message.startswith(dest):
            return option + message[len(dest) :]
    return message


def s3(args: argparse.Namespace) -> S3Client:
    return s3_for(args.endpoint_url, concurrency=args.concurrency)


def s3_for(endpoint_url: str | None, *, concurrency: int, region_name: str | None = None) -> S3Client:
    """The one way commands build their S3 client (tests count the requests made through it)."""
    return s3_client(endpoint_url=endpoint_url, max_pool_connections=concurrency, region_name=region_name)


def load(
    client: S3Client, bucket: str, request: RestoreRequest, restore_time: int, concurrency: int
) -> RestorePlan:
    try:
        folder, prefixes = request.folder, request.prefixes
        return load_plan(client, bucket, folder, restore_time, prefixes, concurrency=concurrency)
    except (PlanError, StatusError, ListingError) as error:
        raise CommandError(str(error)) from None


def point_json(args: argparse.Namespace, request: RestoreRequest, restore_time: int) -> dict[str, object]:
    """The fields every restore-related JSON record starts with: which backup, at which time."""
    return {
        "bucket": args.bucket,
        "prefix": request.folder,
        "time": request.time,
        "restore_time": restore_time,
        "restore_time_text": format_time(restore_time),
    }


def duplicity_command_for(
    args: argparse.Namespace,
    request: RestoreRequest,
    restore_time: int,
    *,
    par2: bool,
    bucket: str | None = None,
) -> str:
    """The duplicity command for this selection (`bucket`: the restore Lambda's, with --function)."""
    return duplicity_command(
        bucket or args.bucket,
        request.folder,
        restore_time,
        request.prefixes,
        args.endpoint_url,
        par2=par2,
        target=args.target,
    )


def glacierable_command(
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
