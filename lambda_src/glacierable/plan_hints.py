"""What to suggest when no backup matches: the `--file-prefix*` options of the backups that are there."""

from __future__ import annotations

from collections.abc import Iterable

from glacierable.listing import ListedObject
from glacierable.names import DuplicityPrefixes, Kind, parse_name


def other_prefixes(
    objects: Iterable[ListedObject], expected: dict[Kind, str], folder: str | None
) -> tuple[DuplicityPrefixes, ...]:
    """The prefix sets of the other backups in the folder (those with a full set), as duplicity options.

    A name shows only its whole prefix (`--file-prefix` and the per-type one run together), so each is
    offered per type: `--file-prefix-archive A --file-prefix-manifest M --file-prefix-signature S`, or
    one `--file-prefix P` when every type shares it.
    """
    by_kind: dict[Kind, set[str]] = {}
    for obj in objects:
        if folder is not None and (not obj.key.startswith(folder) or "/" in obj.key[len(folder) :]):
            continue
        name = parse_name(obj.key)
        if name is None or name.par2 or not name.full or name.kind is Kind.JSONSTAT:
            continue
        if name.prefix != expected[name.kind]:
            by_kind.setdefault(name.kind, set()).add(name.prefix)
    results: list[DuplicityPrefixes] = []
    for volume_prefix in sorted(by_kind.get(Kind.VOLUME, ())):
        manifests = sorted(by_kind.get(Kind.MANIFEST, ()) or {expected[Kind.MANIFEST]})
        signatures = sorted(by_kind.get(Kind.SIGNATURE, ()) or {expected[Kind.SIGNATURE]})
        # Pair by the longest shared start: `hostA_data_` goes with `hostA_meta_`, not `hostB_meta_`.
        manifest = max(manifests, key=lambda m: len(_common_start(m, volume_prefix)))
        signature = max(signatures, key=lambda g: len(_common_start(g, volume_prefix)))
        if volume_prefix == manifest == signature:
            results.append(DuplicityPrefixes(file_prefix=volume_prefix))
        else:
            results.append(DuplicityPrefixes(archive=volume_prefix, manifest=manifest, signature=signature))
    return tuple(results)


def _common_start(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
