"""Restore work as SQS message bodies: keys split into batches well under SQS's 256 KiB, and parsed back.

Pure code. A body is a JSON object with restore_id, bucket, tier, days, expedited_fallback, attempt, keys.
Bodies are ASCII-only JSON (`\\uXXXX` escapes), so every S3 key, whatever its characters, is a valid SQS body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from glacierable.pricing import PricingError, Tier, parse_tier

MAX_KEYS_PER_BATCH = 200
"""Small enough that one worker finishes a batch in seconds, large enough to keep the queue short."""
MAX_BODY_BYTES = 64 * 1024
"""A quarter of SQS's 256 KiB message limit: room for ten bodies in one SendMessageBatch call."""
MAX_ENTRIES_PER_CALL = 10
"""SendMessageBatch's limit on entries."""
MAX_BYTES_PER_CALL = 250_000
"""SendMessageBatch's 256 KiB limit on the sum of the bodies, with margin."""

_FIELDS = ("restore_id", "bucket", "tier", "days", "expedited_fallback", "attempt", "keys")


class BatchError(ValueError):
    """A message body that is not a restore batch."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Keys to restore with one tier and duration; `attempt` counts deliveries of these keys (from 1)."""

    restore_id: str
    bucket: str
    tier: Tier
    days: int
    expedited_fallback: bool
    keys: tuple[str, ...]
    attempt: int = 1

    def to_body(self) -> str:
        """The SQS message body."""
        return json.dumps(
            {
                "restore_id": self.restore_id,
                "bucket": self.bucket,
                "tier": self.tier.value,
                "days": self.days,
                "expedited_fallback": self.expedited_fallback,
                "attempt": self.attempt,
                "keys": list(self.keys),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_body(cls, body: str) -> Batch:
        """Parse a message body; raises BatchError naming what is wrong."""
        try:
            data = json.loads(body)
        except (TypeError, ValueError, RecursionError) as error:
            raise BatchError(f"restore batch body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise BatchError(f"restore batch body must be a JSON object, not {type(data).__name__}")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise BatchError(f"restore batch body lacks {', '.join(missing)}")
        restore_id, bucket, keys = data["restore_id"], data["bucket"], data["keys"]
        if not isinstance(restore_id, str) or not isinstance(bucket, str) or not bucket:
            raise BatchError("restore batch body: restore_id and bucket must be strings (bucket non-empty)")
        if not isinstance(keys, list) or not all(isinstance(key, str) and key for key in keys):
            raise BatchError("restore batch body: keys must be a list of non-empty strings")
        try:
            tier = parse_tier(data["tier"]) if isinstance(data["tier"], str) else None
        except PricingError as error:
            raise BatchError(f"restore batch body: {error}") from None
        if tier is None:
            raise BatchError(f"restore batch body: tier must be a string, not {data['tier']!r}")
        days, attempt, fallback = data["days"], data["attempt"], data["expedited_fallback"]
        if not _is_int(days) or not 1 <= days <= 365:
            raise BatchError(f"restore batch body: days must be a whole number from 1 to 365, not {days!r}")
        if not _is_int(attempt) or attempt < 1:
            raise BatchError(f"restore batch body: attempt must be a whole number ≥ 1, not {attempt!r}")
        if not isinstance(fallback, bool):
            raise BatchError(f"restore batch body: expedited_fallback must be a boolean, not {fallback!r}")
        return cls(
            restore_id=restore_id,
            bucket=bucket,
            tier=tier,
            days=days,
            expedited_fallback=fallback,
            keys=tuple(keys),
            attempt=attempt,
        )

    def retry(self, keys: Iterable[str]) -> Batch:
        """The same work for only `keys`, as the next attempt."""
        return replace(self, keys=tuple(keys), attempt=self.attempt + 1)


def split_keys(
    restore_id: str,
    bucket: str,
    keys: Iterable[str],
    *,
    tier: Tier,
    days: int,
    expedited_fallback: bool = False,
    max_keys: int = MAX_KEYS_PER_BATCH,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> list[Batch]:
    """Batches of at most `max_keys` keys whose bodies stay within `max_body_bytes`, in key order."""
    if max_keys < 1:
        raise ValueError(f"max_keys must be at least 1, got {max_keys}")
    template = Batch(restore_id, bucket, tier, days, expedited_fallback, keys=())
    # Each key adds its escaped JSON string and a comma; the attempt number may grow by a few digits.
    room = max_body_bytes - len(template.to_body()) - 8
    batches: list[Batch] = []
    current: list[str] = []
    used = 0
    for key in keys:
        size = len(json.dumps(key)) + 1
        if size > room:
            raise ValueError(f"key too long for one restore batch ({size} bytes escaped): {key[:80]!r}…")
        if current and (len(current) >= max_keys or used + size > room):
            batches.append(replace(template, keys=tuple(current)))
            current, used = [], 0
        current.append(key)
        used += size
    if current:
        batches.append(replace(template, keys=tuple(current)))
    return batches


def group_for_send(
    bodies: Sequence[str],
    *,
    max_entries: int = MAX_ENTRIES_PER_CALL,
    max_bytes: int = MAX_BYTES_PER_CALL,
) -> list[list[int]]:
    """Indexes of `bodies` grouped into SendMessageBatch calls (≤ 10 entries, ≤ `max_bytes` in total)."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, body in enumerate(bodies):
        size = len(body.encode())
        if size > max_bytes:
            raise ValueError(f"message body {index} is {size} bytes, over the {max_bytes}-byte call limit")
        if current and (len(current) >= max_entries or used + size > max_bytes):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        groups.append(current)
    return groups


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
