"""Client retries: an unreachable endpoint fails in seconds, naming it; what S3 answers is retried as before.

A port bound but not listening refuses every connection (and no other process can take it); a name under
`.invalid` (RFC 6761) resolves nowhere, without any query leaving the resolver for the internet.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from glacierable.backfill import BackfillError, backfill
from glacierable.clients import (
    CONNECT_ATTEMPTS,
    MAX_ATTEMPTS,
    EndpointUnreachableError,
    s3_client,
    sqs_client,
)
from glacierable_cli.main import main
from glacierable_dev.fault_proxy import LatencyProxy, ProxySettings

FAST = 5.0
"""Seconds an unreachable endpoint may take to fail (the old retries took 36-47 s)."""
UNRESOLVABLE = "http://glacierable-tests.invalid:9000"


@pytest.fixture
def refusing() -> Iterator[str]:
    """The URL of a local port that refuses connections: bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_refused_connection_fails_fast_naming_the_endpoint(refusing: str) -> None:
    client = s3_client(endpoint_url=refusing)
    started = time.monotonic()

    with pytest.raises(EndpointUnreachableError) as caught:
        client.list_objects_v2(Bucket="b")

    assert time.monotonic() - started < FAST
    assert str(caught.value) == f"cannot reach S3 at {refusing}: connection refused"


def test_unresolvable_host_fails_fast_naming_the_endpoint() -> None:
    client = s3_client(endpoint_url=UNRESOLVABLE)
    started = time.monotonic()

    with pytest.raises(EndpointUnreachableError) as caught:
        client.get_bucket_versioning(Bucket="b")

    assert time.monotonic() - started < FAST
    assert str(caught.value) == f"cannot reach S3 at {UNRESOLVABLE}: its host name does not resolve"


def test_connection_failures_get_a_few_quick_attempts(refusing: str) -> None:
    client = s3_client(endpoint_url=refusing)
    attempts: list[int] = []
    client.meta.events.register("before-send.s3", lambda **_: attempts.append(1))

    with pytest.raises(EndpointUnreachableError):
        client.head_bucket(Bucket="b")

    assert len(attempts) == CONNECT_ATTEMPTS


def test_sqs_client_fails_fast_too(refusing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", refusing)
    started = time.monotonic()

    with pytest.raises(EndpointUnreachableError, match=f"cannot reach SQS at {refusing}: connection refused"):
        sqs_client().list_queues()

    assert time.monotonic() - started < FAST


@pytest.mark.parametrize(
    "command",
    [
        ["backfill", "--bucket", "b"],
        ["lifecycle", "show", "--bucket", "b"],
        ["lifecycle", "apply", "--bucket", "b"],
    ],
    ids=["backfill", "lifecycle show", "lifecycle apply"],
)
def test_commands_report_an_unreachable_endpoint_in_one_line_within_seconds(
    command: list[str], refusing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()

    code = main([*command, "--endpoint-url", refusing])

    captured = capsys.readouterr()
    name = " ".join(command[: 2 if command[0] == "lifecycle" else 1])
    assert time.monotonic() - started < FAST
    assert (code, captured.out) == (1, "")
    assert captured.err == f"glacierable {name}: error: cannot reach S3 at {refusing}: connection refused\n"


def test_backfill_through_an_unreachable_endpoint_raises_with_the_endpoint(refusing: str) -> None:
    with pytest.raises(BackfillError, match=f"^cannot reach S3 at {refusing}: connection refused$"):
        backfill(s3_client(endpoint_url=refusing, max_pool_connections=32), "b")


# --- what S3 itself answers keeps every retry --------------------------------------------------------

ATTEMPTS = CONNECT_ATTEMPTS + 1
"""More than a connection failure gets, fewer than MAX_ATTEMPTS (each throttled retry may wait seconds)."""
assert ATTEMPTS <= MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (ProxySettings(latency=0.0, slowdown=1.0), ClientError),
        (ProxySettings(latency=0.0, internal_error=1.0), ClientError),
        (ProxySettings(latency=0.0, drop=1.0), ConnectionClosedError),
    ],
    ids=["SlowDown 503", "InternalError 500", "dropped connection"],
)
def test_throttling_server_errors_and_drops_use_every_attempt(
    fault_proxy: LatencyProxy, bucket: str, settings: ProxySettings, error: type[Exception]
) -> None:
    client = s3_client(endpoint_url=fault_proxy.url, max_attempts=ATTEMPTS)
    fault_proxy.settings = settings

    with pytest.raises(error):
        client.get_object_tagging(Bucket=bucket, Key="k")

    assert len(fault_proxy.handled()) == ATTEMPTS


def test_a_request_that_s3_throttles_then_answers_succeeds(fault_proxy: LatencyProxy, bucket: str) -> None:
    client = s3_client(endpoint_url=fault_proxy.url)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    # Seeded: this request's first draws are SlowDown or InternalError, then it gets through.
    fault_proxy.settings = ProxySettings(latency=0.0, slowdown=0.5, internal_error=0.2, seed=3)

    response = client.get_object_tagging(Bucket=bucket, Key="k")

    assert response["ResponseMetadata"]["RetryAttempts"] >= 1
