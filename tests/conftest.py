"""Shared fixtures: fake credentials everywhere, and a real moto S3 server over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from glacierable.clients import s3_client
from glacierable_dev.emulator import FAKE_CREDENTIALS, MotoServer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Set before anything builds a client: no test may reach a real AWS endpoint or real credentials.
os.environ.update(FAKE_CREDENTIALS)
for _name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_name, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        # Anything that forgets its endpoint still lands here, never on AWS.
        os.environ["AWS_ENDPOINT_URL"] = server.url
        yield server
        os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def endpoint_url(moto_server: MotoServer) -> str:
    return moto_server.url


@pytest.fixture
def s3(moto_server: MotoServer) -> S3Client:
    return s3_client(endpoint_url=moto_server.url, max_pool_connections=32)


@pytest.fixture
def bucket(s3: S3Client) -> str:
    """A fresh, empty bucket per test (names are unique, so tests never see each other's objects)."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def versioned_bucket(s3: S3Client, bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket
