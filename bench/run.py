"""`make bench`: backfill vs the original serial loop, through a proxy adding 50 ms per request, in one run.

Everything talks to 127.0.0.1 only: a moto server subprocess, and the latency proxy (a second
subprocess, so its event loop does not compete for this process's GIL with the client's threads).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.serial_baseline import serial_tag
from glacierable.backfill import backfill
from glacierable.s3 import s3_client
from glacierable.demo.emulator import FAKE_CREDENTIALS, MotoServer, free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results.json"
RESULTS_MD = ROOT / "bench" / "results.md"
BUCKET = "bench-backups"
SPEEDUP_TARGET = 15.0
CEILING_TARGET = 0.80


def duplicity_keys(count: int, prefix: str, seed: int = 7) -> list[str]:
    """Keys of a plausible duplicity history: monthly fulls (many volumes), daily incrementals (a few)."""
    rng = random.Random(seed)
    keys: list[str] = []
    moment = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)

    def stamp(when: datetime) -> str:
        return when.strftime("%Y%m%dT%H%M%SZ")

    while len(keys) < count:
        full = stamp(moment)
        keys += [f"{prefix}duplicity-full.{full}.vol{n}.difftar.gpg" for n in range(1, rng.randint(20, 40))]
        keys += [
            f"{prefix}duplicity-full.{full}.manifest.gpg",
            f"{prefix}duplicity-full-signatures.{full}.sigtar.gpg",
        ]
        previous = moment
        for _ in range(29):
            current = previous + timedelta(days=1)
            span = f"{stamp(previous)}.to.{stamp(current)}"
            keys += [f"{prefix}duplicity-inc.{span}.vol{n}.difftar.gpg" for n in range(1, rng.randint(2, 5))]
            keys += [
                f"{prefix}duplicity-inc.{span}.manifest.gpg",
                f"{prefix}duplicity-new-signatures.{span}.sigtar.gpg",
            ]
            previous = current
        moment = previous + timedelta(days=1)
    return keys[:count]


def create_objects(client: S3Client, keys: list[str]) -> None:
    def put(key: str) -> None:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"duplicity")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, keys))


@contextmanager
def latency_proxy(upstream: str, latency_ms: float) -> Iterator[tuple[str, int]]:
    """The proxy in its own process; yields its URL and process id."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.latency_proxy",
            f"--upstream={upstream}",
            f"--port={port}",
            f"--latency-ms={latency_ms}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"latency proxy did not start (said {line!r})")
        yield line.removeprefix("listening on ").strip(), process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class Tally:
    """A thread-safe counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, **_: Any) -> None:
        with self._lock:
            self.value += 1


class RequestCounter:
    """HTTP requests a client sends (retries included) and API calls, through botocore's event hooks."""

    def __init__(self, client: S3Client) -> None:
        self.sent = Tally()
        self.calls = Tally()
        client.meta.events.register("before-send.s3", self.sent.add)
        client.meta.events.register("before-call.s3", self.calls.add)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used so far, from /proc/stat (Linux)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Cores used per process during a phase: is the emulator, the proxy or the client the limit?"""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.cores: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = {name: process_cpu(pid) for name, pid in self.pids.items()}
        sample["client"] = time.process_time()
        sample["machine"] = machine_busy()
        sample["wall"] = time.monotonic()
        return sample

    def __enter__(self) -> CpuMeter:
        self._before = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._sample()
        wall = after.pop("wall") - self._before["wall"]
        self.cores = {name: round((value - self._before[name]) / wall, 2) for name, value in after.items()}
        # Whatever else runs on this machine (other jobs) competes for the same cores.
        self.cores["others"] = round(
            self.cores["machine"] - sum(v for k, v in self.cores.items() if k != "machine"), 2
        )


@dataclass
class Ceiling:
    requests: int
    seconds: float
    threads: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def measure_ceiling(client: S3Client, keys: list[str], threads: int, seconds: float) -> Ceiling:
    """GetObjectTagging as fast as `threads` threads can go, straight to the emulator."""
    deadline = time.monotonic() + seconds
    done = Tally()
    start = threading.Barrier(threads + 1)

    def hammer(offset: int) -> None:
        start.wait()
        for key in itertools.islice(itertools.cycle(keys), offset, None):
            if time.monotonic() >= deadline:
                return
            client.get_object_tagging(Bucket=BUCKET, Key=key)
            done.add()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(hammer, n * 7) for n in range(threads)]
        start.wait()
        began = time.monotonic()
        for future in futures:
            future.result()
        elapsed = time.monotonic() - began
    return Ceiling(done.value, elapsed, threads)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": round(load[0], 2),
    }


def diagnose(results: dict[str, Any]) -> dict[str, float]:
    """Where the backfill's time goes: moto's CPU per request, and the rate if moto had a core to itself."""
    backfill_run = results["backfill"]
    moto_cores = results["cpu_cores_used"]["backfill"]["moto"]
    moto_ms = 1000 * moto_cores / backfill_run["requests_per_second"] if moto_cores else 0.0
    requests_per_object = backfill_run["requests"] / backfill_run["objects"]
    projected = 1000 / moto_ms / requests_per_object if moto_ms else 0.0
    return {
        "moto_cpu_ms_per_request": round(moto_ms, 2),
        "moto_cores_during_backfill": moto_cores,
        "requests_per_object": round(requests_per_object, 3),
        # A projection, not a measurement: what the same backfill would do if moto got one whole core.
        "projected_objects_per_second_with_one_core_for_moto": round(projected, 1),
        "projected_speedup_with_one_core_for_moto": round(
            projected / results["serial"]["objects_per_second"], 1
        ),
    }


def _diagnosis(results: dict[str, Any]) -> str:
    d = results["diagnosis"]
    return (
        f"Moto spent {d['moto_cpu_ms_per_request']:.1f} ms of CPU per request and got "
        f"{d['moto_cores_during_backfill']:.2f} of a core during the backfill "
        f"(other processes on the machine: {results['cpu_cores_used']['backfill']['others']:.2f} cores). "
        f"With a core to itself, the same backfill would reach about "
        f"{d['projected_objects_per_second_with_one_core_for_moto']:.0f} objects/s "
        f"({d['projected_speedup_with_one_core_for_moto']:.1f}x the serial loop): "
        "a projection, not a measurement."
    )


def markdown(results: dict[str, Any]) -> str:
    s, b, c = results["serial"], results["backfill"], results["ceiling"]
    rows = [
        (
            f"Serial loop (original script; {s['objects']} objects in {s['seconds']:.0f}s), objects/s",
            f"{s['objects_per_second']:.1f}",
            "",
        ),
        (f"Backfill (concurrency {b['concurrency']}), objects/s", f"{b['objects_per_second']:.1f}", ""),
        ("Speed-up", f"{results['speedup']:.1f}x", f">= {SPEEDUP_TARGET:.0f}x"),
        ("Backfill, requests/s (GET + PUT tagging, list)", f"{b['requests_per_second']:.0f}", ""),
        (
            f"Emulator ceiling, GetObjectTagging/s ({c['threads']} threads, no proxy)",
            f"{c['requests_per_second']:.0f}",
            "",
        ),
        ("Backfill / ceiling", f"{results['ceiling_fraction']:.0%}", f">= {CEILING_TARGET:.0%}"),
        (
            "Same, per CPU-second moto got (load-independent)",
            f"{results['ceiling_fraction_per_moto_cpu']:.0%}",
            "",
        ),
        ("Targets met", "yes" if results["targets_met"] else "no", ""),
    ]
    lines = [
        f"{results['objects']} objects, {results['latency_ms']:.0f} ms added per request; "
        f"{results['machine']['cpu_count']} CPUs, {results['date']}",
        "",
        "| Measure | Value | Target |",
        "|---|---:|---|",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
        "",
        f"CPU cores used per phase ({results['machine']['cpu_count']} on this machine; "
        f"load average {results['machine']['load_average_1m_at_start']} at start):",
        "",
        "| Phase | moto | proxy | client | others | machine |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {phase} | {u['moto']:.2f} | {u['proxy']:.2f} | {u['client']:.2f} | {u['others']:.2f} "
            f"| {u['machine']:.2f} |"
            for phase, u in results["cpu_cores_used"].items()
        ),
        "",
        _diagnosis(results),
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    objects: int = args.objects
    concurrency: int = args.concurrency
    started = time.monotonic()
    info = machine()
    cpu: dict[str, dict[str, float]] = {}
    with MotoServer() as moto, latency_proxy(moto.url, args.latency_ms) as (proxy_url, proxy_pid):
        assert moto.process is not None
        pids = {"moto": moto.process.pid, "proxy": proxy_pid}
        threads_needed = max([*args.ceiling_threads, 16])
        direct = s3_client(endpoint_url=moto.url, max_pool_connections=threads_needed)
        direct.create_bucket(Bucket=BUCKET)
        serial_keys = duplicity_keys(objects, "serial/")
        backfill_keys = duplicity_keys(objects, "backfill/")
        # Same mix under two prefixes: both runs start from untagged objects.
        create_objects(direct, serial_keys + backfill_keys)
        log(f"created {2 * objects} objects in {time.monotonic() - started:.1f}s")

        serial_client = s3_client(endpoint_url=proxy_url, max_pool_connections=1)
        log(f"(a) serial loop through the proxy (at most {args.serial_budget:.0f}s) ...")
        with CpuMeter(pids) as meter:
            serial = serial_tag(serial_client, BUCKET, "serial/", time_budget=args.serial_budget)
        cpu["serial"] = meter.cores

        concurrent_client = s3_client(endpoint_url=proxy_url, max_pool_connections=concurrency)
        counter = RequestCounter(concurrent_client)
        log(f"(b) backfill, concurrency {concurrency}, through the proxy ...")
        with CpuMeter(pids) as meter:
            summary = backfill(concurrent_client, BUCKET, prefix="backfill/", concurrency=concurrency)
        cpu["backfill"] = meter.cores
        if not summary.ok or summary.processed != objects:
            log(f"backfill did not tag everything: {summary.to_dict()}")
            return 1

        ceilings: list[Ceiling] = []
        for threads in args.ceiling_threads:
            log(f"(c) emulator ceiling, {threads} threads, no proxy ...")
            with CpuMeter(pids) as meter:
                ceilings.append(measure_ceiling(direct, backfill_keys, threads, args.ceiling_seconds))
            cpu[f"ceiling_{threads}_threads"] = meter.cores
    ceiling = max(ceilings, key=lambda c: c.per_second)

    backfill_rate = summary.processed / summary.elapsed
    backfill_requests = counter.sent.value / summary.elapsed
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**info, "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "objects": objects,
        "latency_ms": args.latency_ms,
        "serial": {
            "objects_per_second": serial.objects_per_second,
            "seconds": serial.elapsed,
            "objects": serial.total,
        },
        "backfill": {
            "concurrency": concurrency,
            "objects_per_second": backfill_rate,
            "requests_per_second": backfill_requests,
            "requests": counter.sent.value,
            "api_calls": counter.calls.value,
            "seconds": summary.elapsed,
            "objects": summary.processed,
            "tagged_true": summary.tagged_by_decision[True],
            "tagged_false": summary.tagged_by_decision[False],
        },
        "ceiling": {
            "requests_per_second": ceiling.per_second,
            "threads": ceiling.threads,
            "sweep": [
                {
                    "threads": c.threads,
                    "requests": c.requests,
                    "seconds": c.seconds,
                    "per_second": c.per_second,
                }
                for c in ceilings
            ],
        },
        "cpu_cores_used": cpu,
        "speedup": backfill_rate / serial.objects_per_second,
        # Other jobs on the machine take CPU from moto unevenly between phases; dividing by the CPU moto
        # actually got compares the backfill's use of the emulator with the ceiling's on equal terms.
        "ceiling_fraction_per_moto_cpu": (backfill_requests / max(cpu["backfill"]["moto"], 0.01))
        / (ceiling.per_second / max(cpu[f"ceiling_{ceiling.threads}_threads"]["moto"], 0.01)),
        "ceiling_fraction": backfill_requests / ceiling.per_second,
        "total_seconds": time.monotonic() - started,
    }
    results["diagnosis"] = diagnose(results)
    results["targets_met"] = (
        results["speedup"] >= SPEEDUP_TARGET and results["ceiling_fraction"] >= CEILING_TARGET
    )
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    RESULTS_MD.write_text(table)
    print(table)
    log(
        f"wrote {RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)} "
        f"in {results['total_seconds']:.0f}s"
    )
    return 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _thread_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive thread counts like 16,64, got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=600)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--ceiling-threads",
        type=_thread_counts,
        default=[16, 64],
        help="thread counts to try for the emulator's ceiling; the best counts (default: 16,64)",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=4.0)
    parser.add_argument(
        "--serial-budget",
        type=float,
        default=60.0,
        help="stop the serial loop after this many seconds; its rate per object holds (default: 60)",
    )
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
