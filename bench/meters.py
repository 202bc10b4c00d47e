"""Counting and timing for the benchmark: requests a client sends, CPU per process, the emulator's ceiling."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Tally:
    """A thread-safe counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, **_: Any) -> None:
        with self._lock:
            self.value += 1


class RequestCounter:
    """HTTP requests a client sends (retries included) and API calls by operation, via botocore's hooks."""

    def __init__(self, client: S3Client) -> None:
        self.sent = Tally()
        self._lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        client.meta.events.register("before-send.s3", self.sent.add)
        client.meta.events.register("before-call.s3", self._call)

    def _call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.operations[model.name] += 1

    @property
    def calls(self) -> int:
        return sum(self.operations.values())

    def snapshot(self) -> tuple[int, Counter[str]]:
        """Requests sent and calls by operation so far."""
        with self._lock:
            return self.sent.value, Counter(self.operations)


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

    def __init__(self, pids: Mapping[str, int | Sequence[int]]) -> None:
        # A name may stand for several processes (the proxy's): their CPU is summed.
        self.pids = {name: [p] if isinstance(p, int) else list(p) for name, p in pids.items()}
        self.cores: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = {name: sum(process_cpu(pid) for pid in pids) for name, pids in self.pids.items()}
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
    """The emulator's own rate: GetObjectTagging requests, as fast as `threads` threads go, no proxy."""

    requests: int
    seconds: float
    threads: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def measure_ceiling(client: S3Client, bucket: str, keys: list[str], threads: int, seconds: float) -> Ceiling:
    """GetObjectTagging as fast as `threads` threads can go, straight to the emulator."""
    deadline = time.monotonic() + seconds
    done = Tally()
    start = threading.Barrier(threads + 1)

    def hammer(offset: int) -> None:
        start.wait()
        for key in itertools.islice(itertools.cycle(keys), offset, None):
            if time.monotonic() >= deadline:
                return
            client.get_object_tagging(Bucket=bucket, Key=key)
            done.add()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(hammer, n * 7) for n in range(threads)]
        start.wait()
        began = time.monotonic()
        for future in futures:
            future.result()
        elapsed = time.monotonic() - began
    return Ceiling(done.value, elapsed, threads)
