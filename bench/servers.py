"""The latency proxy in processes of its own, so its event loops do not compete with the client for a GIL.

One asyncio process serves a few hundred requests a second on one core: fast enough for moto, but a
multi-core server behind it would make the proxy the ceiling. `processes=N` starts N proxies on one port
(SO_REUSEPORT), and the kernel spreads the client's connections over them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def _proxy_process(upstream: str, latency_ms: float, port: int) -> Iterator[tuple[str, int]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "glacierable_dev.fault_proxy",
            f"--upstream={upstream}",
            f"--latency-ms={latency_ms}",
            f"--port={port}",
            "--reuse-port",
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


@contextmanager
def latency_proxy(upstream: str, latency_ms: float, *, processes: int = 1) -> Iterator[tuple[str, list[int]]]:
    """`processes` proxies sharing one port; yields their URL and process ids."""
    with ExitStack() as stack:
        url, first = stack.enter_context(_proxy_process(upstream, latency_ms, 0))
        port = urlsplit(url).port or 0
        pids = [first]
        for _ in range(processes - 1):
            pids.append(stack.enter_context(_proxy_process(upstream, latency_ms, port))[1])
        yield url, pids
