"""The tagging paths against SeaweedFS: the serial loop, backfill (library and command), the tagger handler.

Each run is a typed result with its objects, wall time, requests and the client's CPU, so the report can
put every figure beside the serial baseline of the same run, and beside the client's own limit (the same
backfill with no proxy and no added latency).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.api_calls import s3_event
from bench.meters import RequestCounter
from bench.serial_baseline import serial_tag
from glacierable.backfill import backfill
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TaggingRun:
    """One run over `objects` objects: how long, how many HTTP requests, how much of the client's CPU."""

    label: str
    objects: int
    seconds: float
    requests: int = 0
    client_cpu_seconds: float = 0.0
    concurrency: int = 1
    peak_rss_mb: float = 0.0
    capped: bool = False

    @property
    def objects_per_second(self) -> float:
        return self.objects / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_object(self) -> float:
        return 1000 * self.client_cpu_seconds / self.objects if self.objects else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "objects_per_second": round(self.objects_per_second, 1),
            "cpu_ms_per_object": round(self.cpu_ms_per_object, 2),
        }


def serial_run(client: S3Client, bucket: str, prefix: str, *, time_budget: float) -> TaggingRun:
    """The original script's loop (bench.serial_baseline), stopped after `time_budget` seconds."""
    counter = RequestCounter(client)
    cpu = time.process_time()
    result = serial_tag(client, bucket, prefix, time_budget=time_budget)
    return TaggingRun(
        "serial loop",
        result.total,
        result.elapsed,
        requests=counter.sent.value,
        client_cpu_seconds=time.process_time() - cpu,
        capped=True,
    )


def backfill_run(client: S3Client, bucket: str, prefix: str, *, concurrency: int, label: str) -> TaggingRun:
    """glacierable.backfill over a fresh prefix, in this process; fails loudly if anything is left."""
    counter = RequestCounter(client)
    cpu = time.process_time()
    summary = backfill(client, bucket, prefix=prefix, concurrency=concurrency)
    used = time.process_time() - cpu
    if not summary.ok or not summary.processed:
        raise RuntimeError(f"{label}: backfill did not tag everything: {summary.to_dict()}")
    return TaggingRun(
        label,
        summary.processed,
        summary.elapsed,
        requests=counter.sent.value,
        client_cpu_seconds=used,
        concurrency=concurrency,
    )


def command_run(argv: list[str], *, objects: int, label: str, concurrency: int = 1) -> CommandRun:
    """A whole `glacierable ...` process, as a user runs it: wall time, its CPU and peak RSS."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda_src"), str(ROOT)])}
    with tempfile.TemporaryDirectory() as scratch:
        measures = Path(scratch) / "measures.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bench.measured_command", str(measures), "--", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
        )
        seconds = time.monotonic() - started
        measured = json.loads(measures.read_text()) if measures.exists() else {}
    if done.returncode != 0:
        said = done.stderr.decode()[-2000:]
        raise RuntimeError(f"{label}: `glacierable {' '.join(argv)}` exited {done.returncode}: {said}")
    run = TaggingRun(
        label,
        objects,
        seconds,
        client_cpu_seconds=float(measured.get("cpu_seconds", 0.0)),
        concurrency=concurrency,
        peak_rss_mb=float(measured.get("peak_rss_mb", 0.0)),
    )
    return CommandRun(run, json_lines(done.stdout))


@dataclass(frozen=True)
class CommandRun:
    """A command's measures and the JSON records it printed."""

    run: TaggingRun
    records: list[dict[str, Any]]


def tagger_handler_run(client: S3Client, bucket: str, keys: list[str]) -> TaggingRun:
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
    return TaggingRun(
        "tagger handler",
        len(keys),
        time.monotonic() - started,
        requests=counter.sent.value,
        client_cpu_seconds=time.process_time() - cpu,
    )


def json_lines(stdout: bytes) -> list[dict[str, Any]]:
    """The JSON records a `--json` command printed, one per line."""
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
