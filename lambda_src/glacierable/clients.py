"""One place to build AWS clients, so the Lambdas, the CLI, the demo and the tests share one retry policy."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# `standard`, not `adaptive`: adaptive's client-side rate limiter collapsed to a few requests/s after
# a handful of SlowDown replies (ARCHITECTURE.md); standard retries with backoff and recovers at once.
MAX_ATTEMPTS = 8  # in all, the first included


def s3_client(
    *,
    endpoint_url: str | None = None,
    max_pool_connections: int = 10,
    max_attempts: int = MAX_ATTEMPTS,
    region_name: str | None = None,
) -> S3Client:
    """An S3 client with standard retries; `endpoint_url` falls back to `AWS_ENDPOINT_URL`(_S3)."""
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        # Path style works against any endpoint (moto, MinIO) and against AWS for DNS-safe names.
        s3={"addressing_style": "path"} if endpoint else {},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        config=config,
        region_name=region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


def sqs_client(*, max_attempts: int = MAX_ATTEMPTS) -> SQSClient:
    """An SQS client with the S3 clients' standard retries; the endpoint comes from the environment."""
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, connect_timeout=10)
    return boto3.session.Session().client("sqs", config=config)
