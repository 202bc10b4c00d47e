"""Peak memory and CPU of the reconcile Lambda's sweep over N objects on a moto server, in a fresh process.

`python -m bench.reconcile_memory --objects N [N ...] --modes skip tag --measure rss|tracemalloc` prints
one JSON line per size and mode. A moto server subprocess holds the bucket (so its memory is not counted);
a child process uploads the N keys; then a fresh process per mode runs the real reconcile handler once, as
Lambda would. `tag`: every object is new and untagged (a GET and a PUT of its
tags each, the sweep's most expensive case); `skip`: the clock is moved past the window, so every object is
listed and skipped (what most of a large bucket costs a daily sweep). `rss` is the growth of the peak
resident set (VmHWM) over the handler's run; `tracemalloc` the peak of Python allocations during it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.plan_memory import _max_rss_mb
from bench.workload import duplicity_keys
from glacierable.clients import s3_client
from glacierable.fanout import bounded_map
from glacierable_dev.emulator import FAKE_CREDENTIALS, MotoServer
from glacierable_dev.lambdas import FakeLambdaContext

FOLDER = "host1/"
UPLOAD_THREADS = 32


def populate(url: str, bucket: str, objects: int) -> None:
    """Upload `objects` empty duplicity-named keys (run in a child process)."""
    client = s3_client(endpoint_url=url, max_pool_connections=UPLOAD_THREADS)
    client.create_bucket(Bucket=bucket)
    keys = duplicity_keys(objects, FOLDER)
    for _ in bounded_map(
        lambda key: client.put_object(Bucket=bucket, Key=key, Body=b""), keys, concurrency=UPLOAD_THREADS
    ):
        pass


def measure(url: str, bucket: str, objects: int, mode: str, how: str) -> dict[str, Any]:
    """Run the reconcile handler once over the bucket's objects; its peak memory (measured `how`) and CPU."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "BUCKET": bucket,
            "PREFIX": FOLDER,
            "RECONCILE_DAYS": "3",
            "POWERTOOLS_METRICS_NAMESPACE": "Glacierable",
            "POWERTOOLS_SERVICE_NAME": "glacierable-reconcile",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    from glacierable.handlers import reconcile  # after the environment: Metrics() reads it

    if mode == "skip":
        reconcile._now = lambda: datetime.now(UTC) + timedelta(days=4)
    baseline = _max_rss_mb()
    if how == "tracemalloc":
        tracemalloc.start()
    cpu, started = time.process_time(), time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):  # the metrics (EMF) blob Lambda would print
        summary = reconcile.handler({}, FakeLambdaContext("glacierable-reconcile"))
    cpu, elapsed = time.process_time() - cpu, time.monotonic() - started
    result: dict[str, Any] = {
        "objects": objects,
        "mode": mode,
        "measure": how,
        "listed": summary["listed"],
        "tagged": summary["actions"]["tagged"],
        "skipped": summary["skipped"],
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_ms_per_object": round(1000 * cpu / objects, 3),
    }
    if how == "tracemalloc":
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    else:
        peak = _max_rss_mb()
        result |= {
            "rss_before_mb": round(baseline, 1),
            "rss_peak_mb": round(peak, 1),
            "rss_growth_mb": round(peak - baseline, 1),
        }
    return result


def series(sizes: list[int], modes: list[str], how: str) -> None:
    """For each size: one moto server and bucket, then one fresh process per mode (skip first: it tags
    nothing, so the tag run after it still finds every object untagged)."""
    os.environ.update(FAKE_CREDENTIALS)
    for objects in sizes:
        with MotoServer() as server:
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            _child("populate", server.url, bucket, str(objects))
            for mode in sorted(modes, key=("skip", "tag").index):
                _child("measure", server.url, bucket, str(objects), mode, how)


def _child(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "bench.reconcile_memory", *args], check=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["populate"]:
        url, bucket, objects = argv[1:]
        populate(url, bucket, int(objects))
        return 0
    if argv[:1] == ["measure"]:
        url, bucket, objects, mode, how = argv[1:]
        print(json.dumps(measure(url, bucket, int(objects), mode, how)), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, nargs="+", default=[20_000, 50_000])
    parser.add_argument("--modes", choices=("tag", "skip"), nargs="+", default=["skip", "tag"])
    parser.add_argument("--measure", choices=("rss", "tracemalloc"), default="rss")
    args = parser.parse_args(argv)
    series(args.objects, args.modes, args.measure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
