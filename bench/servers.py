"""The latency proxy as its own process (so its event loop does not compete with the client for a GIL)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def latency_proxy(upstream: str, latency_ms: float) -> Iterator[tuple[str, int]]:
    """The proxy in its own process; yields its URL and process id."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "glacierable_dev.fault_proxy",
            f"--upstream={upstream}",
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
