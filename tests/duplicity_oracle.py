"""Ask real duplicity which volumes a restore reads: `duplicity restore --dry-run -t T` and its output."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.duplicity_scenarios import duplicity

REQUIRED_HEADER = "Required volumes to restore:"


class OracleError(AssertionError):
    """duplicity's dry run did not print the list of required volumes."""


def parse_required_volumes(output: str) -> list[str]:
    """The names listed under "Required volumes to restore:" (one tab-indented name per line)."""
    lines = output.splitlines()
    try:
        start = lines.index(REQUIRED_HEADER) + 1
    except ValueError:
        raise OracleError(f"no {REQUIRED_HEADER!r} in duplicity's output:\n{output}") from None
    names = []
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        names.append(line[1:])
    return names


def required_volumes(target_url: str, restore_time: str, *, options: Sequence[str] = ()) -> list[str]:
    """What `duplicity restore --dry-run -t restore_time` reads.

    A fresh, empty archive dir each time: duplicity then knows only what the target holds, as our plan does.
    duplicity reads `-t` against the real clock, even with `--current-time` (it applies only later), so
    "now" and intervals here mean the real now.
    """
    with tempfile.TemporaryDirectory(prefix="glacierable-oracle-") as scratch:
        result = duplicity().run(
            "restore",
            "--dry-run",
            "--archive-dir",
            str(Path(scratch) / "archive"),
            "-t",
            restore_time,
            *options,
            target_url,
            str(Path(scratch) / "restored"),
        )
    return parse_required_volumes(result.stdout)
