"""Lists in one line for error messages: the first few, then how many more (pure code)."""

from __future__ import annotations

from collections.abc import Sequence


def first_and_more(items: Sequence[str], limit: int, *, separator: str = ", ") -> str:
    """ "a, b, c and 4 more": the first `limit` items, then the count of the rest (if any)."""
    shown = separator.join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown
