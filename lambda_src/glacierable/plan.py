"""Which objects `duplicity restore -t T` will read, from a listing alone (pure code, no I/O).

Mirrors duplicity 3.2.1's `dup_collections.py`: files group into backup sets by type and times; sets sorted
by end time form chains (a full and the incrementals that continue it); the latest chain's last incremental
is dropped when only the signature chain of the set before it exists; the chain for T is the one covering T,
else the latest ending before T, else the earliest; its sets are the full plus the incrementals ending at or
before T. duplicity reads each set's volumes from its manifest; we have no manifests, so a set's volumes are
the ones listed (a gap in the numbers is reported as a warning: duplicity would stop there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glacierable.listing import ListedObject
from glacierable.names import DuplicityName, DuplicityPrefixes, Kind, format_time, parse_name
from glacierable.plan_hints import other_prefixes
from glacierable.pricing import Estimate, RestoreCost, Tier, estimate, restore_cost, tiers_for


class PlanError(ValueError):
    """No restore is possible for this listing and time (duplicity would fail the same way)."""


class NoChainsError(PlanError):
    """No backup chain in the folder with these prefixes; `other_prefixes` are those that do hold files."""

    def __init__(self, message: str, other_prefixes: tuple[DuplicityPrefixes, ...] = ()) -> None:
        super().__init__(message)
        self.other_prefixes = other_prefixes


@dataclass(slots=True)
class _Set:
    full: bool
    start_time: int | None
    end_time: int
    volumes: dict[int, ListedObject] = field(default_factory=dict)
    manifest: ListedObject | None = None
    jsonstat: ListedObject | None = None

    @property
    def time(self) -> int:
        return self.end_time

    def describe(self) -> str:
        if self.full:
            return f"full backup set {format_time(self.end_time)}"
        assert self.start_time is not None
        return f"incremental backup set {format_time(self.start_time)} to {format_time(self.end_time)}"


_SetId = tuple[bool, int | None, int]
"""A backup set's identity: full or not, start time (None for a full), end time."""


@dataclass(slots=True)
class _Chain:
    full: _Set
    incs: list[_Set] = field(default_factory=list)
    start_time: int = 0
    end_time: int = 0

    def add_inc(self, inc: _Set) -> bool:
        # BackupChain.add_inc: continue the chain, or replace a last incremental with a longer one.
        if self.end_time == inc.start_time:
            self.incs.append(inc)
        elif self.incs and inc.start_time == self.incs[-1].start_time and inc.end_time > self.end_time:
            self.incs[-1] = inc
        else:
            return False
        self.end_time = inc.end_time
        return True


@dataclass(slots=True)
class _SigChain:
    end_time: int


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """The backup sets a restore at `restore_time` reads: one full and the incrementals after it."""

    restore_time: int
    full_time: int
    incremental_times: tuple[int, ...]
    later_incremental_times: tuple[int, ...]
    volume_count: int
    volume_bytes: int

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as epoch seconds and as duplicity writes them)."""
        return {
            "restore_time": self.restore_time,
            "restore_time_text": format_time(self.restore_time),
            "full_time": self.full_time,
            "full_time_text": format_time(self.full_time),
            "incremental_times": list(self.incremental_times),
            "incremental_times_text": [format_time(t) for t in self.incremental_times],
            "later_incremental_times": list(self.later_incremental_times),
            "volume_count": self.volume_count,
            "volume_bytes": self.volume_bytes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainSummary:
        """Read `to_json`'s dict back (KeyError, TypeError or ValueError when it is not one)."""
        return cls(
            restore_time=int(data["restore_time"]),
            full_time=int(data["full_time"]),
            incremental_times=tuple(int(t) for t in data["incremental_times"]),
            later_incremental_times=tuple(int(t) for t in data["later_incremental_times"]),
            volume_count=int(data["volume_count"]),
            volume_bytes=int(data["volume_bytes"]),
        )


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """Every object duplicity needs for one restore, and which of them must be restored first."""

    chain: ChainSummary
    data_volumes: tuple[str, ...]
    """Exactly duplicity's "Required volumes to restore", in its order."""
    needed: tuple[ListedObject, ...]
    """Every needed object: archived metadata first (read while planning), then each volume and its par2."""
    warnings: tuple[str, ...] = ()
    par2: bool = False
    """The backup was written through a `par2+` URL (its files have par2 companions): restore through one.

    Without `par2+`, duplicity reads `vol1.difftar.gpg.par2` as a second volume 1 and stops."""

    @property
    def volumes(self) -> list[str]:
        """Every needed key, in the order duplicity reads them."""
        return [obj.key for obj in self.needed]

    @property
    def to_restore(self) -> list[ListedObject]:
        """Needed, archived, and neither restored nor being restored."""
        return [obj for obj in self.needed if obj.archived and obj.restore is None]

    @property
    def readable(self) -> list[ListedObject]:
        """Needed and readable now (not archived, or a restored copy is present)."""
        return [obj for obj in self.needed if obj.readable]

    @property
    def in_progress(self) -> list[ListedObject]:
        """Needed and being restored."""
        return [obj for obj in self.needed if obj.restoring]

    def estimate(self, tier: Tier | str) -> list[Estimate]:
        """Cost and time to restore `to_restore` with `tier`, one estimate per storage class present."""
        by_class: dict[str, tuple[int, int]] = {}
        for obj in self.to_restore:
            count, size = by_class.get(obj.storage_class, (0, 0))
            by_class[obj.storage_class] = (count + 1, size + obj.size)
        return [estimate(cls, tier, count, size) for cls, (count, size) in sorted(by_class.items())]

    def cost(self, tier: Tier | str, *, days: int, transfer_out: bool = True) -> RestoreCost:
        """The whole bill of this restore with `tier`: `to_restore`'s retrieval and copies, every needed
        byte's download, and the retrieval fee duplicity's GETs pay for GLACIER_IR objects."""
        by_class: dict[str, tuple[int, int]] = {}
        billed = [*self.to_restore, *(obj for obj in self.needed if obj.storage_class == "GLACIER_IR")]
        for obj in billed:
            count, size = by_class.get(obj.storage_class, (0, 0))
            by_class[obj.storage_class] = (count + 1, size + obj.size)
        return restore_cost(
            by_class,
            tier,
            days=days,
            transfer_out=transfer_out,
            download_bytes=sum(obj.size for obj in self.needed),
        )

    def usable_tiers(self) -> tuple[Tier, ...]:
        """The tiers every class to restore offers (all of them when nothing needs restoring)."""
        classes = {obj.storage_class for obj in self.to_restore}
        return tuple(tier for tier in Tier if all(tier in tiers_for(cls) for cls in classes))

    def to_json(self, *, keys: bool = True) -> dict[str, object]:
        """A JSON-ready dict: the chain, counts and bytes per group and, with `keys`, the keys of each.

        Field names follow the CLI's JSON convention: counts end in `_count`, key lists in `_keys`.
        """
        groups = {
            "needed": list(self.needed),
            "to_restore": self.to_restore,
            "readable": self.readable,
            "in_progress": self.in_progress,
        }
        result: dict[str, object] = {"chain": self.chain.to_json(), "par2": self.par2}
        result["data_volume_count"] = len(self.data_volumes)
        for group, objects in groups.items():
            result[f"{group}_count"] = len(objects)
            result[f"{group}_bytes"] = sum(obj.size for obj in objects)
        if keys:
            result["data_volume_keys"] = list(self.data_volumes)
            for group, objects in groups.items():
                result[f"{group}_keys"] = [obj.key for obj in objects]
        result["warnings"] = list(self.warnings)
        return result


def plan_restore(
    objects: Iterable[ListedObject],
    restore_time: int,
    prefixes: DuplicityPrefixes | None = None,
    *,
    folder: str | None = None,
) -> RestorePlan:
    """Plan a restore at `restore_time` (epoch s) from a listing; `folder` is the backup's key prefix.

    Keys outside `folder` (or in a sub-folder of it) are not duplicity's; with `folder=None` the folder is
    the one holding this backup's files, and files of this backup in more than one folder are an error.
    """
    prefixes = prefixes or DuplicityPrefixes()
    sets: dict[_SetId, _Set] = {}
    sig_names: list[DuplicityName] = []
    par2_files: dict[str, list[ListedObject]] = {}
    metadata: list[ListedObject] = []
    folders: set[str] = set()
    expected_prefixes = prefixes.by_kind()
    objects_seen: list[ListedObject] = []

    for obj in objects:
        objects_seen.append(obj)
        name = _own_name(obj.key, expected_prefixes, folder)
        if name is None:
            continue
        folders.add(obj.key.rpartition("/")[0])
        if name.par2:
            # duplicity's par2 backend hides these from its listing and fetches them beside their file.
            par2_files.setdefault(name.protected, []).append(obj)
            continue
        if name.kind is Kind.SIGNATURE:
            sig_names.append(name)
            metadata.append(obj)
            continue
        _add_to_set(sets, name, obj)
        if name.kind is not Kind.VOLUME:
            metadata.append(obj)
    if folder is None and len(folders) > 1:
        shown = ", ".join(repr(f + "/" if f else "") for f in sorted(folders))
        raise PlanError(f"this backup's files are in several folders ({shown}); choose one folder")

    chains = _chains(sets, sig_names)
    if not chains:
        others = other_prefixes(objects_seen, expected_prefixes, folder)
        where = "" if folder is None else f" in folder {folder!r}"
        options = " ".join(prefixes.options()) or "no --file-prefix options"
        hint = (
            "; this folder holds backups with other prefixes: "
            + " or ".join(" ".join(p.options()) or "no --file-prefix options" for p in others)
            if others
            else ""
        )
        raise NoChainsError(f"no backup chains found{where} with {options} (no full backup){hint}", others)
    chain = _chain_at(chains, restore_time)
    selected = [chain.full, *(inc for inc in chain.incs if inc.end_time <= restore_time)]
    for backup_set in selected:
        if backup_set.manifest is None:
            raise PlanError(
                f"the {backup_set.describe()} has no manifest (an interrupted backup?): duplicity cannot "
                f"restore at {format_time(restore_time)} (it stops with 'No remote manifest name'); "
                f"choose a time before {format_time(backup_set.end_time)}"
            )

    warnings: list[str] = []
    first_full = min(c.full.end_time for c in chains)
    if restore_time < first_full:
        warnings.append(
            f"the restore time {format_time(restore_time)} is before the first backup "
            f"({format_time(first_full)}): duplicity restores that first full backup instead"
        )
    data: list[ListedObject] = []
    for backup_set in selected:
        numbers = sorted(backup_set.volumes)
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers)) or [1]
            warnings.append(
                f"the {backup_set.describe()} lacks volume(s) {', '.join(map(str, missing))}: "
                f"duplicity will stop with 'difftar volume not found'"
            )
        data.extend(backup_set.volumes[n] for n in numbers)

    needed: list[ListedObject] = []
    for obj in metadata:
        # duplicity reads every manifest (and syncs signatures) while planning: an archived one stops it.
        companions = par2_files.get(obj.key.rpartition("/")[2], [])
        if obj.archived or any(p.archived for p in companions):
            needed.append(obj)
            needed.extend(sorted(companions, key=lambda p: p.key))
    for obj in data:
        needed.append(obj)
        needed.extend(sorted(par2_files.get(obj.key.rpartition("/")[2], []), key=lambda p: p.key))

    summary = ChainSummary(
        restore_time=restore_time,
        full_time=chain.full.end_time,
        incremental_times=tuple(inc.end_time for inc in selected[1:]),
        later_incremental_times=tuple(inc.end_time for inc in chain.incs if inc.end_time > restore_time),
        volume_count=len(data),
        volume_bytes=sum(obj.size for obj in data),
    )
    return RestorePlan(
        chain=summary,
        data_volumes=tuple(obj.key for obj in data),
        needed=tuple(needed),
        warnings=tuple(warnings),
        par2=bool(par2_files),
    )


def _own_name(key: str, prefixes: dict[Kind, str], folder: str | None) -> DuplicityName | None:
    # duplicity lists its folder recursively but anchors names at the start: sub-folders never match.
    if folder is not None and (not key.startswith(folder) or "/" in key[len(folder) :]):
        return None
    name = parse_name(key)
    if name is None or name.prefix != prefixes[name.kind]:
        return None
    return name


def _add_to_set(sets: dict[_SetId, _Set], name: DuplicityName, obj: ListedObject) -> None:
    # BackupSet.add_filename: one set per type and times; the volume, manifest or jsonstat slot filled.
    ident = (name.full, name.start_time, name.end_time)
    backup_set = sets.get(ident)
    if backup_set is None:
        backup_set = sets[ident] = _Set(full=name.full, start_time=name.start_time, end_time=name.end_time)
    if name.kind is Kind.VOLUME:
        assert name.volume is not None
        other = backup_set.volumes.get(name.volume)
        if other is not None:
            raise PlanError(
                f"volume {name.volume} of the {backup_set.describe()} is listed twice ({other.key!r} and "
                f"{obj.key!r}); duplicity refuses such a folder"
            )
        backup_set.volumes[name.volume] = obj
    elif name.kind is Kind.MANIFEST:
        backup_set.manifest = obj
    elif name.kind is Kind.JSONSTAT:
        if backup_set.jsonstat is not None:
            raise PlanError(
                f"the {backup_set.describe()} has two jsonstat files ({backup_set.jsonstat.key!r} and "
                f"{obj.key!r}); duplicity refuses such a folder"
            )
        backup_set.jsonstat = obj


def _chains(sets: dict[_SetId, _Set], sig_names: list[DuplicityName]) -> list[_Chain]:
    # get_backup_chains: sets sorted by end time (stable), each full starts a chain, each incremental joins
    # the first chain it continues; orphans are dropped. Then chains sorted by end time (stable).
    chains: list[_Chain] = []
    for backup_set in sorted(sets.values(), key=lambda s: s.time):
        if backup_set.full:
            chains.append(_Chain(full=backup_set, start_time=backup_set.time, end_time=backup_set.time))
        else:
            for chain in chains:
                if chain.add_inc(backup_set):
                    break
    chains.sort(key=lambda c: c.end_time)
    _drop_unsigned_last_inc(chains, sig_names)
    return chains


def _drop_unsigned_last_inc(chains: list[_Chain], sig_names: list[DuplicityName]) -> None:
    # set_matched_chain_pair: if the newest signature chain matching the latest backup chain ends at the
    # set before its last one, duplicity discards that last incremental (its chain end time stays).
    sig_chains = _signature_chains(sig_names)
    if not sig_chains or not chains:
        return
    latest = chains[-1]
    all_sets = [latest.full, *latest.incs]
    # duplicity compares with the set's `end_time`, which a full set does not have (None).
    before_last = all_sets[-2].end_time if len(all_sets) >= 2 and not all_sets[-2].full else None
    for sig_chain in reversed(sig_chains):
        if sig_chain.end_time == latest.end_time:
            return
        if before_last is not None and sig_chain.end_time == before_last:
            latest.incs.pop()
            return


def _signature_chains(sig_names: list[DuplicityName]) -> list[_SigChain]:
    # get_signature_chains: a chain per full signature, new signatures (sorted by start) join the first
    # chain they continue; then sorted by end time.
    chains = [_SigChain(end_time=n.end_time) for n in sig_names if n.full]
    for name in sorted((n for n in sig_names if not n.full), key=lambda n: n.start_time or 0):
        for chain in chains:
            if chain.end_time == name.start_time:
                chain.end_time = name.end_time
                break
    chains.sort(key=lambda c: c.end_time)
    return chains


def _chain_at(chains: list[_Chain], restore_time: int) -> _Chain:
    # get_backup_chain_at_time: the covering chain, else the latest that ended before, else the earliest.
    covering = [c for c in chains if c.start_time <= restore_time <= c.end_time]
    if len(covering) > 1:
        raise PlanError(
            f"two backup chains cover {format_time(restore_time)} (fulls at "
            f"{', '.join(format_time(c.start_time) for c in covering)}); duplicity refuses this time"
        )
    if covering:
        return covering[0]
    older = [c for c in chains if c.end_time < restore_time]
    return older[-1] if older else chains[0]
