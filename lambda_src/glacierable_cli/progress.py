"""A tiny progress bar for terminals; it draws nothing unless its stream is a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """One redrawn line: bar, done/total, percentage and rate; throttled so it never slows the work."""

    def __init__(
        self,
        label: str = "",
        *,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.enabled = _is_tty(self.stream)
        self._started = time.monotonic()
        self._last_draw = float("-inf")
        self._done = 0
        self._total = 0
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        """Record progress; redraws at most every `min_interval` seconds (always on completion)."""
        self._done, self._total = done, total
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line, so whatever prints next starts on a fresh one."""
        if not self.enabled:
            return
        self._draw(time.monotonic())
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def render(self, now: float | None = None) -> str:
        """The line as it would be drawn (without the carriage return)."""
        now = time.monotonic() if now is None else now
        done, total = self._done, self._total
        fraction = done / total if total else 0.0
        filled = min(self.width, int(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = max(now - self._started, 1e-9)
        prefix = f"{self.label} " if self.label else ""
        return f"{prefix}[{bar}] {done}/{total} {fraction:4.0%} {done / elapsed:.0f}/s"

    def _draw(self, now: float) -> None:
        # `\r` plus clear-to-end-of-line: a shorter line must not leave the tail of a longer one.
        self.stream.write("\r" + self.render(now) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or stream-like objects without isatty
        return False
