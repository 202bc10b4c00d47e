"""The demo's data: a generated folder with deterministic content, its changes, and content hashes."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

PHOTO_BYTES = (300_000, 700_000)
"""Random, incompressible "photos": they make real, full-size volumes."""
TEXT_LINES = (50, 400)


@dataclass(frozen=True, slots=True)
class Changes:
    """What one round of changes did to the tree (relative paths)."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def describe(self) -> str:
        """ "2 added, 1 modified, 1 deleted"."""
        parts = [f"{len(self.added)} added", f"{len(self.modified)} modified", f"{len(self.deleted)} deleted"]
        return ", ".join(parts)


@dataclass
class SourceTree:
    """A folder of `files` files (photos, notes, tables) generated from `seed`, changed in rounds."""

    root: Path
    files: int
    seed: int = 2026
    rounds: int = field(default=0, init=False)
    dated: int = field(default=-1, init=False)
    """The simulated time of the last round written."""

    def _rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{salt}")

    def _write(self, relative: str, salt: str, at: int) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = self._rng(salt)
        if relative.endswith(".jpg"):
            path.write_bytes(rng.randbytes(rng.randint(*PHOTO_BYTES)))
            _set_mtime(path, at)
            return
        words = ("backup", "glacier", "volume", "chain", "restore", "duplicity", "archive", "manifest")
        lines = [
            ",".join(str(rng.randint(0, 10**6)) for _ in range(8))
            if relative.endswith(".csv")
            else " ".join(rng.choice(words) for _ in range(12))
            for _ in range(rng.randint(*TEXT_LINES))
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _set_mtime(path, at)

    @staticmethod
    def name(index: int) -> str:
        """The relative path of file `index`: every third one a photo, the others notes and tables."""
        kind = index % 3
        if kind == 0:
            return f"photos/img-{index:03}.jpg"
        if kind == 1:
            return f"notes/note {index:03}.txt"  # a space, as real folders have
        return f"data/table-{index:03}.csv"

    def create(self, at: int) -> Changes:
        """Write the initial files, dated `at` (epoch seconds: the `--current-time` of the full backup)."""
        names = [self.name(i) for i in range(self.files)]
        for relative in names:
            self._write(relative, f"create:{relative}", at)
        self._date_folders(at)
        return Changes(added=tuple(names))

    def change(self, at: int) -> Changes:
        """One round of changes, dated `at`: two new photos, two edited notes or tables, a deleted file.

        duplicity sees a change by the integer mtime alone, and an edit within the same wall-clock second
        as the previous write would look unchanged; dating every write by the simulated clock (the
        `--current-time` of the backup that follows) makes each round visible however fast the machine.
        """
        if at <= self.dated:
            raise ValueError(f"round dated {at} is not after the previous one ({self.dated})")
        self.rounds += 1
        current = self.relative_files()
        rng = self._rng(f"round:{self.rounds}")
        new = tuple(f"photos/round-{self.rounds:02}-{n}.jpg" for n in (1, 2))
        for relative in new:
            self._write(relative, f"round:{self.rounds}:{relative}", at)
        editable = [p for p in current if not p.endswith(".jpg")]
        modified = rng.sample(editable, k=min(2, len(editable)))
        for relative in modified:
            self._write(relative, f"round:{self.rounds}:{relative}", at)
        deletable = [p for p in current if p not in modified]
        deleted = rng.sample(deletable, k=min(1, max(len(deletable) - 1, 0)))
        for relative in deleted:
            (self.root / relative).unlink()
        self._date_folders(at)
        return Changes(added=new, modified=tuple(modified), deleted=tuple(deleted))

    def _date_folders(self, at: int) -> None:
        # Adding or deleting a file stamps its folder with the wall clock; the simulated one replaces it.
        self.dated = at
        for path in [self.root, *self.root.rglob("*")]:
            if path.is_dir():
                _set_mtime(path, at)

    def relative_files(self) -> list[str]:
        """Every file under the root, as sorted relative POSIX paths."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def snapshot(self) -> dict[str, str]:
        """Content hashes of every file now: what a restore to this moment must give back."""
        return hash_tree(self.root)


def write_random(path: Path, size: int, seed: int, *, at: int) -> None:
    """Write `size` seeded, incompressible bytes to `path`, dated `at` (epoch seconds).

    Seeded and incompressible, so every run gives the same number of 1 MB volumes. duplicity sees a
    change by the integer mtime alone: dating each write by the `--current-time` of the backup that
    follows it makes every change visible to that backup, however fast the machine writes.
    """
    path.write_bytes(random.Random(seed).randbytes(size))
    _set_mtime(path, at)


def _set_mtime(path: Path, at: int) -> None:
    os.utime(path, (at, at))


def hash_tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root`, by relative POSIX path."""
    hashes: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            hashes[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def compare(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Every difference between two hash maps, one line each; empty when the trees are equal."""
    problems = [f"missing: {path}" for path in sorted(expected.keys() - actual.keys())]
    problems += [f"unexpected: {path}" for path in sorted(actual.keys() - expected.keys())]
    problems += [
        f"different content: {path}"
        for path in sorted(expected.keys() & actual.keys())
        if expected[path] != actual[path]
    ]
    return problems


def total_bytes(root: Path) -> int:
    """The size of every file under `root`."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
