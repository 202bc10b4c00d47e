"""Will this backup restore on a new machine? Problems and per-chain figures from a listing (pure, no I/O).

The input is what S3 says without reading any object: the listing (key, size, storage class, when it
was written), the glacierable tag of each object whose tag matters (`needs_tag`), and the bucket's
lifecycle rules. The output is a `CheckReport`: one `ChainHealth` per backup chain, and `Problem`s, each
with a stable code, the key or backup set it concerns, and what to do. `glacierable check` prints it; the
reconciler publishes its problem count.

Backup sets and chains are grouped as duplicity's `dup_collections.py` groups them (as `plan` does):
files of one type and times form a set, each full starts a chain, each incremental joins the first
chain it continues. A set's last volume number is written only in its manifest, which we do not read:
a gap below the highest volume listed is found, a missing last volume is not.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from glacierable import TAG_KEY
from glacierable.lifecycle import ARCHIVE_RULE_ID, DEFAULT_DAYS, OUR_RULE_IDS, Rule
from glacierable.listing import ListedObject
from glacierable.names import DuplicityName, DuplicityPrefixes, Kind, format_time, parse_name
from glacierable.plan import PlanError, plan_restore
from glacierable.plan_hints import other_prefixes
from glacierable.prefixes import duplicity_url
from glacierable.pricing import (
    GIB,
    PRICES_DATE,
    PRICES_REGION,
    RESTORE_CLASSES,
    STORAGE_PRICE_PER_GIB_MONTH,
    RestoreCost,
)
from glacierable.restore_request import DEFAULT_DAYS as RESTORE_DAYS

DAY = 86_400
ARCHIVE_MARGIN_DAYS = 2
"""S3 runs lifecycle transitions once a day and may take a day or more to carry them out."""
MIN_TRANSITION_BYTES = 128 * 1024
"""S3's default: objects under 128 KB are never transitioned (the rule's size filter can lower it)."""
UNTAGGED_GRACE_SECONDS = 3600
"""The tagger tags within seconds; a younger object without a tag is a backup running now, not a loss."""
ARCHIVE_OVERHEAD_BYTES = 32 * 1024
"""Per archived object, S3 bills 32 KB of index at the archive class's price..."""
ARCHIVE_STANDARD_OVERHEAD_BYTES = 8 * 1024
"""... and 8 KB of name and metadata at the STANDARD price."""
METADATA_KINDS = frozenset({Kind.MANIFEST, Kind.SIGNATURE, Kind.JSONSTAT})


class ProblemCode(StrEnum):
    """A problem's stable code (`problem` in JSON): scripts and alarms may depend on these."""

    MISSING_VOLUME = "missing-volume"
    MISSING_MANIFEST = "missing-manifest"
    MISSING_SIGNATURE = "missing-signature"
    METADATA_ARCHIVED = "metadata-archived"
    UNTAGGED = "untagged"
    VOLUME_NOT_ARCHIVED = "volume-not-archived"
    ORPHAN_INCREMENTAL = "orphan-incremental"
    NO_LIFECYCLE_RULE = "no-lifecycle-rule"
    NOTIFICATION_OVERLAP = "notification-overlap"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that stops a restore, or a backup from reaching its archive class, and what to do."""

    code: ProblemCode
    detail: str
    action: str
    key: str | None = None
    """The object concerned (None for a set or bucket problem)."""
    set: str | None = None
    """The backup set concerned, as `set_name` spells it (None for an object or bucket problem)."""
    commands: tuple[str, ...] = ()
    """Commands that carry out `action`, each ready to paste, in order."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict; `key` and `set` are always present (null when they do not apply)."""
        return {
            "problem": self.code.value,
            "key": self.key,
            "set": self.set,
            "detail": self.detail,
            "action": self.action,
            "commands": list(self.commands),
        }


@dataclass(frozen=True, slots=True)
class CheckedObject:
    """One listed object, when it was last written (epoch s), and its glacierable tag's value.

    `tag` is None when the object has no glacierable tag, or when its tag was not read: only the objects
    `needs_tag` selects are read, and the check looks at no other object's tag.
    """

    listed: ListedObject
    last_modified: int
    tag: str | None = None

    @property
    def key(self) -> str:
        return self.listed.key


def needs_tag(obj: ListedObject) -> bool:
    """Whether the check needs this object's tag: a duplicity file still in STANDARD.

    Archived objects need none (they have moved), and moto refuses GetObjectTagging on them.
    """
    return obj.storage_class == "STANDARD" and parse_name(obj.key) is not None


@dataclass(frozen=True, slots=True)
class ArchiveRule:
    """Our archive rule as the bucket has it."""

    present: bool
    enabled: bool = False
    days: int | None = None
    storage_class: str | None = None
    prefix: str = ""

    @classmethod
    def from_rules(cls, rules: Sequence[Rule]) -> ArchiveRule:
        """Find ARCHIVE_RULE_ID among the bucket's rules."""
        rule = _rule_with_id(rules, ARCHIVE_RULE_ID)
        if rule is None:
            return cls(present=False)
        transitions = rule.get("Transitions") or [{}]
        days = transitions[0].get("Days")
        storage_class = transitions[0].get("StorageClass")
        return cls(
            present=True,
            enabled=rule.get("Status") == "Enabled",
            days=days if isinstance(days, int) and not isinstance(days, bool) else None,
            storage_class=storage_class if isinstance(storage_class, str) else None,
            prefix=_rule_prefix(rule),
        )

    @property
    def active(self) -> bool:
        return self.present and self.enabled

    def covers(self, key: str) -> bool:
        return self.active and key.startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class ClassUsage:
    """Objects and bytes in one storage class."""

    count: int = 0
    bytes: int = 0

    def plus(self, size: int) -> ClassUsage:
        return ClassUsage(self.count + 1, self.bytes + size)


@dataclass(frozen=True, slots=True)
class ChainHealth:
    """One backup chain: its sets, its volumes, what storing it costs and what restoring its end costs."""

    folder: str
    full_time: int
    incremental_times: tuple[int, ...]
    volume_count: int
    volume_bytes: int
    volume_classes: Mapping[str, ClassUsage]
    object_count: int
    """Every file of the chain: volumes, manifests, signatures, jsonstats and par2 files."""
    object_bytes: int
    storage_usd_per_month: float
    """For the classes with a price (`unpriced_classes` are left out), archive overheads included."""
    unpriced_classes: tuple[str, ...]
    restore_time: int
    """The chain's latest point, whose restore `restore_costs` price (assuming nothing is restored yet)."""
    restore_costs: tuple[RestoreCost, ...] = ()
    restore_error: str | None = None
    """Why the latest point cannot be restored (duplicity's own refusal), when it cannot."""
    restore_warnings: tuple[str, ...] = ()
    """Where duplicity would stop or differ while restoring the latest point (the plan's warnings)."""

    @property
    def end_time(self) -> int:
        return self.incremental_times[-1] if self.incremental_times else self.full_time

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as epoch seconds and as duplicity writes them)."""
        return {
            "folder": self.folder,
            "full_time": self.full_time,
            "full_time_text": format_time(self.full_time),
            "incremental_times": list(self.incremental_times),
            "incremental_times_text": [format_time(t) for t in self.incremental_times],
            "set_count": 1 + len(self.incremental_times),
            "volume_count": self.volume_count,
            "volume_bytes": self.volume_bytes,
            "volume_classes": {
                cls: {"count": usage.count, "bytes": usage.bytes}
                for cls, usage in sorted(self.volume_classes.items())
            },
            "object_count": self.object_count,
            "object_bytes": self.object_bytes,
            "storage_usd_per_month": round(self.storage_usd_per_month, 4),
            "unpriced_classes": list(self.unpriced_classes),
            "restore_time": self.restore_time,
            "restore_time_text": format_time(self.restore_time),
            "restore_costs": [cost.to_json() for cost in self.restore_costs],
            "restore_error": self.restore_error,
            "restore_warnings": list(self.restore_warnings),
            "prices_date": PRICES_DATE,
            "region": PRICES_REGION,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every chain and every problem found under one prefix of a bucket."""

    bucket: str
    prefix: str
    prefixes: DuplicityPrefixes
    days: int
    """The archive rule's days the check assumed (volume-not-archived waits days + ARCHIVE_MARGIN_DAYS)."""
    chains: tuple[ChainHealth, ...]
    problems: tuple[Problem, ...]
    backup_found: bool
    """Some duplicity file with these `--file-prefix*` options was listed."""
    other_prefixes: tuple[DuplicityPrefixes, ...] = ()
    """When none was: the prefix options of the duplicity files that are there."""

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def problem_count(self) -> int:
        return len(self.problems)

    def problem_counts(self) -> dict[str, int]:
        """Problems per code (every code present, zero or not), for metrics and summaries."""
        counts = {code.value: 0 for code in ProblemCode}
        for problem in self.problems:
            counts[problem.code.value] += 1
        return counts

    def to_json(self) -> dict[str, object]:
        """The summary record: what was checked and the counts (chains and problems have records)."""
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "file_prefix_options": self.prefixes.options(),
            "days": self.days,
            "chain_count": len(self.chains),
            "problem_count": self.problem_count,
            "problem_counts": self.problem_counts(),
            "healthy": self.healthy,
        }


def set_name(folder: str, full: bool, start_time: int | None, end_time: int) -> str:
    """A backup set's stable name: `hosts/a/duplicity-full.T` or `hosts/a/duplicity-inc.T1.to.T2`."""
    if full or start_time is None:
        return f"{folder}duplicity-full.{format_time(end_time)}"
    return f"{folder}duplicity-inc.{format_time(start_time)}.to.{format_time(end_time)}"


@dataclass(frozen=True, slots=True)
class _Context:
    """What every problem's commands need: where the backup is, and how to reach it."""

    bucket: str
    prefixes: DuplicityPrefixes
    endpoint_url: str | None
    restore_days: int

    def glacierable(self, *parts: str) -> str:
        endpoint = ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []
        return shlex.join(["glacierable", *parts, *endpoint])

    def aws(self, *parts: str) -> str:
        endpoint = ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []
        return shlex.join(["aws", "s3api", *parts, *endpoint])

    def duplicity(self, *parts: str, folder: str) -> str:
        endpoint = ["--s3-endpoint-url", self.endpoint_url] if self.endpoint_url else []
        url = duplicity_url(self.bucket, folder)
        return shlex.join(["duplicity", *parts, *self.prefixes.options(), *endpoint, url])

    def url(self, folder: str) -> str:
        return duplicity_url(self.bucket, folder)


@dataclass(slots=True)
class _Set:
    folder: str
    full: bool
    start_time: int | None
    end_time: int
    volumes: dict[int, list[CheckedObject]] = field(default_factory=dict)
    manifests: list[CheckedObject] = field(default_factory=list)
    jsonstats: list[CheckedObject] = field(default_factory=list)
    signatures: list[CheckedObject] = field(default_factory=list)
    par2: list[CheckedObject] = field(default_factory=list)

    @property
    def name(self) -> str:
        return set_name(self.folder, self.full, self.start_time, self.end_time)

    def describe(self) -> str:
        if self.full:
            return f"full backup set {format_time(self.end_time)}"
        assert self.start_time is not None
        return f"incremental backup set {format_time(self.start_time)} to {format_time(self.end_time)}"

    def files(self) -> list[CheckedObject]:
        volumes = [obj for objects in self.volumes.values() for obj in objects]
        return [*volumes, *self.manifests, *self.jsonstats, *self.signatures, *self.par2]

    def newest(self) -> int:
        return max((obj.last_modified for obj in self.files()), default=0)


_SetId = tuple[bool, int | None, int]


def check_backups(
    objects: Iterable[CheckedObject],
    rules: Sequence[Rule],
    *,
    bucket: str,
    prefix: str,
    now: int,
    prefixes: DuplicityPrefixes | None = None,
    days: int | None = None,
    restore_days: int = RESTORE_DAYS,
    endpoint_url: str | None = None,
    notification_overlaps: Sequence[str] = (),
) -> CheckReport:
    """Check every backup listed under `prefix` (every folder in it) at time `now` (epoch s).

    `days` is the archive rule's age for volume-not-archived; None takes the bucket's rule's, else the
    lifecycle default. `restore_days` is how long the priced restore would keep its copies.
    `notification_overlaps` describes existing bucket notifications that a `direct` deployment's would
    overlap (each becomes a notification-overlap problem); the gatherer finds them where it can.
    """
    prefixes = prefixes or DuplicityPrefixes()
    context = _Context(bucket, prefixes, endpoint_url, restore_days)
    rule = ArchiveRule.from_rules(rules)
    effective_days = days if days is not None else (rule.days if rule.present and rule.days else DEFAULT_DAYS)
    expected = prefixes.by_kind()

    listed = list(objects)
    folders: dict[str, dict[_SetId, _Set]] = {}
    signatures: dict[tuple[str, _SetId], list[CheckedObject]] = {}
    by_folder: dict[str, list[ListedObject]] = {}
    object_problems: list[Problem] = []

    for obj in listed:
        name = parse_name(obj.key)
        if name is None:
            continue
        folder = _folder(obj.key)
        # Restore estimates assume nothing is restored yet: restored copies expire.
        by_folder.setdefault(folder, []).append(replace(obj.listed, restore=None))
        object_problems.extend(_object_problems(obj, name, rule, effective_days, now, context))
        if name.prefix != expected[name.kind]:
            continue
        ident: _SetId = (name.full, name.start_time, name.end_time)
        if name.kind is Kind.SIGNATURE and not name.par2:
            signatures.setdefault((folder, ident), []).append(obj)
            continue
        sets = folders.setdefault(folder, {})
        backup_set = sets.get(ident)
        if backup_set is None:
            backup_set = sets[ident] = _Set(folder, name.full, name.start_time, name.end_time)
        _add_file(backup_set, name, obj)

    problems = _rule_problems(rules, rule, sorted(folders), prefix, effective_days, context)
    problems += [_overlap_problem(text, context) for text in notification_overlaps]
    chains: list[ChainHealth] = []
    for folder, sets in sorted(folders.items()):
        for backup_set in sets.values():
            backup_set.signatures = signatures.get(
                (folder, (backup_set.full, backup_set.start_time, backup_set.end_time)), []
            )
        linked, orphans = _chains(sets.values())
        orphaned = {id(orphan) for orphan in orphans}
        for chain in linked:
            chains.append(_chain_health(folder, chain, by_folder[folder], prefixes, restore_days))
        for backup_set in sorted(sets.values(), key=lambda s: (s.end_time, not s.full)):
            if now - backup_set.newest() < UNTAGGED_GRACE_SECONDS:
                continue  # being written now: duplicity uploads the manifest and signature last
            problems += _set_problems(backup_set, context)
            if id(backup_set) in orphaned:
                problems.append(_orphan_problem(backup_set, context))
    problems += sorted(object_problems, key=lambda p: (p.key or "", p.code.value))
    others = () if folders else other_prefixes((o.listed for o in listed), expected, None)
    return CheckReport(
        bucket=bucket,
        prefix=prefix,
        prefixes=prefixes,
        days=effective_days,
        chains=tuple(chains),
        problems=tuple(problems),
        backup_found=bool(folders),
        other_prefixes=others,
    )


def _folder(key: str) -> str:
    head, slash, _ = key.rpartition("/")
    return head + slash


def _add_file(backup_set: _Set, name: DuplicityName, obj: CheckedObject) -> None:
    if name.par2:
        backup_set.par2.append(obj)
    elif name.kind is Kind.VOLUME:
        assert name.volume is not None
        backup_set.volumes.setdefault(name.volume, []).append(obj)
    elif name.kind is Kind.MANIFEST:
        backup_set.manifests.append(obj)
    elif name.kind is Kind.JSONSTAT:
        backup_set.jsonstats.append(obj)


def _chains(sets: Iterable[_Set]) -> tuple[list[list[_Set]], list[_Set]]:
    # dup_collections.get_backup_chains (as plan._chains): sets by end time, each full starts a chain, an
    # incremental continues the first chain ending at its start, or replaces a last incremental with the
    # same start and a later end. What joins no chain is orphaned (duplicity restores nothing from it).
    chains: list[list[_Set]] = []
    orphans: list[_Set] = []
    for backup_set in sorted(sets, key=lambda s: s.end_time):
        if backup_set.full:
            chains.append([backup_set])
            continue
        for chain in chains:
            last = chain[-1]
            if last.end_time == backup_set.start_time:
                chain.append(backup_set)
                break
            if (
                len(chain) > 1
                and last.start_time == backup_set.start_time
                and backup_set.end_time > last.end_time
            ):
                orphans.append(last)
                chain[-1] = backup_set
                break
        else:
            orphans.append(backup_set)
    return chains, orphans


def _chain_health(
    folder: str, chain: list[_Set], folder_objects: list[ListedObject], prefixes: DuplicityPrefixes, days: int
) -> ChainHealth:
    files = [obj.listed for backup_set in chain for obj in backup_set.files()]
    volumes = [
        obj.listed for backup_set in chain for objects in backup_set.volumes.values() for obj in objects
    ]
    classes: dict[str, ClassUsage] = {}
    for volume in volumes:
        classes[volume.storage_class] = classes.get(volume.storage_class, ClassUsage()).plus(volume.size)
    storage, unpriced = _storage_cost(files)
    end_time = chain[-1].end_time
    costs: tuple[RestoreCost, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    try:
        plan = plan_restore(folder_objects, end_time, prefixes, folder=folder)
        costs = tuple(plan.cost(tier, days=days) for tier in plan.usable_tiers())
        warnings = plan.warnings
    except PlanError as refused:
        error = str(refused)
    return ChainHealth(
        folder=folder,
        full_time=chain[0].end_time,
        incremental_times=tuple(s.end_time for s in chain[1:]),
        volume_count=len(volumes),
        volume_bytes=sum(v.size for v in volumes),
        volume_classes=classes,
        object_count=len(files),
        object_bytes=sum(f.size for f in files),
        storage_usd_per_month=storage,
        unpriced_classes=unpriced,
        restore_time=end_time,
        restore_costs=costs,
        restore_error=error,
        restore_warnings=warnings,
    )


def _storage_cost(objects: Iterable[ListedObject]) -> tuple[float, tuple[str, ...]]:
    total = 0.0
    unpriced: set[str] = set()
    standard = STORAGE_PRICE_PER_GIB_MONTH["STANDARD"]
    for obj in objects:
        price = STORAGE_PRICE_PER_GIB_MONTH.get(obj.storage_class)
        if price is None:
            unpriced.add(obj.storage_class)
            continue
        total += obj.size / GIB * price
        if obj.storage_class in RESTORE_CLASSES:
            total += ARCHIVE_OVERHEAD_BYTES / GIB * price + ARCHIVE_STANDARD_OVERHEAD_BYTES / GIB * standard
    return total, tuple(sorted(unpriced))


def _set_problems(backup_set: _Set, context: _Context) -> list[Problem]:
    problems: list[Problem] = []
    url = context.url(backup_set.folder)
    numbers = sorted(backup_set.volumes)
    missing = sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers)) if numbers else [1]
    if missing:
        listed = f"the highest listed is {numbers[-1]}" if numbers else "none is listed"
        problems.append(
            Problem(
                ProblemCode.MISSING_VOLUME,
                f"the {backup_set.describe()} lacks volume(s) {', '.join(map(str, missing))} ({listed}; "
                "the last volume's number is written only in the manifest, so a missing last volume "
                "cannot be seen from a listing): duplicity stops with 'difftar volume not found'",
                f"this set and every later set of its chain cannot be restored: run a full backup "
                f"(duplicity full) to {url} now to start a new chain",
                set=backup_set.name,
            )
        )
    if not backup_set.manifests:
        problems.append(
            Problem(
                ProblemCode.MISSING_MANIFEST,
                f"the {backup_set.describe()} has no manifest (an interrupted backup?): duplicity cannot "
                "restore this set or any later set of its chain ('No remote manifest name')",
                "run the same duplicity backup again (it resumes or restarts the set); to list the "
                "incomplete sets duplicity would delete, run the command below, then add --force",
                set=backup_set.name,
                commands=(context.duplicity("cleanup", folder=backup_set.folder),),
            )
        )
    if not backup_set.signatures:
        problems.append(
            Problem(
                ProblemCode.MISSING_SIGNATURE,
                f"the {backup_set.describe()} has no signature file: duplicity cannot continue the chain "
                "with an incremental backup, and ignores a last incremental without one when restoring",
                f"run a full backup (duplicity full) to {url} to start a new chain with its own signatures",
                set=backup_set.name,
            )
        )
    return problems


def _orphan_problem(backup_set: _Set, context: _Context) -> Problem:
    assert backup_set.start_time is not None
    return Problem(
        ProblemCode.ORPHAN_INCREMENTAL,
        f"the {backup_set.describe()} continues no chain: no full or incremental set of this folder ends at "
        f"{format_time(backup_set.start_time)} (deleted?), so duplicity restores nothing from it",
        "if its chain's earlier sets were deleted on purpose, nothing restores from this set: list what "
        "duplicity would delete with the command below, then add --force; either way run a full backup "
        f"(duplicity full) to {context.url(backup_set.folder)} to start a new chain",
        set=backup_set.name,
        commands=(context.duplicity("cleanup", folder=backup_set.folder),),
    )


def _object_problems(
    obj: CheckedObject, name: DuplicityName, rule: ArchiveRule, days: int, now: int, context: _Context
) -> list[Problem]:
    listed = obj.listed
    age = now - obj.last_modified
    if name.kind in METADATA_KINDS and listed.archived:
        return [_metadata_archived(obj, name, context)]
    if listed.storage_class != "STANDARD":
        return []
    if obj.tag is None:
        return [_untagged(obj, name, context)] if age >= UNTAGGED_GRACE_SECONDS else []
    overdue = age > (days + ARCHIVE_MARGIN_DAYS) * DAY
    big_enough = listed.size >= MIN_TRANSITION_BYTES
    if name.kind is Kind.VOLUME and obj.tag == "true" and big_enough and overdue and rule.covers(obj.key):
        return [
            Problem(
                ProblemCode.VOLUME_NOT_ARCHIVED,
                f"written {age // DAY} days ago, tagged {TAG_KEY}=true and still in STANDARD: the archive "
                f"rule ({days} days) should have moved it to {rule.storage_class or 'its class'}",
                "compare the rule's filter and the bucket's transition size setting with this object",
                key=obj.key,
                commands=(context.glacierable("lifecycle", "show", "--bucket", context.bucket),),
            )
        ]
    return []


def _metadata_archived(obj: CheckedObject, name: DuplicityName, context: _Context) -> Problem:
    bucket, key = context.bucket, obj.key
    request = f'{{"Days":{context.restore_days},"GlacierJobParameters":{{"Tier":"Standard"}}}}'
    restore = ["restore-object", "--bucket", bucket, "--key", key, "--restore-request", request]
    copy = ["copy-object", "--bucket", bucket, "--key", key, "--copy-source", f"{bucket}/{quote(key)}"]
    copy += ["--storage-class", "STANDARD", "--tagging-directive", "REPLACE", "--tagging", f"{TAG_KEY}=false"]
    return Problem(
        ProblemCode.METADATA_ARCHIVED,
        f"this {_kind_text(name)} is in {obj.listed.storage_class}: duplicity reads every manifest and "
        "signature it has not cached, so on a new machine it stops with InvalidObjectState",
        f"restore it, then (once restored) copy it over itself into STANDARD tagged {TAG_KEY}=false, so "
        "that the archive rule leaves it there (the copy keeps none of its other tags)",
        key=key,
        commands=(context.aws(*restore), context.aws(*copy)),
    )


def _untagged(obj: CheckedObject, name: DuplicityName, context: _Context) -> Problem:
    folder = _folder(obj.key)
    backfill = ["backfill", "--bucket", context.bucket, *(["--prefix", folder] if folder else [])]
    return Problem(
        ProblemCode.UNTAGGED,
        f"this {_kind_text(name)} has no {TAG_KEY} tag: its upload event was lost"
        + (", and the archive rule will never move it" if name.kind is Kind.VOLUME else ""),
        f"tag it, and whatever else the tagger missed in {folder or 'the bucket'}",
        key=obj.key,
        commands=(context.glacierable(*backfill),),
    )


def _rule_problems(
    rules: Sequence[Rule],
    rule: ArchiveRule,
    folders: Sequence[str],
    prefix: str,
    days: int,
    context: _Context,
) -> list[Problem]:
    problems: list[Problem] = []
    broken: list[str] = []
    for rule_id in OUR_RULE_IDS:
        found = _rule_with_id(rules, rule_id)
        if found is None:
            broken.append(f"{rule_id} is missing")
        elif found.get("Status") != "Enabled":
            broken.append(f"{rule_id} is {found.get('Status') or 'without a status'}")
    if broken:
        archive_broken = not rule.active
        what = "volumes are never archived" if archive_broken else "failed uploads are never cleaned up"
        detail = f"our lifecycle rule {' and '.join(broken)}: {what}"
        # A disabled rule keeps its prefix; a missing one covers what was checked.
        problems.append(_rule_problem(detail, rule, rule.prefix if rule.present else prefix, days, context))
    outside = [folder for folder in folders if rule.active and not folder.startswith(rule.prefix)]
    if outside:
        shared = _common_folder([rule.prefix, *outside])
        problems.append(
            _rule_problem(
                f"our lifecycle rule {ARCHIVE_RULE_ID} covers only keys under {rule.prefix!r}, not "
                f"the backups in {', '.join(repr(f) for f in outside)}: their volumes are never archived",
                rule,
                shared,
                days,
                context,
            )
        )
    return problems


def _rule_problem(detail: str, rule: ArchiveRule, prefix: str, days: int, context: _Context) -> Problem:
    parts = ["lifecycle", "apply", "--bucket", context.bucket]
    if prefix:
        parts += ["--prefix", prefix]
    if days != DEFAULT_DAYS:
        parts += ["--days", str(days)]
    if rule.storage_class:
        parts += ["--storage-class", rule.storage_class]
    return Problem(
        ProblemCode.NO_LIFECYCLE_RULE,
        detail,
        "add our rules (the bucket's other rules are kept); redeploying the stack also restores them",
        commands=(context.glacierable(*parts),),
    )


def _overlap_problem(text: str, context: _Context) -> Problem:
    return Problem(
        ProblemCode.NOTIFICATION_OVERLAP,
        f"{text}: S3 rejects a second, overlapping ObjectCreated notification, so an events=direct "
        "deployment would fail",
        "deploy with events=eventbridge (the default), which cannot collide with existing notifications",
    )


def _kind_text(name: DuplicityName) -> str:
    return f"par2 file of a {name.kind.value}" if name.par2 else name.kind.value


def _rule_with_id(rules: Sequence[Rule], rule_id: str) -> Rule | None:
    return next((rule for rule in rules if rule.get("ID") == rule_id), None)


def _rule_prefix(rule: Mapping[str, Any]) -> str:
    # A rule's prefix is in Filter.And.Prefix, Filter.Prefix, or (old configurations) the rule's Prefix.
    rule_filter = rule.get("Filter") or {}
    and_part = rule_filter.get("And") or {}
    for value in (and_part.get("Prefix"), rule_filter.get("Prefix"), rule.get("Prefix")):
        if isinstance(value, str):
            return value
    return ""


def _common_folder(prefixes: Sequence[str]) -> str:
    """The longest folder (ending in '/', or '') that starts every one of `prefixes`."""
    shared = prefixes[0]
    for other in prefixes[1:]:
        n = 0
        while n < min(len(shared), len(other)) and shared[n] == other[n]:
            n += 1
        shared = shared[:n]
    return shared[: shared.rfind("/") + 1]
