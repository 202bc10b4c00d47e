"""The one renderer: every line, table, size, duration, failure list and progress display the CLI prints.

Built on rich, which the CLI alone depends on (the runtime never imports it). Colours and live progress
appear only on a terminal; piped or captured output is plain text, never wrapped, with no trailing
spaces, so a printed command can always be pasted and every line compared. `--json` output does not come
through here (see `output`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from glacierable_cli.output import printable

GIB = 1024**3
MAX_SHOWN = 20
"""Failures listed by name before "… and N more"."""


def size_text(size: int) -> str:
    """Bytes in binary units, as S3 bills them: "300 bytes", "1.5 MiB", "2.00 GiB"."""
    if size >= GIB:
        return f"{size / GIB:.2f} GiB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MiB"
    return f"{size:,} bytes"


def duration_text(seconds: float) -> str:
    """Whole minutes, rounded up: "5m", "4h59m"."""
    minutes = int(seconds // 60 + (seconds % 60 > 0))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02}m" if hours else f"{minutes}m"


def hours_text(low: float, high: float) -> str:
    """A documented time range: "3-5 h", "within 12 h", "1m-5m"."""
    if high < 1:
        within = f"within {duration_text(high * 3600)}"
        return f"{duration_text(low * 3600)}-{duration_text(high * 3600)}" if low else within
    return f"{low:g}-{high:g} h" if low else f"within {high:g} h"


def eta_text(hours: tuple[float, float] | None, elapsed: float) -> str:
    """ "ETA 2h59m-4h59m" from the tier's range less the time already waited; "ETA any moment" past it."""
    if hours is None:
        return "ETA unknown"
    low, high = (max(0.0, h * 3600 - elapsed) for h in hours)
    if high <= 0:
        return "ETA any moment"
    return f"ETA ≤ {duration_text(high)}" if low <= 0 else f"ETA {duration_text(low)}-{duration_text(high)}"


def _console(stream: TextIO) -> Console:
    terminal = _is_tty(stream)
    return Console(
        file=stream,
        width=None if terminal else 100_000,  # never wrap what is piped: commands must paste whole
        highlight=False,
        markup=False,
        emoji=False,
    )


@dataclass
class Renderer:
    """Writes the CLI's human output: results to `out`, progress and trouble to `err`."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def _print(self, renderable: Table | Text, *, err: bool = False) -> None:
        stream = self.err if err else self.out
        console = _console(stream)
        with console.capture() as captured:
            console.print(renderable, soft_wrap=isinstance(renderable, Text))
        stream.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
        stream.flush()

    def rows(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label/value lines, the values aligned."""
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column(no_wrap=True)
        for label, value in rows:
            table.add_row(label, value)
        self._print(table)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Columns under a header line, values escaped."""
        table = Table(box=None, padding=(0, 2), pad_edge=False, header_style="bold")
        for header in headers:
            table.add_column(header, no_wrap=True)
        for row in rows:
            table.add_row(*(printable(cell) for cell in row))
        self._print(table)

    def line(self, text: str = "", *, err: bool = False, style: str = "") -> None:
        """One or more plain lines."""
        self._print(Text(text, style=style), err=err)

    def command(self, text: str, *, lead: str = "  ") -> None:
        """A command to run next, on one line however long, so it pastes as printed."""
        self._print(Text.assemble(lead, (text, "bold cyan")))

    def warning(self, text: str) -> None:
        self._print(Text(f"warning: {printable(text)}", style="yellow"))

    def error(self, command: str, message: str) -> None:
        """`glacierable CMD: error: …` on stderr."""
        self._print(Text(f"glacierable {command}: error: {printable(message)}", style="red"), err=True)

    def failures(self, title: str, items: Sequence[str], *, hint: str = "(--json lists all)") -> None:
        """A title and the first MAX_SHOWN items (escaped) on stderr, then how many more."""
        lines = [title, *(f"  {printable(item)}" for item in items[:MAX_SHOWN])]
        if len(items) > MAX_SHOWN:
            lines.append(f"  … and {len(items) - MAX_SHOWN} more {hint}")
        self._print(Text("\n".join(lines), style="red"), err=True)

    @contextmanager
    def progress(self, label: str, *, hours: tuple[float, float] | None = None) -> Iterator[ProgressLine]:
        """A live line on a terminal (done/total, rate, or the tier's ETA when `hours` is known)."""
        line = ProgressLine(label, self.err, hours)
        with line.running():
            yield line


class _RateOrEta(ProgressColumn):
    def __init__(self, line: ProgressLine) -> None:
        super().__init__()
        self.line = line

    def render(self, task: Task) -> Text:
        if task.total is not None and task.completed >= task.total:
            return Text("")
        if self.line.hours is not None:
            return Text(eta_text(self.line.hours, time.monotonic() - self.line.started))
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.0f}/s" if speed else "")


class ProgressLine:
    """Progress of one long step; drawn live only on a terminal (elsewhere callers print lines)."""

    def __init__(self, label: str, stream: TextIO, hours: tuple[float, float] | None) -> None:
        self.hours = hours
        self.started = time.monotonic()
        self.enabled = _is_tty(stream)
        self._progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            _RateOrEta(self),
            console=_console(stream),
            disable=not self.enabled,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None)

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._progress:
            yield

    def update(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def eta(self) -> str:
        return eta_text(self.hours, time.monotonic() - self.started)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or a stream-like object without isatty
        return False
