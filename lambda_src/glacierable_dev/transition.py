"""Which objects a bucket's lifecycle rules transition at a given moment, as S3 decides it (pure, no I/O).

The emulator never applies lifecycle rules, so the demo evaluates them itself, following
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html: a rule applies when it is
enabled and its filter (prefix, every tag, size bounds) matches; a `Days` transition is due at the midnight
UTC after creation time plus the days; objects under 128 KB are not transitioned unless the rule's filter
sets its own size bound, or the configuration says `varies_by_storage_class` and the target is a Glacier
Flexible Retrieval or Deep Archive class. Only current versions are considered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

SMALL_OBJECT_BYTES = 128 * 1024
"""S3 does not transition objects smaller than this by default (since September 2024)."""

ALL_CLASSES_128K = "all_storage_classes_128K"
VARIES_BY_STORAGE_CLASS = "varies_by_storage_class"
_SMALL_ALLOWED_WHEN_VARIES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

CLASS_ORDER = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
"""Storage classes from warmest to coldest: lifecycle transitions only ever move an object down this list."""

Rule = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What lifecycle evaluation looks at: key, size, creation time, class and tags."""

    key: str
    size: int
    last_modified: datetime
    storage_class: str = "STANDARD"
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """One object's fate at `now`: `target` is the class it moves to, or None (and `reason` says why)."""

    key: str
    target: str | None
    reason: str
    rule_id: str | None = None


def due_at(last_modified: datetime, days: int) -> datetime:
    """When a `Days` transition is due: creation time plus `days`, rounded up to the next midnight UTC."""
    moment = last_modified.astimezone(UTC) + timedelta(days=days)
    midnight = datetime.combine(moment.date(), time(0), tzinfo=UTC)
    return midnight if moment == midnight else midnight + timedelta(days=1)


def _filter_parts(rule: Rule) -> dict[str, Any]:
    """The rule's filter as one flat dict: Prefix, Tags (a list), ObjectSizeGreaterThan/LessThan."""
    if "Filter" not in rule:
        # The legacy form: a top-level Prefix and no Filter element.
        return {"Prefix": rule.get("Prefix", "")}
    filter_ = rule["Filter"] or {}
    if "And" in filter_:
        return dict(filter_["And"])
    parts = {name: value for name, value in filter_.items() if name != "Tag"}
    if "Tag" in filter_:
        parts["Tags"] = [filter_["Tag"]]
    return parts


def filter_matches(rule: Rule, obj: StoredObject) -> bool:
    """Whether the rule's filter selects the object (prefix, every tag, strict size bounds)."""
    parts = _filter_parts(rule)
    if not obj.key.startswith(str(parts.get("Prefix", ""))):
        return False
    for tag in parts.get("Tags", ()):
        if obj.tags.get(tag["Key"]) != tag["Value"]:
            return False
    greater = parts.get("ObjectSizeGreaterThan")
    if greater is not None and not obj.size > int(greater):
        return False
    less = parts.get("ObjectSizeLessThan")
    return less is None or obj.size < int(less)


def has_custom_size_filter(rule: Rule) -> bool:
    """Whether the rule sets its own size bound, which overrides S3's 128 KB default."""
    parts = _filter_parts(rule)
    return "ObjectSizeGreaterThan" in parts or "ObjectSizeLessThan" in parts


def _due(transition: Mapping[str, Any], obj: StoredObject, now: datetime) -> bool:
    if "Date" in transition:
        when = transition["Date"]
        if isinstance(when, date) and not isinstance(when, datetime):
            when = datetime.combine(when, time(0), tzinfo=UTC)
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        return bool(now >= when)
    return now >= due_at(obj.last_modified, int(transition.get("Days", 0)))


def _coldness(storage_class: str) -> int:
    return CLASS_ORDER.index(storage_class) if storage_class in CLASS_ORDER else 0


def _size_allowed(rule: Rule, obj: StoredObject, target: str, minimum_object_size: str | None) -> bool:
    if obj.size >= SMALL_OBJECT_BYTES or has_custom_size_filter(rule):
        return True
    return minimum_object_size == VARIES_BY_STORAGE_CLASS and target in _SMALL_ALLOWED_WHEN_VARIES


def decide(
    rules: Sequence[Rule],
    obj: StoredObject,
    now: datetime,
    *,
    minimum_object_size: str | None = None,
) -> Decision:
    """Where the object goes at `now` under `rules` (`minimum_object_size` as the configuration sets it)."""
    matching = [rule for rule in rules if rule.get("Status") == "Enabled" and filter_matches(rule, obj)]
    with_transitions = [rule for rule in matching if rule.get("Transitions")]
    if not with_transitions:
        return Decision(obj.key, None, "no enabled transition rule matches")
    due: list[tuple[str, Rule]] = []
    too_small = False
    for rule in with_transitions:
        for transition in rule["Transitions"]:
            if not _due(transition, obj, now):
                continue
            target = str(transition["StorageClass"])
            if not _size_allowed(rule, obj, target, minimum_object_size):
                too_small = True
                continue
            due.append((target, rule))
    if not due:
        if too_small:
            return Decision(
                obj.key, None, f"under {SMALL_OBJECT_BYTES // 1024} KB: S3 does not transition it"
            )
        return Decision(obj.key, None, "not due yet")
    # When several transitions are due, S3 picks the cheapest class, which is the coldest.
    target, rule = max(due, key=lambda pair: _coldness(pair[0]))
    if _coldness(target) <= _coldness(obj.storage_class):
        return Decision(obj.key, None, f"already {obj.storage_class}")
    return Decision(obj.key, target, "due", rule.get("ID"))


def evaluate(
    rules: Sequence[Rule],
    objects: Iterable[StoredObject],
    now: datetime,
    *,
    minimum_object_size: str | None = None,
) -> list[tuple[str, str]]:
    """(key, target class) for every object the rules transition at `now`, in the objects' order."""
    decisions = (decide(rules, obj, now, minimum_object_size=minimum_object_size) for obj in objects)
    return [(d.key, d.target) for d in decisions if d.target is not None]


def earliest_moment_all_due(rules: Sequence[Rule], objects: Iterable[StoredObject]) -> datetime | None:
    """The first moment every enabled `Days` transition matching the objects is due (None if none match)."""
    moments = [
        due_at(obj.last_modified, int(transition["Days"]))
        for obj in objects
        for rule in rules
        if rule.get("Status") == "Enabled" and filter_matches(rule, obj)
        for transition in rule.get("Transitions", ())
        if "Days" in transition
    ]
    return max(moments) if moments else None
