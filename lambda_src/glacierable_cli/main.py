"""The `glacierable` operator command: one sub-command module per job, registered here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from importlib import import_module

from glacierable.clients import EndpointError, check_endpoint_url

# Each module exposes `register(subparsers)`, which adds its commands and sets `func` on them.
# `func(args) -> int` returns the exit code.
COMMAND_MODULES = (
    "glacierable_cli.classify_cmd",
    "glacierable_cli.backfill_cmd",
    "glacierable_cli.lifecycle_cmd",
    "glacierable_cli.restore_cmd",
    "glacierable_cli.demo_cmd",
)


class UsageError(Exception):
    """Bad command-line input: printed without a traceback, exit code 2."""


class ExitCode(IntEnum):
    """Every exit code the CLI gives (README, "Exit codes")."""

    OK = 0
    FAILED = 1
    """Something could not be done (a request failed, the bucket could not be read): see stderr."""
    USAGE = 2
    """Bad options or input: nothing was done."""
    NOT_READY = 3
    """`status`: some needed objects are not readable yet."""
    INTERRUPTED = 130
    """Ctrl-C: what was done so far is printed; rerunning the command continues."""


def endpoint_url(text: str) -> str:
    """argparse type of `--endpoint-url`: a URL any client accepts, checked before any command runs."""
    try:
        return check_endpoint_url(text)
    except EndpointError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=None,
        metavar="URL",
        help="S3 endpoint, http(s)://host[:port] (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL or AWS)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glacierable",
        description="Glacier prices for duplicity backups in S3, with chain-aware restores.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (UsageError, EndpointError) as exc:  # EndpointError: a bad AWS_ENDPOINT_URL(_S3)
        parser.exit(2, f"glacierable {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
