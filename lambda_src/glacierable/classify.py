"""Decide from a key's name alone whether its object may go to Glacier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from glacierable.names import Kind, parse_name

UNKNOWN: Final = "unknown"
"""The kind of a key that is no duplicity file."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The tag decision for one key; `kind` is a `Kind` value or "unknown"."""

    key: str
    glacierable: bool
    kind: str


def classify(key: str, *, archive_unknown: bool = False) -> Decision:
    """Volumes (and their par2 files) may be archived; duplicity reads everything else on every run."""
    name = parse_name(key)
    if name is None:
        return Decision(key=key, glacierable=archive_unknown, kind=UNKNOWN)
    return Decision(key=key, glacierable=name.kind is Kind.VOLUME, kind=name.kind.value)


def is_glacierable(key: str, *, archive_unknown: bool = False) -> bool:
    """Whether `key` should be tagged for the archive rule."""
    return classify(key, archive_unknown=archive_unknown).glacierable
