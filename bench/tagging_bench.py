"""The tagging paths against SeaweedFS: the serial loop, backfill (library and command), the tagger handler.

Each run is a typed result with its objects, wall time, requests and the client's CPU, so the report can
put every figure beside the serial baseline of the same run, and beside the client's own limit (the same
backfill with no proxy and no added latency).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import time
from typing import TYPE_CHECKING, Any

from bench.api_calls import s3_event
from bench.meters import RequestCounter
from bench.runs import Run
from bench.serial_baseline import serial_tag
from glacierable.backfill import backfill
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def serial_run(client: S3Client, bucket: str, prefix: str, *, time_budget: float) -> Run:
    """The original script's loop (bench.serial_baseline), stopped after `time_budget` seconds."""
    counter = RequestCounter(client)
    cpu = time.process_time()
    result = serial_tag(client, bucket, prefix, time_budget=time_budget)
    return Run(
        "serial loop",
        result.total,
        result.elapsed,
        requests=counter.sent.value,
        client_cpu_seconds=time.process_time() - cpu,
        capped=True,
    )


def backfill_run(client: S3Client, bucket: str, prefix: str, *, concurrency: int, label: str) -> Run:
    """glacierable.backfill over a fresh prefix, in this process; fails loudly if anything is left."""
    counter = RequestCounter(client)
    cpu = time.process_time()
    summary = backfill(client, bucket, prefix=prefix, concurrency=concurrency)
    used = time.process_time() - cpu
    if not summary.ok or not summary.processed:
        raise RuntimeError(f"{label}: backfill did not tag everything: {summary.to_dict()}")
    return Run(
        label,
        summary.processed,
        summary.elapsed,
        requests=counter.sent.value,
        client_cpu_seconds=used,
        concurrency=concurrency,
    )


def tagger_handler_run(client: S3Client, bucket: str, keys: list[str]) -> Run:
    """The real tagger handler, one S3 event per invocation, as Lambda delivers them one after another."""
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "glacierable-tagger")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Glacierable")
    os.environ["ARCHIVE_UNKNOWN"] = "false"
    tagger: Any = importlib.import_module("glacierable.handlers.tagger")
    tagger.logger.registered_handler.stream = io.StringIO()  # a log line per object: not for the console
    counter = RequestCounter(client)
    cpu = time.process_time()
    started = time.monotonic()
    with tagger.s3.use(client), contextlib.redirect_stdout(io.StringIO()):  # the metrics (EMF) blobs
        for key in keys:
            tagger.handler(s3_event(bucket, key), FakeLambdaContext())
    return Run(
        "tagger handler",
        len(keys),
        time.monotonic() - started,
        requests=counter.sent.value,
        client_cpu_seconds=time.process_time() - cpu,
    )
