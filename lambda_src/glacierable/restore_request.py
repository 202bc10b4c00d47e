"""A restore request, validated once: the restore Lambda's JSON input and the CLI's options both become one.

Pure code. Everything that can be checked before listing the bucket is checked in `from_json`; the one check
that needs the plan (Expedited does not exist for DEEP_ARCHIVE) is `check_plan`, run before any request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from glacierable.key_plan import KeysError, check_keys
from glacierable.names import DuplicityPrefixes
from glacierable.plan import RestorePlan
from glacierable.prefixes import PrefixError, folder
from glacierable.pricing import PricingError, RestoreCost, Tier, estimate, parse_tier, tiers_for
from glacierable.restore_summary import RestoreSummary
from glacierable.timespec import TimeSpecError, parse_restore_time

DEFAULT_DAYS = 7
MIN_DAYS = 1
MAX_DAYS = 365
DEFAULT_TIME = "now"

_PREFIX_FIELDS = {
    "file_prefix": "file_prefix",
    "file_prefix_archive": "archive",
    "file_prefix_manifest": "manifest",
    "file_prefix_signature": "signature",
    "file_prefix_jsonstat": "jsonstat",
}
_STRING_FIELDS = ("prefix", "time", "tier", *_PREFIX_FIELDS)
_BOOL_FIELDS = ("dry_run", "expedited_fallback")
FIELDS = (*_STRING_FIELDS, "days", *_BOOL_FIELDS, "keys")
"""Every field a request may carry; anything else is refused (a typo must not silently change a restore)."""


class RequestError(ValueError):
    """A restore request that is refused before anything is requested."""


@dataclass(frozen=True, slots=True)
class RestoreRequest:
    """What to restore (folder, time, duplicity's prefixes) and how (tier, days, dry run, fallback)."""

    folder: str = ""
    """The backup's key prefix: empty, or ending in one '/' (duplicity's URL path)."""
    time: str = DEFAULT_TIME
    """The restore time as given (a duplicity time string), already known to parse."""
    prefixes: DuplicityPrefixes = field(default_factory=DuplicityPrefixes)
    tier: Tier = Tier.STANDARD
    days: int = DEFAULT_DAYS
    dry_run: bool = False
    expedited_fallback: bool = False
    keys: tuple[str, ...] = ()
    """Restore exactly these keys (duplicity's own dry-run list), not the whole restore point at `time`."""

    @classmethod
    def from_json(cls, data: object, *, now: int, stack_prefix: str = "") -> RestoreRequest:
        """Validate a JSON value (null means default); `stack_prefix` bounds the folder and is its default."""
        if data is None:  # `aws lambda invoke` without a payload: every default
            data = {}
        if not isinstance(data, Mapping):
            raise RequestError(f"a restore request must be a JSON object, not {type(data).__name__}")
        unknown = sorted(repr(name) for name in data if name not in FIELDS)
        if unknown:
            raise RequestError(f"unknown field(s) {', '.join(unknown)}; accepted: {', '.join(FIELDS)}")
        strings = {name: _string(data, name) for name in _STRING_FIELDS}
        for name in _PREFIX_FIELDS:
            if "/" in (strings[name] or ""):
                raise RequestError(
                    f"{name} {strings[name]!r} contains '/': duplicity cannot use such a prefix "
                    "(the folder belongs in 'prefix')"
                )
        prefixes = DuplicityPrefixes(**{attr: strings[name] or "" for name, attr in _PREFIX_FIELDS.items()})
        prefix = strings["prefix"]
        key_folder = _folder(stack_prefix if prefix is None else prefix, stack_prefix)
        keys: tuple[str, ...] = ()
        if data.get("keys") is not None:
            try:
                # Without a prefix, the keys' own folder (which must be under the stack's prefix).
                keys, key_folder = check_keys(
                    data["keys"], key_folder=None if prefix is None else key_folder, stack_prefix=stack_prefix
                )
            except KeysError as error:
                raise RequestError(str(error)) from None
        request = cls(
            folder=key_folder,
            time=DEFAULT_TIME if strings["time"] is None else strings["time"],
            prefixes=prefixes,
            tier=_tier(strings["tier"]),
            days=_days(DEFAULT_DAYS if data.get("days") is None else data["days"]),
            dry_run=_bool(data, "dry_run"),
            expedited_fallback=_bool(data, "expedited_fallback"),
            keys=keys,
        )
        request.restore_time(now=now)  # refuse a bad time now, not after listing the bucket
        return request

    def restore_time(self, *, now: int) -> int:
        """The restore time in epoch seconds, as `duplicity restore -t` reads `time` at `now` (0 is now)."""
        try:
            return parse_restore_time(self.time, now=now)
        except TimeSpecError as error:
            raise RequestError(f"time: {error}") from None

    def check_plan(self, plan: RestorePlan) -> None:
        """Refuse a plan this request cannot carry out (Expedited for DEEP_ARCHIVE objects)."""
        if self.tier is not Tier.EXPEDITED:
            return
        deep = [obj.key for obj in plan.to_restore if obj.storage_class == "DEEP_ARCHIVE"]
        if deep:
            raise RequestError(
                f"Expedited retrieval does not exist for DEEP_ARCHIVE, and {len(deep)} object(s) to "
                f"restore are in DEEP_ARCHIVE (e.g. {deep[0]!r}); use tier Standard (within 12 h) "
                "or Bulk (within 48 h)"
            )

    def warnings(self, plan: RestorePlan) -> list[str]:
        """The plan's warnings, and one when the copies may expire before the slowest restore completes."""
        warnings = list(plan.warnings)
        longest = 0.0
        for storage_class in {obj.storage_class for obj in plan.to_restore}:
            tier = self.tier if self.tier in tiers_for(storage_class) else Tier.STANDARD
            longest = max(longest, estimate(storage_class, tier, 0, 0).hours_max)
        if longest > self.days * 24:
            safe = math.ceil(longest / 24) + 1
            warnings.append(
                f"restored copies kept {self.days} day(s) may expire before the last arrive: "
                f"{self.tier.value} retrieval can take up to {longest:g} h; keep them {safe} days "
                f"or more (--days {safe})"
            )
        return warnings

    def summary(
        self, plan: RestorePlan, *, bucket: str, restore_time: int, restore_id: str
    ) -> RestoreSummary:
        """What this request amounts to: the plan's counts (no key lists: they can be huge) and its bill."""
        try:
            cost: RestoreCost | None = plan.cost(self.tier, days=self.days)
        except PricingError:  # Expedited where a class lacks it: check_plan refuses such a restore
            cost = None
        groups = {
            "needed": list(plan.needed),
            "to_restore": plan.to_restore,
            "readable": plan.readable,
            "in_progress": plan.in_progress,
        }
        return RestoreSummary(
            restore_id=restore_id,
            bucket=bucket,
            prefix=self.folder,
            time=self.time,
            restore_time=restore_time,
            tier=self.tier,
            days=self.days,
            dry_run=self.dry_run,
            par2=plan.par2,
            chain=plan.chain,
            data_volume_count=len(plan.data_volumes),
            counts={group: len(objects) for group, objects in groups.items()},
            sizes={group: sum(obj.size for obj in objects) for group, objects in groups.items()},
            warnings=tuple(self.warnings(plan)),
            cost=cost,
        )

    def to_json(self) -> dict[str, object]:
        """The request as JSON fields (what `from_json` reads back to an equal request)."""
        return {
            "prefix": self.folder,
            "time": self.time,
            **{name: getattr(self.prefixes, attr) for name, attr in _PREFIX_FIELDS.items()},
            "tier": self.tier.value,
            "days": self.days,
            "dry_run": self.dry_run,
            "expedited_fallback": self.expedited_fallback,
            "keys": list(self.keys) if self.keys else None,
        }


def _string(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{name} must be a string, not {type(value).__name__} ({value!r:.80})")
    return value


def _bool(data: Mapping[str, object], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"{name} must be true or false, not {value!r:.80}")
    return value


def _tier(text: str | None) -> Tier:
    if text is None:
        return Tier.STANDARD
    try:
        return parse_tier(text)
    except PricingError as error:
        raise RequestError(f"tier: {error}") from None


def _days(value: object) -> int:
    # JSON true is a Python bool, which is an int: refuse it rather than restore for 1 day.
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}, not {value!r:.80}")
    if not MIN_DAYS <= value <= MAX_DAYS:
        raise RequestError(f"days must be from {MIN_DAYS} to {MAX_DAYS}, got {value}")
    return value


def _folder(prefix: str, stack_prefix: str) -> str:
    # glacierable.prefixes' one rule: '/host1', 'host1' and 'host1//' are all duplicity's folder 'host1/'.
    try:
        result = folder(prefix)
    except PrefixError as error:
        raise RequestError(f"prefix {error}") from None
    if not result.startswith(stack_prefix):
        raise RequestError(
            f"prefix {prefix!r} is outside this stack's prefix {stack_prefix!r}; "
            f"restores are limited to keys under {stack_prefix!r}"
        )
    return result
