"""What one restore request amounts to, typed: what the restore Lambda returns and the CLI and demo read.

`to_json` is the Lambda's answer (and the CLI's `restore` record); `from_json` reads such an answer back
and refuses one that lacks a field or has the wrong type, so a caller never reads a dict by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glacierable.names import format_time
from glacierable.plan import ChainSummary
from glacierable.pricing import RestoreCost, Tier, cost_from_json, parse_tier

GROUPS = ("needed", "to_restore", "readable", "in_progress")


class SummaryError(ValueError):
    """A restore summary (the Lambda's answer) that lacks a field or has one of the wrong type."""


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """Counts, chain, warnings and bill of one restore request; `queued` and `batches` from the Lambda."""

    restore_id: str
    bucket: str
    prefix: str
    time: str
    restore_time: int
    tier: Tier
    days: int
    dry_run: bool
    par2: bool
    chain: ChainSummary
    data_volume_count: int
    counts: Mapping[str, int]
    """Objects per group (`needed`, `to_restore`, `readable`, `in_progress`)."""
    sizes: Mapping[str, int]
    """Bytes per group."""
    warnings: tuple[str, ...]
    cost: RestoreCost | None
    batches: int | None = None
    queued: int | None = None

    @property
    def restore_time_text(self) -> str:
        return format_time(self.restore_time)

    def count(self, group: str) -> int:
        """Objects in one of GROUPS."""
        return self.counts[group]

    def to_json(self) -> dict[str, object]:
        """The JSON answer: counts end in `_count`, sizes in `_bytes` (the CLI's convention)."""
        result: dict[str, object] = {
            "restore_id": self.restore_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "time": self.time,
            "restore_time": self.restore_time,
            "restore_time_text": self.restore_time_text,
            "tier": self.tier.value,
            "days": self.days,
            "dry_run": self.dry_run,
            "chain": self.chain.to_json(),
            "par2": self.par2,
            "data_volume_count": self.data_volume_count,
        }
        for group in GROUPS:
            result[f"{group}_count"] = self.counts[group]
            result[f"{group}_bytes"] = self.sizes[group]
        result["warnings"] = list(self.warnings)
        result["cost"] = None if self.cost is None else self.cost.to_json()
        if self.batches is not None:
            result["batches"] = self.batches
        if self.queued is not None:
            result["queued"] = self.queued
        return result

    @classmethod
    def from_json(cls, data: object) -> RestoreSummary:
        """Read a summary back (the restore Lambda's answer); SummaryError names what is wrong."""
        if not isinstance(data, Mapping):
            raise SummaryError(f"a restore summary is a JSON object, not {type(data).__name__}")
        cost = data.get("cost")
        try:
            return cls(
                restore_id=_get(data, "restore_id", str),
                bucket=_get(data, "bucket", str),
                prefix=_get(data, "prefix", str),
                time=_get(data, "time", str),
                restore_time=_get(data, "restore_time", int),
                tier=parse_tier(_get(data, "tier", str)),
                days=_get(data, "days", int),
                dry_run=_get(data, "dry_run", bool),
                par2=_get(data, "par2", bool),
                chain=ChainSummary.from_json(_get(data, "chain", Mapping)),
                data_volume_count=_get(data, "data_volume_count", int),
                counts={group: _get(data, f"{group}_count", int) for group in GROUPS},
                sizes={group: _get(data, f"{group}_bytes", int) for group in GROUPS},
                warnings=tuple(str(w) for w in _get(data, "warnings", list)),
                cost=None if cost is None else cost_from_json(_get(data, "cost", Mapping)),
                batches=_optional(data, "batches"),
                queued=_optional(data, "queued"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SummaryError(f"not a restore summary: {error}") from None


def _get(data: Mapping[str, object], name: str, kind: type) -> Any:
    value = data.get(name)
    # bool is an int in Python: a count that arrives as true/false is as wrong as a missing one.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SummaryError(f"{name} must be {kind.__name__}, not {value!r:.60}")
    return value


def _optional(data: Mapping[str, object], name: str) -> int | None:
    return None if data.get(name) is None else int(_get(data, name, int))
