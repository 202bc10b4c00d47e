"""The CLI's exit codes and the one mapping from errors to them (README, "Exit codes")."""

from __future__ import annotations

from enum import IntEnum

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error
from glacierable.clients import EndpointError


class ExitCode(IntEnum):
    """Every exit code the CLI gives."""

    OK = 0
    FAILED = 1
    """Something could not be done (a request failed, the bucket could not be read): see stderr."""
    USAGE = 2
    """Bad options or input: nothing was done."""
    NOT_READY = 3
    """`status`: some needed objects are not readable yet."""
    INTERRUPTED = 130
    """Ctrl-C: what was done so far is printed; rerunning the command continues."""


class UsageError(Exception):
    """Bad command-line input: printed without a traceback, exit code 2."""


class CommandError(Exception):
    """A failure worth one line on stderr and exit code 1 (not a usage error)."""


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code an error ends the command with, or None for an error that is a bug (traceback)."""
    if isinstance(error, UsageError | EndpointError):  # EndpointError: a bad AWS_ENDPOINT_URL(_S3)
        return ExitCode.USAGE
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, CommandError | ClientError | BotoCoreError):
        return ExitCode.FAILED
    return None


def message_for(error: BaseException) -> str:
    """The one line printed for an error with an exit code."""
    if isinstance(error, ClientError | BotoCoreError):
        return describe_error(error)
    return str(error)
