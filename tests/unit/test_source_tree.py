"""The demo's source tree dates every change by the simulated clock, so duplicity always sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierable_dev.source_tree import SourceTree, write_random

DAY = 86_400
FULL_AT = 1_700_000_000


def _mtimes(tree: SourceTree) -> dict[str, int]:
    return {relative: int((tree.root / relative).stat().st_mtime) for relative in tree.relative_files()}


def test_two_rounds_in_the_same_second_leave_every_change_newer_than_the_backup_before(
    tmp_path: Path,
) -> None:
    # The three writes run back to back, well within one wall-clock second on any machine: only the
    # simulated dates can tell the rounds apart, as duplicity (integer mtime alone) needs.
    tree = SourceTree(tmp_path / "source", files=9)
    tree.create(FULL_AT)
    first = tree.change(FULL_AT + DAY)
    second = tree.change(FULL_AT + 2 * DAY)
    mtimes = _mtimes(tree)

    assert first.modified and second.modified
    for relative in (*second.added, *second.modified):
        assert mtimes[relative] == FULL_AT + 2 * DAY > FULL_AT + DAY
    for relative in first.added:
        if relative not in second.deleted and relative not in second.modified:
            assert mtimes[relative] == FULL_AT + DAY > FULL_AT
    untouched = set(mtimes) - {*first.added, *first.modified, *second.added, *second.modified}
    assert untouched and all(mtimes[relative] == FULL_AT for relative in untouched)


def test_folders_carry_the_simulated_date_of_the_last_round(tmp_path: Path) -> None:
    tree = SourceTree(tmp_path / "source", files=6)
    tree.create(FULL_AT)
    tree.change(FULL_AT + DAY)

    folders = [tree.root, *(p for p in tree.root.rglob("*") if p.is_dir())]
    assert len(folders) == 4
    assert {int(p.stat().st_mtime) for p in folders} == {FULL_AT + DAY}


def test_a_round_dated_no_later_than_the_last_is_refused(tmp_path: Path) -> None:
    tree = SourceTree(tmp_path / "source", files=3)
    tree.create(FULL_AT)
    before = _mtimes(tree)

    with pytest.raises(ValueError, match="not after the previous one"):
        tree.change(FULL_AT)
    assert _mtimes(tree) == before


def test_the_same_seed_and_dates_give_the_same_tree(tmp_path: Path) -> None:
    trees = [SourceTree(tmp_path / name, files=6) for name in ("a", "b")]
    for tree in trees:
        tree.create(FULL_AT)
        tree.change(FULL_AT + DAY)
    assert trees[0].snapshot() == trees[1].snapshot()
    assert _mtimes(trees[0]) == _mtimes(trees[1])


def test_the_test_suites_writer_dates_each_file_as_told(tmp_path: Path) -> None:
    path = tmp_path / "volume.bin"
    write_random(path, 1000, seed=1, at=FULL_AT)
    first = path.read_bytes()
    write_random(path, 1000, seed=2, at=FULL_AT + 1)

    assert int(path.stat().st_mtime) == FULL_AT + 1
    assert path.read_bytes() != first and len(first) == 1000
