"""The restore measures on moto (the only emulator with RestoreObject), each beside a serial loop of the run.

The serial RestoreObject loop (one object at a time, as rclone's `backend restore` does), the library's
fan-out (`request_restores`), `glacierable restore` as a whole process (planning included) over a restore
point of the same size, and the emulator's ceiling without the proxy. Also the fan-out's design rate on AWS,
from the stack's own constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.meters import Ceiling, CpuMeter, RequestCounter, measure_ceiling
from bench.restore_bench import RestoreRun, fan_out, serial_restores
from bench.runs import Run, command_run
from bench.servers import latency_proxy
from bench.workload import chain_keys, create_objects, volume_keys
from glacierable.clients import s3_client
from glacierable_dev.emulator import MotoServer

BUCKET = "bench-backups"
S3_RESTORE_REQUESTS_PER_SECOND = 1000
"""S3's limit per account and Region (ARCHITECTURE.md, AWS limits)."""


@dataclass(frozen=True)
class DesignRate:
    """The deployed fan-out's restore requests per second: workers x threads x one thread's rate."""

    workers: int
    threads: int
    per_thread: int

    @property
    def requests_per_second(self) -> int:
        return self.workers * self.threads * self.per_thread

    @property
    def share_of_limit(self) -> float:
        return self.requests_per_second / S3_RESTORE_REQUESTS_PER_SECOND

    def to_json(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "threads": self.threads,
            "per_thread": self.per_thread,
            "requests_per_second": self.requests_per_second,
            "s3_limit": S3_RESTORE_REQUESTS_PER_SECOND,
            "share_of_limit": round(self.share_of_limit, 3),
        }


def design_rate() -> DesignRate:
    """Read from infra/restore.py, so the report cannot drift from what `cdk deploy` builds."""
    from infra import restore  # aws_cdk: seconds to import, so only here

    return DesignRate(
        restore.WORKER_MAX_CONCURRENCY, restore.WORKER_THREADS, restore.REQUESTS_PER_SECOND_PER_THREAD
    )


@dataclass
class RestoreResults:
    """Everything the restore section measured."""

    volumes: int
    latency_ms: float
    concurrency: int
    serial: RestoreRun
    fan_out: RestoreRun
    fan_out_http_requests: int
    command: Run
    ceilings: list[Ceiling]
    design: DesignRate
    cpu_cores_used: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ceiling(self) -> Ceiling:
        return max(self.ceilings, key=lambda c: c.per_second)

    @property
    def speedup(self) -> float:
        return self.fan_out.per_second / self.serial.per_second

    @property
    def ceiling_fraction(self) -> float:
        """The fan-out's HTTP requests/s against the emulator's own ceiling (no proxy)."""
        return self.fan_out_http_requests / self.fan_out.seconds / self.ceiling.per_second

    @property
    def command_speedup(self) -> float:
        return self.command.objects_per_second / self.serial.per_second

    def to_json(self) -> dict[str, Any]:
        return {
            "volumes": self.volumes,
            "latency_ms": self.latency_ms,
            "concurrency": self.concurrency,
            "serial": _restore_run(self.serial),
            "fan_out": {
                **_restore_run(self.fan_out),
                "http_requests": self.fan_out_http_requests,
                "http_requests_per_second": round(self.fan_out_http_requests / self.fan_out.seconds, 1),
            },
            "command": {
                **self.command.to_json(),
                "http_requests_per_object": round(self.command.requests / self.command.objects, 3),
            },
            "ceiling": {
                "requests_per_second": round(self.ceiling.per_second, 1),
                "threads": self.ceiling.threads,
                "sweep": [
                    {"threads": c.threads, "requests": c.requests, "per_second": round(c.per_second, 1)}
                    for c in self.ceilings
                ],
            },
            "speedup": round(self.speedup, 2),
            "command_speedup": round(self.command_speedup, 2),
            "ceiling_fraction": round(
                self.fan_out_http_requests / self.fan_out.seconds / self.ceiling.per_second, 3
            ),
            "design": self.design.to_json(),
            "cpu_cores_used": self.cpu_cores_used,
        }


def _restore_run(run: RestoreRun) -> dict[str, Any]:
    return {
        "objects": run.keys,
        "seconds": round(run.seconds, 2),
        "requests_per_second": round(run.per_second, 1),
        "requested": run.requested,
        "failed": run.failed,
        "capped": run.capped,
    }


def run_restores(
    *,
    volumes: int,
    latency_ms: float,
    concurrency: int,
    serial_budget: float,
    ceiling_threads: list[int],
    ceiling_seconds: float,
    log: Callable[[str], None],
) -> RestoreResults:
    """Start moto and the proxy, measure every restore figure, stop them."""
    cpu: dict[str, dict[str, float]] = {}
    with MotoServer() as moto, latency_proxy(moto.url, latency_ms) as (proxy_url, proxy_pids):
        assert moto.process is not None
        pids: dict[str, int | list[int]] = {"moto": moto.process.pid, "proxy": proxy_pids}
        direct = s3_client(endpoint_url=moto.url, max_pool_connections=max(*ceiling_threads, 16))
        direct.create_bucket(Bucket=BUCKET)
        serial_keys, fan_out_keys = volume_keys(volumes, "serial/"), volume_keys(volumes, "fan-out/")
        log(f"(r0) moto at {moto.url}: creating {3 * volumes:,} archived volumes ...")
        create_objects(direct, BUCKET, serial_keys + fan_out_keys, archive_volumes=True)
        create_objects(direct, BUCKET, chain_keys("command/", volumes), archive_volumes=True)
        # Standard objects: moto refuses GetObjectTagging on archived ones.
        ceiling_keys = volume_keys(200, "ceiling/")
        create_objects(direct, BUCKET, ceiling_keys)

        slow = s3_client(endpoint_url=proxy_url, max_pool_connections=concurrency)
        log(f"(r1) serial RestoreObject loop behind +{latency_ms:.0f} ms (at most {serial_budget:.0f} s) ...")
        with CpuMeter(pids) as meter:
            serial = serial_restores(slow, BUCKET, serial_keys, time_budget=serial_budget)
        cpu["serial"] = meter.cores
        counter = RequestCounter(slow)
        log(f"(r2) restore fan-out, concurrency {concurrency}, behind the proxy ...")
        with CpuMeter(pids) as meter:
            fanned, report = fan_out(slow, BUCKET, fan_out_keys, concurrency=concurrency)
        cpu["fan_out"] = meter.cores
        if not report.ok or len(report.requested) != volumes:
            raise RuntimeError(f"the fan-out did not request every volume: {report.to_json(max_failures=5)}")
        fan_out_requests = counter.sent.value
        log("(r3) `glacierable restore` as a whole process, behind the proxy ...")
        with CpuMeter(pids) as meter:
            command = command_run(
                [
                    "restore",
                    f"--bucket={BUCKET}",
                    "--prefix=command/",
                    f"--endpoint-url={proxy_url}",
                    f"--concurrency={concurrency}",
                    "--json",
                ],
                objects=volumes,
                label="glacierable restore",
                concurrency=concurrency,
            ).run
        cpu["command"] = meter.cores
        ceilings = []
        for threads in ceiling_threads:
            log(f"(r4) emulator ceiling, {threads} threads, no proxy ...")
            with CpuMeter(pids) as meter:
                ceilings.append(measure_ceiling(direct, BUCKET, ceiling_keys, threads, ceiling_seconds))
            cpu[f"ceiling_{threads}_threads"] = meter.cores
    return RestoreResults(
        volumes=volumes,
        latency_ms=latency_ms,
        concurrency=concurrency,
        serial=serial,
        fan_out=fanned,
        fan_out_http_requests=fan_out_requests,
        command=command,
        ceilings=ceilings,
        design=design_rate(),
        cpu_cores_used=cpu,
    )
