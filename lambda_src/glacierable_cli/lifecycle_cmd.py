"""`glacierable lifecycle apply|remove|show`: the custom resource's merge, run by hand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import error_code, error_message
from glacierable.clients import s3_client
from glacierable.lifecycle import (
    DEFAULT_DAYS,
    DEFAULT_STORAGE_CLASS,
    OUR_RULE_IDS,
    STORAGE_CLASSES,
    LifecycleError,
    Rule,
    describe_change,
    validate_days,
    validate_prefix,
    validate_storage_class,
)
from glacierable.lifecycle_store import LifecycleConfig, plan_apply, plan_remove, read_config, replace_rules
from glacierable_cli import options
from glacierable_cli.errors import CommandError, UsageError
from glacierable_cli.output import print_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Command = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `lifecycle` and its sub-commands."""
    parser = subparsers.add_parser(
        "lifecycle",
        help="add, remove or show glacierable's lifecycle rules on a bucket (other rules are kept)",
        description="Add, remove or show glacierable's lifecycle rules; the bucket's other rules are kept.",
    )
    commands = parser.add_subparsers(dest="lifecycle_command", required=True, metavar="ACTION")

    apply = commands.add_parser("apply", help="add or replace our rules")
    _add_bucket_options(apply)
    apply.add_argument(
        "--prefix",
        default="",
        help="only keys under this prefix, read as duplicity reads its URL path: /host1 is host1, "
        "hosts//a/ is hosts/a/ (default: whole bucket)",
    )
    apply.add_argument(
        "--storage-class",
        default=DEFAULT_STORAGE_CLASS,
        help=f"one of {', '.join(STORAGE_CLASSES)} (default: {DEFAULT_STORAGE_CLASS})",
    )
    apply.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"days before transition (default: {DEFAULT_DAYS})"
    )
    apply.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    apply.set_defaults(func=_guarded(run_apply))

    remove = commands.add_parser("remove", help="remove our rules, keep the bucket's other rules")
    _add_bucket_options(remove)
    remove.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    remove.set_defaults(func=_guarded(run_remove))

    show = commands.add_parser("show", help="print the bucket's lifecycle rules")
    _add_bucket_options(show)
    show.set_defaults(func=_guarded(run_show))


def _add_bucket_options(parser: argparse.ArgumentParser) -> None:
    options.add_bucket_option(parser, help_text="the bucket duplicity writes to")
    options.add_endpoint_option(parser)


def _bucket(args: argparse.Namespace) -> str:
    bucket: str = args.bucket
    return bucket


def _print(document: dict[str, Any]) -> None:
    # The only output, always machine-readable: one JSON Lines record (glacierable_cli.output).
    print_json("lifecycle", document)


def _summary(action: str, bucket: str, before: list[Rule], after: list[Rule], dry_run: bool) -> None:
    change = describe_change(before, after)
    _print(
        {
            "action": action,
            "bucket": bucket,
            "dry_run": dry_run,
            "changed": change.changed,
            "added": change.added,
            "replaced": change.replaced,
            "removed": change.removed,
            "unchanged": change.unchanged,
            "rules": after,
        }
    )


def run_apply(args: argparse.Namespace) -> int:
    """Merge our rules into the bucket's configuration and print the result."""
    bucket = _bucket(args)
    try:
        # Validate before any request, so bad input is a usage error, not an S3 one.
        prefix = validate_prefix(args.prefix, setting="--prefix")
        storage_class = validate_storage_class(args.storage_class, setting="--storage-class")
        days = validate_days(args.days, setting="--days")
    except LifecycleError as exc:
        raise UsageError(str(exc)) from exc
    client = s3_client(endpoint_url=args.endpoint_url)
    config, merged = plan_apply(client, bucket, prefix=prefix, storage_class=storage_class, days=days)
    return _finish(client, args, config, merged)


def run_remove(args: argparse.Namespace) -> int:
    """Remove our rules from the bucket's configuration and print what is left."""
    bucket = _bucket(args)
    client = s3_client(endpoint_url=args.endpoint_url)
    config, remaining = plan_remove(client, bucket)
    return _finish(client, args, config, remaining)


def run_show(args: argparse.Namespace) -> int:
    """Print the bucket's lifecycle rules and which of them are ours."""
    bucket = _bucket(args)
    config = read_config(s3_client(endpoint_url=args.endpoint_url), bucket)
    ours = [rule["ID"] for rule in config.rules if rule.get("ID") in OUR_RULE_IDS]
    _print({"action": "show", "bucket": bucket, "ours": ours, "rules": config.rules})
    return 0


def _finish(client: S3Client, args: argparse.Namespace, config: LifecycleConfig, rules: list[Rule]) -> int:
    bucket = _bucket(args)
    if not args.dry_run:
        replace_rules(client, bucket, config, rules)
    _summary(args.lifecycle_command, bucket, config.rules, rules, args.dry_run)
    return 0


def _guarded(run: Command) -> Command:
    """S3 and merge failures as CommandErrors naming the bucket (the CLI maps them to exit code 1)."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ClientError as exc:
            raise CommandError(
                f"{error_code(exc, 'Error')}: {error_message(exc)} (bucket {args.bucket})"
            ) from None
        except (BotoCoreError, LifecycleError) as exc:
            raise CommandError(str(exc)) from None

    return guarded
