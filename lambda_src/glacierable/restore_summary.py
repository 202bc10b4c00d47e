"""What one restore request amounts to, typed: what the restore Lambda returns and the CLI and demo read.

The Lambda answers with a RestoreSummary, or with a RestoreRefusal when the request itself was refused
(bad input, or nothing to restore at that time). `to_json` is that answer (and the CLI's `restore`
record); `read_answer` reads either back and refuses one that lacks a field or has the wrong type, so a
caller never reads a dict by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glacierable.names import format_time
from glacierable.plan import ChainSummary
from glacierable.pricing import RestoreCost, Tier, cost_from_json, parse_tier

GROUPS = ("needed", "to_restore", "readable", "in_progress")


NO_NOTIFICATION = "none"
"""`notify` when the stack has no topic to tell the user on (or the notification could not be scheduled)."""

REFUSED = "refused"
"""The `kind` of a RestoreRefusal: the request was refused before anything was planned or queued."""


class SummaryError(ValueError):
    """A restore summary (the Lambda's answer) that lacks a field or has one of the wrong type."""


@dataclass(frozen=True, slots=True)
class RestoreRefusal:
    """A restore request refused for its input (nothing was queued): the Lambda's answer, not its error.

    Answered rather than raised, so that an operator's typo is not a function error: the function's errors
    alarm stays for failures someone must look into. JSON: `{"error": {"kind": "refused", "type":
    "RequestError", "message": "...", "restore_id": "..."}}`.
    """

    error_type: str
    """The refusing error's class name: RequestError (the request is invalid) or a PlanError (nothing to
    plan, e.g. NoChainsError), as a raised error's errorType would name it."""
    message: str
    restore_id: str

    @property
    def text(self) -> str:
        """One line: the error's name and message, as a raised error would read."""
        return f"{self.error_type}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "error": {
                "kind": REFUSED,
                "type": self.error_type,
                "message": self.message,
                "restore_id": self.restore_id,
            }
        }

    @classmethod
    def from_json(cls, data: object) -> RestoreRefusal:
        """Read a refusal back; SummaryError names what is wrong."""
        error = data.get("error") if isinstance(data, Mapping) else None
        if not isinstance(error, Mapping):
            raise SummaryError(f"a restore refusal is {{'error': {{...}}}}, not {data!r:.60}")
        if error.get("kind") != REFUSED:
            raise SummaryError(f"error kind must be {REFUSED!r}, not {error.get('kind')!r:.60}")
        return cls(
            error_type=_get(error, "type", str),
            message=_get(error, "message", str),
            restore_id=_get(error, "restore_id", str),
        )


def read_answer(data: object) -> RestoreSummary | RestoreRefusal:
    """The restore Lambda's answer: a summary, or a refusal (an object with an `error` field)."""
    if isinstance(data, Mapping) and "error" in data:
        return RestoreRefusal.from_json(data)
    return RestoreSummary.from_json(data)


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
    notify: str | None = None
    """The restore Lambda's word on the ready notification: the SNS topic ARN a message will come on when
    everything is readable, or NO_NOTIFICATION; None where nothing was said (local mode, a dry run)."""

    @property
    def notifies(self) -> bool:
        """A message will come when everything is readable."""
        return self.notify is not None and self.notify != NO_NOTIFICATION

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
        if self.notify is not None:
            result["notify"] = self.notify
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
                notify=None if data.get("notify") is None else _get(data, "notify", str),
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
