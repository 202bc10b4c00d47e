"""`make bench`: every measure of the benchmark report in one run, written to results.json and results.md.

Everything talks to 127.0.0.1 only: a moto server subprocess, and the latency proxy (a second subprocess, so
its event loop does not compete for this process's GIL with the client's threads). In order: the backfill
against the original script's serial loop, restore requests against a serial RestoreObject loop (both
through the proxy), the emulator's ceiling (without it), API calls per object for the tagger and for
planning, then, with the emulator stopped, the tagger's cold import and planning's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_import
from bench.api_calls import planning_calls, tagger_calls
from bench.meters import Ceiling, CpuMeter, RequestCounter, measure_ceiling
from bench.report import evaluate, markdown
from bench.restore_bench import fan_out, serial_restores
from bench.serial_baseline import serial_tag
from bench.servers import latency_proxy
from bench.workload import create_objects, duplicity_keys, volume_keys
from glacierable.backfill import backfill
from glacierable.clients import s3_client
from glacierable_dev.emulator import FAKE_CREDENTIALS, MotoServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results.json"
RESULTS_MD = ROOT / "bench" / "results.md"
BUCKET = "bench-backups"
TAGGER_EVENTS = 100
PLAN_FOLDER = "plan/"
PLAN_RESTORE_TIME = 4_102_444_000  # after the last backup in the planning folder


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
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
        **diagnose_restore(results),
    }


def diagnose_restore(results: dict[str, Any]) -> dict[str, float]:
    """The same for the restore fan-out: moto's CPU per RestoreObject, and the rate with a core for moto."""
    fan_out = results["restore"]["fan_out"]
    moto_cores = results["cpu_cores_used"]["restore_fan_out"]["moto"]
    moto_ms = 1000 * moto_cores / fan_out["http_requests_per_second"] if moto_cores else 0.0
    projected = 1000 / moto_ms if moto_ms else 0.0
    return {
        "restore_moto_cpu_ms_per_request": round(moto_ms, 2),
        "restore_moto_cores": moto_cores,
        "restore_projected_requests_per_second_with_one_core_for_moto": round(projected, 1),
        "restore_projected_speedup_with_one_core_for_moto": round(
            projected / results["restore"]["serial"]["requests_per_second"], 1
        ),
    }


def plan_memory(objects: int) -> dict[str, Any]:
    """bench.plan_memory in a fresh process, so that nothing else this run allocated counts."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.plan_memory", f"--objects={objects}", "--measure=rss"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout)
    return measured


def run(args: argparse.Namespace) -> int:
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    objects: int = args.objects
    volumes: int = args.volumes
    started = time.monotonic()
    info = machine()
    cpu: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {}
    with MotoServer() as moto, latency_proxy(moto.url, args.latency_ms) as (proxy_url, proxy_pid):
        assert moto.process is not None
        pids = {"moto": moto.process.pid, "proxy": proxy_pid}
        threads_needed = max([*args.ceiling_threads, 16])
        direct = s3_client(endpoint_url=moto.url, max_pool_connections=threads_needed)
        direct.create_bucket(Bucket=BUCKET)
        serial_keys = duplicity_keys(objects, "serial/")
        backfill_keys = duplicity_keys(objects, "backfill/")
        # Same mix under two prefixes: both runs start from untagged objects (and fresh archived volumes).
        create_objects(direct, BUCKET, serial_keys + backfill_keys)
        serial_volumes, fan_out_volumes = (
            volume_keys(volumes, "restore-serial/"),
            volume_keys(volumes, "restore/"),
        )
        create_objects(direct, BUCKET, serial_volumes + fan_out_volumes, archive_volumes=True)
        tagger_keys = duplicity_keys(TAGGER_EVENTS, "tagger/")
        plan_keys = duplicity_keys(objects, PLAN_FOLDER, latest_complete=True)
        create_objects(direct, BUCKET, tagger_keys)
        create_objects(direct, BUCKET, plan_keys, archive_volumes=True)
        log(
            f"created {len(serial_keys) * 2 + volumes * 2 + len(tagger_keys) + len(plan_keys)} objects "
            f"in {time.monotonic() - started:.1f}s"
        )

        serial_client = s3_client(endpoint_url=proxy_url, max_pool_connections=1)
        log(f"(a) serial tagging loop through the proxy (at most {args.serial_budget:.0f}s) ...")
        with CpuMeter(pids) as meter:
            serial = serial_tag(serial_client, BUCKET, "serial/", time_budget=args.serial_budget)
        cpu["serial"] = meter.cores

        concurrent_client = s3_client(endpoint_url=proxy_url, max_pool_connections=args.concurrency)
        counter = RequestCounter(concurrent_client)
        log(f"(b) backfill, concurrency {args.concurrency}, through the proxy ...")
        with CpuMeter(pids) as meter:
            summary = backfill(concurrent_client, BUCKET, prefix="backfill/", concurrency=args.concurrency)
        cpu["backfill"] = meter.cores
        if not summary.ok or summary.processed != objects:
            log(f"backfill did not tag everything: {summary.to_dict()}")
            return 1
        backfill_requests = counter.sent.value

        log(
            f"(c) serial RestoreObject loop through the proxy (at most {args.serial_restore_budget:.0f}s) ..."
        )
        with CpuMeter(pids) as meter:
            serial_restore = serial_restores(
                serial_client, BUCKET, serial_volumes, time_budget=args.serial_restore_budget
            )
        cpu["restore_serial"] = meter.cores

        restore_client = s3_client(endpoint_url=proxy_url, max_pool_connections=args.restore_concurrency)
        restore_counter = RequestCounter(restore_client)
        log(f"(d) restore fan-out, concurrency {args.restore_concurrency}, through the proxy ...")
        with CpuMeter(pids) as meter:
            fanned, report = fan_out(
                restore_client, BUCKET, fan_out_volumes, concurrency=args.restore_concurrency
            )
        cpu["restore_fan_out"] = meter.cores
        if not report.ok or len(report.requested) != volumes:
            log(f"restore fan-out did not request every volume: {report.to_json(max_failures=5)}")
            return 1

        ceilings: list[Ceiling] = []
        for threads in args.ceiling_threads:
            log(f"(e) emulator ceiling, {threads} threads, no proxy ...")
            with CpuMeter(pids) as meter:
                ceilings.append(measure_ceiling(direct, BUCKET, backfill_keys, threads, args.ceiling_seconds))
            cpu[f"ceiling_{threads}_threads"] = meter.cores

        log(f"(f) API calls: the tagger handler over {len(tagger_keys)} events, twice; planning ...")
        calls_client = s3_client(endpoint_url=moto.url, max_pool_connections=32)
        results["api_calls"] = {
            "tagger": tagger_calls(calls_client, BUCKET, tagger_keys),
            "planning": {
                "folder_objects": len(plan_keys),
                **planning_calls(calls_client, BUCKET, PLAN_FOLDER, PLAN_RESTORE_TIME),
            },
        }

    log(f"(g) cold import, {args.import_runs} fresh interpreters each ...")
    results["cold_import"] = cold_import.measure(args.import_runs)
    log(f"(h) planning memory, {args.plan_objects:,} listed objects ...")
    results["plan_memory"] = plan_memory(args.plan_objects)

    ceiling = max(ceilings, key=lambda c: c.per_second)
    backfill_rate = summary.processed / summary.elapsed
    backfill_rps = backfill_requests / summary.elapsed
    restore_http = restore_counter.sent.value
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**info, "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "objects": objects,
        "latency_ms": args.latency_ms,
        "serial": {
            "objects_per_second": serial.objects_per_second,
            "seconds": serial.elapsed,
            "objects": serial.total,
            "capped": serial.total < objects,
        },
        "backfill": {
            "concurrency": args.concurrency,
            "objects_per_second": backfill_rate,
            "requests_per_second": backfill_rps,
            "requests": backfill_requests,
            "api_calls": counter.calls,
            "seconds": summary.elapsed,
            "objects": summary.processed,
            "tagged_true": summary.tagged_by_decision[True],
            "tagged_false": summary.tagged_by_decision[False],
        },
        "restore": {
            "volumes": volumes,
            "concurrency": args.restore_concurrency,
            "serial": {
                "requests_per_second": serial_restore.per_second,
                "seconds": serial_restore.seconds,
                "objects": serial_restore.keys,
                "capped": serial_restore.capped,
            },
            "fan_out": {
                "requests_per_second": fanned.per_second,
                "http_requests_per_second": restore_http / fanned.seconds,
                "http_requests": restore_http,
                "seconds": fanned.seconds,
                "objects": fanned.keys,
                "requested": fanned.requested,
                "failed": fanned.failed,
            },
            "speedup": fanned.per_second / serial_restore.per_second,
            "ceiling_fraction": restore_http / fanned.seconds / ceiling.per_second,
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
        **results,
        "cpu_cores_used": cpu,
        "speedup": backfill_rate / serial.objects_per_second,
        # Other jobs on the machine take CPU from moto unevenly between phases; dividing by the CPU moto
        # actually got compares the backfill's use of the emulator with the ceiling's on equal terms.
        "ceiling_fraction_per_moto_cpu": (backfill_rps / max(cpu["backfill"]["moto"], 0.01))
        / (ceiling.per_second / max(cpu[f"ceiling_{ceiling.threads}_threads"]["moto"], 0.01)),
        "ceiling_fraction": backfill_rps / ceiling.per_second,
        "total_seconds": time.monotonic() - started,
    }
    results["diagnosis"] = diagnose(results)
    results["targets"] = evaluate(results)
    results["targets_met"] = all(t["met"] for t in results["targets"].values())
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
    parser.add_argument(
        "--objects", type=int, default=600, help="objects to tag (and in the planning folder)"
    )
    parser.add_argument("--volumes", type=int, default=600, help="archived volumes to request restores for")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=64, help="backfill concurrency")
    parser.add_argument("--restore-concurrency", type=int, default=64)
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
        default=100.0,
        help="stop the serial tagging loop after this many seconds; its rate per object holds (default: 100)",
    )
    parser.add_argument(
        "--serial-restore-budget",
        type=float,
        default=60.0,
        help="stop the serial RestoreObject loop after this many seconds (default: 60)",
    )
    parser.add_argument(
        "--import-runs", type=int, default=9, help="fresh interpreters per cold-import median"
    )
    parser.add_argument(
        "--plan-objects", type=int, default=100_000, help="listed objects for planning memory"
    )
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
