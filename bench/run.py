"""`make bench`: every measure of the benchmark report in one run, written to results.json and results.md.

Everything talks to 127.0.0.1 only, each server in its own process, and the latency proxy in another (so its
event loop does not compete for this process's GIL with the client's threads). In order: the tagging paths on
SeaweedFS, a real multi-core S3 server (bench/tagging_section.py); the restore paths on moto, the only
emulator with RestoreObject (bench/restore_section.py); API calls per object for the tagger and for planning;
then, with every server stopped, the tagger's cold import and planning's time and memory as the listing grows.
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
from bench.report import COMMAND, evaluate, markdown
from bench.restore_section import run_restores
from bench.tagging_section import GROWTH, REPEATS, SWEEP, run_tagging
from bench.workload import create_objects, duplicity_keys
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
    started = time.monotonic()
    info = machine()
    tagging = run_tagging(
        objects=args.objects,
        latency_ms=args.latency_ms,
        concurrency=args.concurrency,
        serial_budget=args.serial_budget,
        repeats=args.repeats,
        sweep=args.sweep,
        growth=args.growth,
        log=log,
    )
    restores = run_restores(
        volumes=args.volumes,
        latency_ms=args.latency_ms,
        concurrency=args.restore_concurrency,
        serial_budget=args.serial_restore_budget,
        ceiling_threads=args.ceiling_threads,
        ceiling_seconds=args.ceiling_seconds,
        log=log,
    )
    with MotoServer() as moto:
        log(f"(a) API calls: the tagger handler over {TAGGER_EVENTS} events, twice; planning ...")
        client = s3_client(endpoint_url=moto.url, max_pool_connections=32)
        client.create_bucket(Bucket=BUCKET)
        tagger_keys = duplicity_keys(TAGGER_EVENTS, "tagger/")
        plan_keys = duplicity_keys(args.objects, PLAN_FOLDER, latest_complete=True)
        create_objects(client, BUCKET, tagger_keys)
        create_objects(client, BUCKET, plan_keys, archive_volumes=True)
        api_calls = {
            "tagger": tagger_calls(client, BUCKET, tagger_keys),
            "planning": {
                "folder_objects": len(plan_keys),
                **planning_calls(client, BUCKET, PLAN_FOLDER, PLAN_RESTORE_TIME),
            },
        }
    log(f"(b) cold import, {args.import_runs} fresh interpreters each ...")
    imports = cold_import.measure(args.import_runs)
    memory = []
    for objects in args.plan_objects:
        log(f"(c) planning time and memory, {objects:,} listed objects ...")
        memory.append(plan_memory(objects))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**info, "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "command": COMMAND,
        "tagging": tagging.to_json(),
        "restore": restores.to_json(),
        "api_calls": api_calls,
        "cold_import": imports,
        "plan_memory": {"runs": memory, "largest": max(memory, key=lambda m: m["objects"])},
        "total_seconds": round(time.monotonic() - started, 1),
    }
    results["targets"] = evaluate(results)
    results["targets_met"] = all(t["met"] for t in results["targets"].values())
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    RESULTS_MD.write_text(table)
    print(table)
    wrote = f"{RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)}"
    log(f"wrote {wrote} in {results['total_seconds']:.0f}s")
    return 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _thread_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive counts like 16,64, got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--objects", type=int, default=3000, help="objects to tag (and in the planning folder)"
    )
    parser.add_argument(
        "--volumes", type=int, default=2000, help="archived volumes to request restores for (and to plan)"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=64, help="backfill concurrency")
    parser.add_argument(
        "--repeats",
        type=int,
        default=REPEATS,
        help=f"interleaved runs of backfill and of the client's limit; medians reported (default: {REPEATS})",
    )
    parser.add_argument("--restore-concurrency", type=int, default=64)
    parser.add_argument(
        "--ceiling-threads",
        type=_thread_counts,
        default=[16, 64],
        help="thread counts to try for the emulator's ceiling; the best counts (default: 16,64)",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=4.0)
    parser.add_argument(
        "--sweep", type=_thread_counts, default=list(SWEEP), help="backfill concurrencies to sweep"
    )
    parser.add_argument(
        "--growth", type=_thread_counts, default=list(GROWTH), help="object counts for backfill growth"
    )
    parser.add_argument(
        "--serial-budget",
        type=float,
        default=60.0,
        help="stop the serial tagging loop after this many seconds; its rate per object holds (default: 60)",
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
        "--plan-objects",
        type=_thread_counts,
        default=[1_000, 10_000, 50_000, 100_000],
        help="listed objects for planning time and memory (default: 1000,10000,50000,100000)",
    )
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
