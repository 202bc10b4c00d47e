"""The `glacierable` operator command: one module per command, registered here, errors mapped once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from glacierable_cli import (
    backfill_cmd,
    check_cmd,
    classify_cmd,
    demo_cmd,
    lifecycle_cmd,
    plan_cmd,
    restore_cmd,
    run_cmd,
    status_cmd,
)
from glacierable_cli.errors import ExitCode, exit_code_for, message_for
from glacierable_cli.render import Renderer

COMMANDS = (
    classify_cmd,
    backfill_cmd,
    lifecycle_cmd,
    plan_cmd,
    restore_cmd,
    run_cmd,
    status_cmd,
    check_cmd,
    demo_cmd,
)
"""Each has `register(subparsers)`, which adds its parser and sets `func(args) -> exit code` on it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glacierable",
        description="Glacier prices for duplicity backups in S3, with chain-aware restores.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BaseException as error:
        code = exit_code_for(error)
        if code is None:
            raise
        if code is ExitCode.INTERRUPTED:
            print("interrupted", file=sys.stderr)
        elif code is ExitCode.USAGE:  # as argparse ends on bad options: SystemExit(2)
            parser.exit(code, f"glacierable {_command_name(args)}: error: {message_for(error)}\n")
        else:
            Renderer().error(_command_name(args), message_for(error))
        return code


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "lifecycle_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


if __name__ == "__main__":
    sys.exit(main())
