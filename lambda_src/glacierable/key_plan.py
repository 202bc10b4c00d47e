"""A restore of an explicit list of keys (pure code): checked once, then planned as a RestorePlan.

`glacierable run` asks duplicity's own dry run which volumes a restore reads and sends exactly those keys
(with their par2 files); the restore Lambda accepts them as `keys`. Each key must be a duplicity file
directly in one folder under the stack's prefix: nothing else can be thawed through the stack. The plan
of such a restore is the keys themselves, so waiting, re-requesting what lapsed, the summary and the bill
all work as for a whole restore point.
"""

from __future__ import annotations

from collections.abc import Sequence

from glacierable.listing import ListedObject
from glacierable.names import DuplicityName, Kind, parse_name
from glacierable.plan import ChainSummary, RestorePlan
from glacierable.text import first_and_more

MAX_KEYS = 100_000
"""More keys than any one restore needs (a 20 TB chain of 200 MB volumes), and a Lambda payload's size."""

MAX_NAMED = 5


class KeysError(ValueError):
    """A `keys` list that is refused; the message names the first few bad keys."""


def check_keys(value: object, *, key_folder: str | None, stack_prefix: str) -> tuple[tuple[str, ...], str]:
    """The keys (duplicates dropped, order kept) and their folder; `key_folder` None: the keys' own.

    Every key must be a string naming a duplicity file directly in the folder, under `stack_prefix`.
    """
    if not isinstance(value, list) or not value:
        raise KeysError("keys must be a non-empty list of object keys (omit it to restore a whole point)")
    if len(value) > MAX_KEYS:
        raise KeysError(f"keys lists {len(value):,} keys; at most {MAX_KEYS:,} per request")
    not_strings = [repr(key)[:80] for key in value if not isinstance(key, str)]
    if not_strings:
        raise KeysError(f"keys must be strings, not {first_and_more(not_strings, MAX_NAMED)}")
    keys = tuple(dict.fromkeys(value))
    outside = [repr(key) for key in keys if not key.startswith(stack_prefix)]
    if outside:
        raise KeysError(
            f"{len(outside)} key(s) are outside this stack's prefix {stack_prefix!r}: "
            f"{first_and_more(outside, MAX_NAMED)}"
        )
    unknown = [repr(key) for key in keys if parse_name(key) is None]
    if unknown:
        raise KeysError(
            f"{len(unknown)} key(s) are not duplicity files: {first_and_more(unknown, MAX_NAMED)}"
        )
    folders = sorted({_folder_of(key) for key in keys})
    if key_folder is None:
        if len(folders) > 1:
            shown = first_and_more([repr(f) for f in folders], MAX_NAMED)
            raise KeysError(f"keys are in {len(folders)} folders ({shown}); one restore reads one folder")
        return keys, folders[0]
    elsewhere = [repr(key) for key in keys if _folder_of(key) != key_folder]
    if elsewhere:
        raise KeysError(
            f"{len(elsewhere)} key(s) are not directly in the folder {key_folder!r}: "
            f"{first_and_more(elsewhere, MAX_NAMED)}"
        )
    return keys, key_folder


def keys_plan(objects: Sequence[ListedObject], restore_time: int) -> RestorePlan:
    """The plan that restores exactly `objects` (listed, in order): their volumes are the data volumes."""
    named = [(obj, parse_name(obj.key)) for obj in objects]
    volumes = [obj for obj, name in named if name is not None and name.kind is Kind.VOLUME and not name.par2]
    names = [name for _, name in named if name is not None]
    chain = ChainSummary(
        restore_time=restore_time,
        full_time=_full_time(names, restore_time),
        incremental_times=tuple(sorted({n.end_time for n in names if not n.full})),
        later_incremental_times=(),
        volume_count=len(volumes),
        volume_bytes=sum(obj.size for obj in volumes),
    )
    return RestorePlan(
        chain=chain,
        data_volumes=tuple(obj.key for obj in volumes),
        needed=tuple(objects),
        par2=any(name.par2 for name in names),
    )


def latest_time(keys: Sequence[str]) -> int | None:
    """The latest backup set time among `keys`' names: the restore point they belong to."""
    times = [name.end_time for name in map(parse_name, keys) if name is not None]
    return max(times) if times else None


def _full_time(names: Sequence[DuplicityName], default: int) -> int:
    # The full set the keys continue: their own full, else the start of their earliest incremental.
    fulls = [n.end_time for n in names if n.full]
    starts = [n.start_time for n in names if n.start_time is not None]
    return min(fulls or starts or [default])


def _folder_of(key: str) -> str:
    return key[: len(key) - len(key.rpartition("/")[2])]
