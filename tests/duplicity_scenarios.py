"""Backups that make every kind of name duplicity writes, and what duplicity's own parser says of each.

Shared by tests/data/record_duplicity_names.py (which records tests/data/duplicity_names.json),
tests/e2e/test_duplicity_names.py (which makes them afresh) and the name tests that read the record.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from glacierable_dev.duplicity_runner import DuplicityRunner, file_url, par2_url
from glacierable_dev.source_tree import write_random

FULL_AT = 1_700_000_000
"""The full backup's time in every scenario: 20231114T221320Z."""

INCREMENT_SECONDS = 3600
"""Incremental backup k runs at FULL_AT + k * INCREMENT_SECONDS."""

PREFIX_OPTIONS = {
    "": "--file-prefix",
    "archive": "--file-prefix-archive",
    "manifest": "--file-prefix-manifest",
    "signature": "--file-prefix-signature",
    "jsonstat": "--file-prefix-jsonstat",
}
"""duplicity's prefix options by the file type they apply to ("" applies to all)."""

_PAR2_SUFFIX_RE = re.compile(r"(?:\.vol[0-9+]*)?\.par2\Z")  # as duplicity's par2 backend matches them


@dataclass(frozen=True)
class Scenario:
    """One backup chain (a full and `incrementals` incrementals) written with one set of options."""

    name: str
    encrypted: bool = True
    compressed: bool = True
    jsonstat: bool = False
    par2: bool = False
    incrementals: int = 1
    full_bytes: int = 2_500_000
    increment_bytes: int = 1_500_000
    prefixes: Mapping[str, str] = field(default_factory=dict)

    @property
    def times(self) -> list[int]:
        return [FULL_AT + k * INCREMENT_SECONDS for k in range(self.incrementals + 1)]

    @property
    def options(self) -> list[str]:
        options = ["--volsize", "1"]
        if not self.encrypted:
            options.append("--no-encryption")
        if not self.compressed:
            options.append("--no-compression")
        if self.jsonstat:
            options.append("--jsonstat")
        for file_type, prefix in self.prefixes.items():
            options += [PREFIX_OPTIONS[file_type], prefix]
        return options


SCENARIOS = (
    Scenario("gpg", incrementals=2),
    Scenario("gzip", encrypted=False),
    Scenario("plain", encrypted=False, compressed=False),
    Scenario(
        "prefixes-jsonstat",
        encrypted=False,
        jsonstat=True,
        prefixes={
            "": "host2_",
            "archive": "data_",
            "manifest": "meta_",
            "signature": "sig_",
            "jsonstat": "stat_",
        },
    ),
    # par2 is slow on big files, and one volume per backup shows its names as well as many.
    Scenario(
        "par2",
        jsonstat=True,
        par2=True,
        prefixes={"": "h ü_"},
        full_bytes=200_000,
        increment_bytes=100_000,
    ),
)
"""Every kind of name duplicity 3 writes: volumes, manifests, signatures, jsonstat; .gpg/.gz/none; par2."""


@functools.cache
def duplicity() -> DuplicityRunner:
    """The tests' runner for local targets: passphrase "test", in a private folder removed at exit."""
    # Made on first use, not on import: the name tests import this module without running duplicity.
    root = Path(tempfile.mkdtemp(prefix="glacierable-duplicity-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return DuplicityRunner.in_folder(root, passphrase="test")


def run_scenario(scenario: Scenario, workdir: Path) -> list[str]:
    """Run the scenario's backups in `workdir`; the names of the files written, sorted."""
    source, target, archive = workdir / "source", workdir / "target", workdir / "archive"
    source.mkdir(parents=True)
    (source / "ü file.txt").write_text("hello\n", encoding="utf-8")
    os.utime(source / "ü file.txt", (FULL_AT, FULL_AT))
    write_random(source / "big.bin", scenario.full_bytes, seed=1, at=FULL_AT)
    url = par2_url(target) if scenario.par2 else file_url(target)
    for k, at in enumerate(scenario.times):
        if k:
            write_random(source / f"inc{k}.bin", scenario.increment_bytes, seed=k + 1, at=at)
        duplicity().backup(source, url, full=k == 0, at=at, archive_dir=archive, options=scenario.options)
    return sorted(entry.name for entry in target.iterdir() if entry.is_file())


def duplicity_fields(name: str, scenario: Scenario) -> dict[str, object] | None:
    """What duplicity's own `file_naming.parse` says about `name`, in `DuplicityName`'s terms."""
    from duplicity import config, file_naming  # a dev dependency; imported only by the tests that use it

    protected = _PAR2_SUFFIX_RE.sub("", name)
    saved = {_prefix_attribute(t): getattr(config, _prefix_attribute(t)) for t in PREFIX_OPTIONS}
    try:
        for file_type in PREFIX_OPTIONS:
            setattr(config, _prefix_attribute(file_type), scenario.prefixes.get(file_type, "").encode())
        result = file_naming.parse(protected.encode())
    finally:
        for attribute, value in saved.items():
            setattr(config, attribute, value)
    if result is None:
        return None
    kind = {"full": "volume", "inc": "volume", "full-sig": "signature", "new-sig": "signature"}.get(
        result.type, "jsonstat"
    )
    if result.manifest:
        kind = "manifest"
    full = result.type in ("full", "full-sig", "full-stat")
    type_prefix = {"volume": "archive", "signature": "signature"}.get(kind, kind)
    return {
        "prefix": scenario.prefixes.get("", "") + scenario.prefixes.get(type_prefix, ""),
        "kind": kind,
        "full": full,
        "start_time": None if full else result.start_time,
        "end_time": result.time if full else result.end_time,
        "volume": result.volume_number,
        "encrypted": bool(result.encrypted),
        "compressed": bool(result.compressed),
        "partial": bool(result.partial),
        "par2": protected != name,
        "protected": protected,
        "short": False,
    }


def _prefix_attribute(file_type: str) -> str:
    return f"file_prefix_{file_type}" if file_type else "file_prefix"
