"""A fault proxy in front of the session's moto server, fresh for each test: its own settings and counters."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from glacierable.clients import s3_client
from glacierable_dev.emulator import MotoServer
from glacierable_dev.fault_proxy import LatencyProxy, ProxySettings, running_proxy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def fault_proxy(moto_server: MotoServer) -> Iterator[LatencyProxy]:
    """No latency and no faults until the test sets `fault_proxy.settings`."""
    with running_proxy(moto_server.url, ProxySettings(latency=0.0)) as proxy:
        yield proxy


@pytest.fixture
def faulty_s3(fault_proxy: LatencyProxy) -> S3Client:
    """A client as the tools build it (standard retries, glacierable.clients' attempts), through the proxy."""
    return s3_client(endpoint_url=fault_proxy.url, max_pool_connections=32)


@pytest.fixture
def bucket(s3: S3Client, request: pytest.FixtureRequest) -> str:
    """A fresh bucket named after the test: the faults drawn for its requests are the same in every run."""
    name = f"faults-{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]}"
    s3.create_bucket(Bucket=name)
    return name
