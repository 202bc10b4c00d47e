"""Options shared by the commands, each defined and validated once (argparse types fail with exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from glacierable.clients import EndpointError, check_endpoint_url


def endpoint_url(text: str) -> str:
    """argparse type of `--endpoint-url`: a URL any client accepts, checked before any command runs."""
    try:
        return check_endpoint_url(text)
    except EndpointError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def bucket_name(text: str) -> str:
    """argparse type of `--bucket`: a bucket's name, not a URL or a path (S3 checks the rest)."""
    if not text or "/" in text:
        raise argparse.ArgumentTypeError(f"must be a bucket name, not {text!r}")
    return text


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=None,
        metavar="URL",
        help="S3 endpoint, http(s)://host[:port] (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL or AWS)",
    )


def add_bucket_option(parser: argparse.ArgumentParser, *, required: bool = True, help_text: str = "") -> None:
    parser.add_argument(
        "--bucket",
        type=bucket_name,
        required=required,
        default=None,
        help=help_text or "the bucket duplicity backs up to",
    )


def add_concurrency_option(
    parser: argparse.ArgumentParser, *, default: int, maximum: int, help_text: str
) -> None:
    parser.add_argument(
        "--concurrency",
        type=whole_number(1, maximum),
        default=default,
        help=f"{help_text}, 1..{maximum} (default: {default})",
    )
