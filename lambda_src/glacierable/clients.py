"""One place to build AWS clients, so the Lambdas, the CLI, the demo and the tests share one retry policy."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# `standard`, not `adaptive`: adaptive's client-side rate limiter collapsed to a few requests/s after
# a handful of SlowDown replies (ARCHITECTURE.md); standard retries with backoff and recovers at once.
MAX_ATTEMPTS = 8  # in all, the first included
CONNECT_ATTEMPTS = 3
"""Attempts, in all, to open a connection that is refused or whose host name does not resolve.

Those failures are answered at once and mean a wrong or stopped endpoint far more often than a passing
fault: retried like throttling (8 attempts, backing off up to 20 s) they cost 30-50 s of silence before the
error. Throttling, 5xx replies, timeouts and dropped connections keep all MAX_ATTEMPTS.
"""
CONNECT_TIMEOUT = 10  # seconds to open a connection
READ_TIMEOUT = 60  # seconds to wait for the next bytes of an answer
CONNECT_RETRY_DELAY = 0.2  # seconds before each further connection attempt
ENDPOINT_ENV_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""Where an S3 client without an explicit endpoint finds one, first match wins (as boto3 reads them)."""


class EndpointError(ValueError):
    """An endpoint URL no client can use (no http(s) scheme, no host, a path, credentials)."""


class EndpointUnreachableError(EndpointConnectionError):
    """The endpoint refused every connection, or its host name did not resolve, CONNECT_ATTEMPTS times."""

    fmt = "cannot reach {service} at {endpoint}: {reason}"


def check_endpoint_url(url: str) -> str:
    """`url` if it can be a client's endpoint: `http(s)://host[:port]` and at most a '/' after it."""
    example = "e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is no number from 0 to 65535)
    except ValueError as error:
        raise EndpointError(f"{url!r} is not a URL ({error}); {example}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise EndpointError(f"{url!r} must start with http:// or https://; {example}")
    if not parts.hostname:
        raise EndpointError(f"{url!r} names no host; {example}")
    if parts.username is not None or parts.password is not None:
        raise EndpointError(f"{url!r} must not carry credentials (they come from the AWS environment)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EndpointError(
            f"{url!r} must be the server alone, without a path or query (the bucket is separate)"
        )
    if not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
        raise EndpointError(f"{url!r} is not a valid host name or address; {example}")
    return url


def s3_client(
    *,
    endpoint_url: str | None = None,
    max_pool_connections: int = 10,
    max_attempts: int = MAX_ATTEMPTS,
    region_name: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> S3Client:
    """An S3 client with standard retries; `endpoint_url` falls back to `AWS_ENDPOINT_URL`(_S3).

    Raises EndpointError for an endpoint no client can use, naming the variable it came from.
    """
    endpoint, source = endpoint_url, "endpoint_url"
    for name in ENDPOINT_ENV_VARS:
        if endpoint:
            break
        endpoint, source = os.environ.get(name), name
    if endpoint:
        try:
            check_endpoint_url(endpoint)
        except EndpointError as error:
            raise EndpointError(f"{source}: {error}") from None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        # Path style works against any endpoint (moto, MinIO) and against AWS for DNS-safe names.
        s3={"addressing_style": "path"} if endpoint else {},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or None,
        config=config,
        region_name=region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    give_up_when_unreachable(client, "S3", max_attempts=max_attempts)
    return client


def sqs_client(*, max_attempts: int = MAX_ATTEMPTS) -> SQSClient:
    """An SQS client with the S3 clients' standard retries; the endpoint comes from the environment."""
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, connect_timeout=10)
    client = boto3.session.Session().client("sqs", config=config)
    give_up_when_unreachable(client, "SQS", max_attempts=max_attempts)
    return client


def sns_client(*, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """An SNS client with the same retries; the endpoint comes from the environment.

    Typed Any: no SNS stubs are installed; the caller types what it uses (handlers.restore_ready.Publisher).
    """
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, connect_timeout=10)
    client = boto3.session.Session().client("sns", config=config)
    give_up_when_unreachable(client, "SNS", max_attempts=max_attempts)
    return client


def give_up_when_unreachable(client: BaseClient, service: str, *, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Limit `client` to CONNECT_ATTEMPTS quick attempts when it cannot connect, then raise a clear error.

    Runs first on botocore's `needs-retry` event: for a refused connection or an unresolvable host it
    decides alone (a short delay, then EndpointUnreachableError naming the endpoint and the cause); for
    anything else it returns None and the standard retry policy decides as before.
    """
    limit = max(1, min(CONNECT_ATTEMPTS, max_attempts))

    def needs_retry(
        *, attempts: int, caught_exception: BaseException | None = None, **_: Any
    ) -> float | None:
        # botocore raises EndpointConnectionError only when no connection could be opened at all
        # (urllib3's NewConnectionError or a DNS failure); timeouts and dropped connections are other types.
        if not isinstance(caught_exception, EndpointConnectionError):
            return None
        if attempts < limit:
            return CONNECT_RETRY_DELAY
        url = str(caught_exception.kwargs.get("endpoint_url", ""))
        cause = caught_exception.kwargs.get("error")
        raise EndpointUnreachableError(
            service=service, endpoint=_origin(url), reason=_reason(cause), endpoint_url=url, error=cause
        ) from caught_exception

    event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}"
    # The stubs type every handler as returning None; a needs-retry handler returns the delay (or None).
    handler = cast("Callable[..., None]", needs_retry)
    client.meta.events.register_first(event, handler, unique_id=f"glacierable-unreachable-{event}")


def _origin(url: str) -> str:
    """`scheme://host[:port]` of a request URL (the endpoint, without the bucket and key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def _reason(error: object) -> str:
    """Why no connection could be opened, from the exception botocore wrapped (and its causes)."""
    seen = 0
    while isinstance(error, BaseException) and seen < 8:
        if isinstance(error, socket.gaierror):
            return "its host name does not resolve"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror[:1].lower() + error.strerror[1:]
        error = error.__cause__ or error.__context__
        seen += 1
    return "no connection could be opened"
