"""The demo's output: numbered steps, aligned tables, sizes, step timings and monthly storage costs."""

from __future__ import annotations

import io
import textwrap
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from glacierable.pricing import GIB, STORAGE_PRICE_PER_GIB_MONTH

ARCHIVE_OVERHEAD_BYTES = 32 * 1024
"""Glacier Flexible Retrieval and Deep Archive bill 32 KB of index per object at the archive rate ..."""
ARCHIVE_OVERHEAD_STANDARD_BYTES = 8 * 1024
"""... and 8 KB of name and metadata at the Standard rate."""
GLACIER_IR_MINIMUM_BYTES = 128 * 1024
"""Glacier Instant Retrieval bills every object as at least 128 KB."""
WIDTH = 100


def size_text(size: int) -> str:
    """A size for people: bytes, KB, MB or GB (powers of 1024)."""
    for unit, scale in (("GB", GIB), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, indent: int = 0) -> str:
    """An aligned text table; columns whose values are all numbers (or sizes) are right-aligned."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [bool(cells) and all(_looks_numeric(row[i]) for row in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return (" " * indent + "  ".join(parts)).rstrip()

    rule = " " * indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def _looks_numeric(text: str) -> bool:
    # "12", "3.5 s", "1.0 MB", "$0.01", "81%": a number and at most a short unit.
    parts = text.split(" ")
    if len(parts) > 2 or (len(parts) == 2 and not (parts[1].isalpha() and len(parts[1]) <= 3)):
        return False
    return parts[0].lstrip("$~-+").replace(",", "").replace(".", "", 1).rstrip("%").isdigit()


def billed_bytes(size: int, storage_class: str) -> dict[str, int]:
    """Bytes billed per class for one object of `size` stored in `storage_class`."""
    if storage_class in ("GLACIER", "DEEP_ARCHIVE"):
        return {storage_class: size + ARCHIVE_OVERHEAD_BYTES, "STANDARD": ARCHIVE_OVERHEAD_STANDARD_BYTES}
    if storage_class == "GLACIER_IR":
        return {storage_class: max(size, GLACIER_IR_MINIMUM_BYTES)}
    return {storage_class: size}


def monthly_storage_cost(objects: Iterable[tuple[int, str]]) -> float:
    """USD per month to store objects given as (size, storage class), archive overheads included."""
    total = 0.0
    for size, storage_class in objects:
        for billed_class, billed in billed_bytes(size, storage_class).items():
            price = STORAGE_PRICE_PER_GIB_MONTH.get(billed_class, STORAGE_PRICE_PER_GIB_MONTH["STANDARD"])
            total += billed / GIB * price
    return total


def money(usd: float) -> str:
    """Dollars with enough digits to show tiny demo amounts."""
    if usd >= 1:
        return f"${usd:,.2f}"
    return f"${usd:.6f}"


@dataclass
class Timings:
    """How long each step took."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        """Time the block under `label` (recorded even when it raises)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps.append((label, time.monotonic() - started))

    @property
    def total(self) -> float:
        """The sum of every step."""
        return sum(seconds for _, seconds in self.steps)

    def render(self) -> str:
        """One row per step, and the total."""
        rows = [(label, f"{seconds:.1f} s") for label, seconds in self.steps]
        rows.append(("total", f"{self.total:.1f} s"))
        return table(("step", "time"), rows)


class IndentedWriter(io.TextIOBase):
    """A text stream that indents every line it passes on, also after a carriage return (progress bars)."""

    def __init__(self, target: TextIO, indent: int = 3) -> None:
        super().__init__()
        self.target = target
        self.prefix = " " * indent
        self._line_start = True

    def write(self, text: str) -> int:
        pieces: list[str] = []
        for char in text:
            if self._line_start and char not in "\r\n":
                pieces.append(self.prefix)
                self._line_start = False
            pieces.append(char)
            if char in "\r\n":
                self._line_start = True
        self.target.write("".join(pieces))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        # A progress bar draws only on a terminal: ask the stream underneath.
        return self.target.isatty()

    def writable(self) -> bool:
        return True


@dataclass
class Printer:
    """Writes the story: step headers, indented notes, tables."""

    stream: TextIO

    def step(self, number: int | str, title: str) -> None:
        """A numbered step's header."""
        self.stream.write(f"\n{number}. {title}\n")
        self.stream.flush()

    def heading(self, title: str) -> None:
        """An unnumbered section header."""
        self.stream.write(f"\n{title}\n")
        self.stream.flush()

    def say(self, text: str = "", *, indent: int = 3) -> None:
        """A paragraph, wrapped and indented."""
        if not text:
            self.stream.write("\n")
            return
        wrapped = textwrap.fill(
            text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent, break_on_hyphens=False
        )
        self.stream.write(wrapped + "\n")
        self.stream.flush()

    def block(self, text: str, *, indent: int = 3) -> None:
        """Preformatted lines (tables, command output), indented."""
        self.stream.write(textwrap.indent(text.rstrip("\n"), " " * indent, lambda _: True) + "\n")
        self.stream.flush()

    def command(self, text: str) -> None:
        """A command line, as typed."""
        self.stream.write(f"   $ {text}\n")
        self.stream.flush()
