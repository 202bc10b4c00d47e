"""The tagger's cold start (its import, then building its S3 client) against a bare boto3 S3 client.

Each sample is a fresh interpreter timing its own import, so interpreter start-up is left out of both; the two
are interleaved, so that a burst of load from other processes hits both alike. `-X importtime` then names what
the tagger imports beyond boto3.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from glacierable_dev.emulator import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
TAGGER_MODULE = "glacierable.handlers.tagger"
# The client is built on first use, not at import; a cold start pays for both, as the baseline does.
TAGGER = f"import {TAGGER_MODULE}; {TAGGER_MODULE}.s3()"
BASELINE = "import boto3; boto3.client('s3')"
_TIMED = (
    "import time; w, c = time.perf_counter(), time.process_time(); {statement}; "
    "print(time.perf_counter() - w, time.process_time() - c)"
)


def _env() -> dict[str, str]:
    env = {**os.environ, **FAKE_CREDENTIALS}
    env.update(POWERTOOLS_SERVICE_NAME="glacierable-tagger", POWERTOOLS_METRICS_NAMESPACE="Glacierable")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def time_import(statement: str) -> tuple[float, float]:
    """Wall and CPU seconds a fresh interpreter takes to run `statement`."""
    result = subprocess.run(
        [sys.executable, "-c", _TIMED.format(statement=statement)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = (float(part) for part in result.stdout.split())
    return wall, cpu


def import_times(statement: str) -> dict[str, float]:
    """Self time per imported module (microseconds), from `python -X importtime`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        times[name.strip()] = float(own)
    return times


def _least(runs: list[dict[str, float]]) -> dict[str, float]:
    return {module: min(run.get(module, float("inf")) for run in runs) for module in runs[0]}


def extra_imports(top: int = 8, runs: int = 3) -> list[dict[str, Any]]:
    """What the tagger imports that a bare boto3 client does not, by package, costliest first.

    Each module's least self time over `runs` runs: load from other processes only ever adds time.
    """
    tagger = _least([import_times(TAGGER) for _ in range(runs)])
    baseline = _least([import_times(BASELINE) for _ in range(runs)])
    by_package: defaultdict[str, list[str]] = defaultdict(list)
    cost: defaultdict[str, float] = defaultdict(float)
    for module, micros in tagger.items():
        # The handler module is what is measured, not something it imports.
        if module in baseline or module == TAGGER_MODULE:
            continue
        depth = 2 if module.startswith("aws_lambda_powertools") else 1
        package = ".".join(module.split(".")[:depth])
        by_package[package].append(module)
        cost[package] += micros
    ranked = sorted(cost, key=cost.__getitem__, reverse=True)[:top]
    return [{"package": p, "ms": round(cost[p] / 1000, 1), "modules": len(by_package[p])} for p in ranked]


def _median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 1)


def measure(runs: int = 9) -> dict[str, Any]:
    """Median cold-import wall and CPU time of the tagger and of the baseline, interleaved, and the ratios.

    CPU time is what the import costs; wall time adds waiting for a core, which other jobs on a busy machine
    inflate unevenly. On an idle machine the two agree.
    """
    time_import(TAGGER)  # warm the file cache and byte-code once, for both
    time_import(BASELINE)
    samples: dict[str, list[tuple[float, float]]] = {"tagger": [], "baseline": []}
    for _ in range(runs):
        samples["tagger"].append(time_import(TAGGER))
        samples["baseline"].append(time_import(BASELINE))
    wall = {name: _median_ms([w for w, _ in values]) for name, values in samples.items()}
    cpu = {name: _median_ms([c for _, c in values]) for name, values in samples.items()}
    return {
        "runs": runs,
        "tagger_cpu_ms": cpu["tagger"],
        "baseline_cpu_ms": cpu["baseline"],
        "ratio_cpu": round(cpu["tagger"] / cpu["baseline"], 3),
        "tagger_wall_ms": wall["tagger"],
        "baseline_wall_ms": wall["baseline"],
        "ratio_wall": round(wall["tagger"] / wall["baseline"], 3),
        "tagger_statement": TAGGER,
        "baseline_statement": BASELINE,
        "extra_imports": extra_imports(),
    }
