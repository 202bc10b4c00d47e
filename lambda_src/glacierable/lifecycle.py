"""The lifecycle rules glacierable owns, and their merge into a bucket's existing rules (pure, no I/O).

Our rules are identified by their ID alone: any rule whose ID is `ARCHIVE_RULE_ID` or `ABORT_MPU_RULE_ID`
is treated as ours and is replaced or removed; every other rule belongs to the bucket's owner and is kept
as it is, in its place. Rule shapes follow the S3 API's LifecycleRule:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleRule.html
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from glacierable import TAG_KEY
from glacierable.prefixes import PrefixError, key_prefix

ARCHIVE_RULE_ID = "glacierable-archive"
ABORT_MPU_RULE_ID = "glacierable-abort-incomplete-mpu"
OUR_RULE_IDS = (ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID)
STORAGE_CLASSES = ("GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")
DEFAULT_STORAGE_CLASS = "GLACIER"
DEFAULT_DAYS = 1
MIN_DAYS = 1
MAX_DAYS = 3650
ABORT_MPU_DAYS = 7
MAX_RULES = 1000
"""S3 accepts at most 1,000 rules in one lifecycle configuration."""

Rule = dict[str, Any]


class LifecycleError(ValueError):
    """A lifecycle setting is invalid, or the merged configuration would be rejected by S3."""


def validate_storage_class(value: object, *, setting: str = "storage_class") -> str:
    """Return `value` if it is a storage class our rule may transition to."""
    if not isinstance(value, str) or value not in STORAGE_CLASSES:
        raise LifecycleError(f"{setting} must be one of {', '.join(STORAGE_CLASSES)}; got {value!r}")
    return value


def validate_days(value: object, *, setting: str = "days") -> int:
    """Return `value` if it is a whole number of days S3 accepts for a transition."""
    # bool is an int subclass; `days=True` is a mistake, not one day.
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_DAYS <= value <= MAX_DAYS:
        raise LifecycleError(f"{setting} must be a whole number from {MIN_DAYS} to {MAX_DAYS}; got {value!r}")
    return value


def validate_prefix(value: object, *, setting: str = "prefix") -> str:
    """`value` as a key prefix ('' means the whole bucket), read as duplicity reads its URL path.

    `/backups` becomes `backups`, `hosts//a/` becomes `hosts/a/` (glacierable.prefixes.key_prefix): a rule
    with the slashes kept would match no key duplicity writes.
    """
    try:
        return key_prefix(value)
    except PrefixError as error:
        raise LifecycleError(f"{setting} {error}") from None


def our_rules(
    *, prefix: str = "", storage_class: str = DEFAULT_STORAGE_CLASS, days: int = DEFAULT_DAYS
) -> list[Rule]:
    """Our two rules: archive tagged objects (current and noncurrent), abort stale multipart uploads."""
    prefix = validate_prefix(prefix)
    storage_class = validate_storage_class(storage_class)
    days = validate_days(days)
    tag = {"Key": TAG_KEY, "Value": "true"}
    # S3 rejects `And` with a single predicate (MalformedXML), so a bucket-wide rule uses `Tag` alone.
    archive_filter: dict[str, Any] = {"And": {"Prefix": prefix, "Tags": [tag]}} if prefix else {"Tag": tag}
    archive: Rule = {
        "ID": ARCHIVE_RULE_ID,
        "Filter": archive_filter,
        "Status": "Enabled",
        "Transitions": [{"Days": days, "StorageClass": storage_class}],
        "NoncurrentVersionTransitions": [{"NoncurrentDays": days, "StorageClass": storage_class}],
    }
    # S3 rejects AbortIncompleteMultipartUpload in a rule filtered by tags (an upload in progress has
    # none yet), hence a second rule filtered by prefix only.
    abort_mpu: Rule = {
        "ID": ABORT_MPU_RULE_ID,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MPU_DAYS},
    }
    return [archive, abort_mpu]


def is_ours(rule: Rule, ids: Iterable[str] = OUR_RULE_IDS) -> bool:
    """Whether `rule` carries one of our rule IDs."""
    return rule.get("ID") in set(ids)


def merge_rules(existing: Sequence[Rule], ours: Sequence[Rule]) -> list[Rule]:
    """The owner's rules unchanged and in order, ours replaced in place or else appended."""
    by_id: dict[str, Rule] = {}
    for rule in ours:
        rule_id = rule.get("ID")
        if not isinstance(rule_id, str) or not rule_id:
            raise LifecycleError(f"each of our rules needs an ID; got {rule!r}")
        by_id[rule_id] = rule
    placed: set[str] = set()
    merged: list[Rule] = []
    for rule in existing:
        rule_id = rule.get("ID")
        if isinstance(rule_id, str) and rule_id in by_id:
            # S3 forbids duplicate IDs; should a stale copy of ours appear twice, keep one.
            if rule_id not in placed:
                merged.append(copy.deepcopy(by_id[rule_id]))
                placed.add(rule_id)
        else:
            merged.append(copy.deepcopy(rule))
    merged.extend(copy.deepcopy(rule) for rule_id, rule in by_id.items() if rule_id not in placed)
    if len(merged) > MAX_RULES:
        owners = len(merged) - len(by_id)
        raise LifecycleError(
            f"the bucket already has {owners} lifecycle rules of its own; adding ours would exceed "
            f"S3's limit of {MAX_RULES} rules per bucket"
        )
    return merged


def remove_rules(existing: Sequence[Rule], ids: Iterable[str] = OUR_RULE_IDS) -> list[Rule]:
    """The owner's rules unchanged and in order, without ours."""
    wanted = set(ids)
    return [copy.deepcopy(rule) for rule in existing if rule.get("ID") not in wanted]


@dataclass(frozen=True, slots=True)
class Change:
    """What replacing `before` by `after` does to our rules, by rule ID."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether any of our rules differs."""
        return bool(self.added or self.replaced or self.removed)


def describe_change(
    before: Sequence[Rule], after: Sequence[Rule], ids: Iterable[str] = OUR_RULE_IDS
) -> Change:
    """Compare our rules (by ID) between two rule lists."""
    change = Change()
    old = {rule.get("ID"): rule for rule in before}
    new = {rule.get("ID"): rule for rule in after}
    for rule_id in ids:
        if rule_id in new and rule_id not in old:
            change.added.append(rule_id)
        elif rule_id in old and rule_id not in new:
            change.removed.append(rule_id)
        elif rule_id in old and rule_id in new:
            (change.unchanged if old[rule_id] == new[rule_id] else change.replaced).append(rule_id)
    return change
