"""A measured run, and a whole `glacierable` command measured as a user runs it (own process, own memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
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


def median_run(runs: Sequence[Run]) -> Run:
    """The run with the median rate (the lower middle one of an even count)."""
    if not runs:
        raise ValueError("no runs to take the median of")
    ranked = sorted(runs, key=lambda run: run.objects_per_second)
    return ranked[(len(ranked) - 1) // 2]


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
    run = Run(
        label,
        objects,
        seconds,
        client_cpu_seconds=float(measured.get("cpu_seconds", 0.0)),
        concurrency=concurrency,
        peak_rss_mb=float(measured.get("peak_rss_mb", 0.0)),
        requests=int(measured.get("requests", 0)),
    )
    return CommandRun(run, json_lines(done.stdout))


@dataclass(frozen=True)
class CommandRun:
    """A command's measures and the JSON records it printed."""

    run: Run
    records: list[dict[str, Any]]


def json_lines(stdout: bytes) -> list[dict[str, Any]]:
    """The JSON records a `--json` command printed, one per line."""
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
