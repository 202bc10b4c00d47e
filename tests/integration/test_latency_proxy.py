"""The benchmark's latency proxy in front of a moto server: delays, keeps bodies intact, speaks HTTP/1.1."""

from __future__ import annotations

import http.client
import os
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from glacierable.clients import s3_client
from glacierable_dev.fault_proxy import LatencyProxy, ProxySettings, running_proxy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LATENCY = 0.05
MEGABYTE = os.urandom(1024 * 1024)


@pytest.fixture
def proxy(endpoint_url: str) -> Iterator[LatencyProxy]:
    with running_proxy(endpoint_url, ProxySettings(latency=LATENCY)) as running:
        yield running


@pytest.fixture
def via_proxy(proxy: LatencyProxy) -> S3Client:
    return s3_client(endpoint_url=proxy.url, max_pool_connections=4, max_attempts=1)


def connect(proxy: LatencyProxy) -> http.client.HTTPConnection:
    parts = urlsplit(proxy.url)
    assert parts.hostname and parts.port
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_each_request_takes_at_least_the_latency(via_proxy: S3Client, bucket: str) -> None:
    via_proxy.head_bucket(Bucket=bucket)  # connection set up outside the measurement
    for _ in range(3):
        started = time.monotonic()
        via_proxy.head_bucket(Bucket=bucket)
        assert time.monotonic() - started >= LATENCY


def test_latency_can_be_changed_while_running(proxy: LatencyProxy, via_proxy: S3Client, bucket: str) -> None:
    proxy.settings.latency = 0.3

    started = time.monotonic()
    via_proxy.head_bucket(Bucket=bucket)

    assert time.monotonic() - started >= 0.3


def test_put_and_get_pass_a_megabyte_through_intact(via_proxy: S3Client, bucket: str) -> None:
    via_proxy.put_object(Bucket=bucket, Key="big", Body=MEGABYTE)

    assert via_proxy.get_object(Bucket=bucket, Key="big")["Body"].read() == MEGABYTE


def test_head_returns_the_length_without_a_body(via_proxy: S3Client, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="big", Body=MEGABYTE)

    head = via_proxy.head_object(Bucket=bucket, Key="big")
    # The next request on the same connection parses cleanly only if HEAD sent no body bytes.
    after = via_proxy.get_object_tagging(Bucket=bucket, Key="big")

    assert head["ContentLength"] == len(MEGABYTE)
    assert after["TagSet"] == []


def test_chunked_request_body_arrives_intact(proxy: LatencyProxy, s3: S3Client, bucket: str) -> None:
    connection = connect(proxy)
    pieces = [MEGABYTE[i : i + 100_000] for i in range(0, len(MEGABYTE), 100_000)]

    connection.request("PUT", f"/{bucket}/chunked", body=iter(pieces), encode_chunked=True)
    response = connection.getresponse()
    response.read()

    assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == MEGABYTE


def test_client_connection_is_kept_alive(proxy: LatencyProxy, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="small", Body=b"hello", ACL="public-read")  # plain GETs, unsigned
    connection = connect(proxy)

    bodies = []
    for _ in range(3):
        connection.request("GET", f"/{bucket}/small")
        response = connection.getresponse()
        bodies.append(response.read())
        assert response.getheader("Connection") is None  # moto's "close" is not passed on
    local_port = connection.sock.getsockname()[1]
    connection.request("GET", f"/{bucket}/small")
    connection.getresponse().read()

    assert bodies == [b"hello"] * 3
    assert connection.sock.getsockname()[1] == local_port
    assert proxy.requests == 4


def test_client_asking_to_close_gets_its_connection_closed(proxy: LatencyProxy, bucket: str) -> None:
    connection = connect(proxy)

    connection.request("HEAD", f"/{bucket}", headers={"Connection": "close"})
    response = connection.getresponse()
    response.read()

    assert response.status == 200
    assert response.getheader("Connection") == "close"
    assert response.will_close


def test_unreachable_upstream_answers_502() -> None:
    # A port bound but not listening refuses connections, and nobody else can take it meanwhile.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        upstream = f"http://127.0.0.1:{held.getsockname()[1]}"
        with running_proxy(upstream, ProxySettings(latency=0)) as dead:
            connection = connect(dead)
            connection.request("GET", "/")
            response = connection.getresponse()

            assert response.status == 502
            assert b"upstream unreachable" in response.read()


def test_only_http_upstreams_are_accepted() -> None:
    with pytest.raises(ValueError, match="http://"):
        LatencyProxy("https://example.com")
