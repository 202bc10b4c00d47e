"""Run the real duplicity (from this venv) against local `file://` targets, offline and with fixed times."""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DUPLICITY = Path(sys.executable).parent / "duplicity"
"""The venv's `duplicity` script (installed by requirements-dev.txt)."""

PAR2 = shutil.which("par2")
"""The `par2` binary that `par2+file://` targets need, or None when it is not installed."""

PAR2_MISSING_REASON = "the par2 binary is not installed (apt-get install par2)"

FAST_GPG_OPTIONS = "--s2k-count 65536"
"""Passed to gpg by `backup` when encrypting: a cheap passphrase derivation keeps tests fast."""

_gnupg_home: Path | None = None


class DuplicityFailed(subprocess.CalledProcessError):
    """duplicity exited non-zero; the message carries its output, which CalledProcessError hides."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}\n--- stdout ---\n{str(self.stdout)[-4000:]}\n"
            f"--- stderr ---\n{str(self.stderr)[-4000:]}"
        )


def file_url(path: Path) -> str:
    """The `file://` URL duplicity expects for a local folder."""
    return f"file://{path.resolve()}"


def par2_url(path: Path) -> str:
    """The `par2+file://` URL: duplicity writes par2 recovery files beside every file."""
    return f"par2+{file_url(path)}"


def _private_gnupg_home() -> Path:
    # gpg insists on a home; a private one keeps tests off the user's keyring and agent.
    global _gnupg_home
    if _gnupg_home is None:
        _gnupg_home = Path(tempfile.mkdtemp(prefix="glacierable-gnupg-"))
        _gnupg_home.chmod(0o700)
        atexit.register(shutil.rmtree, _gnupg_home, ignore_errors=True)
    return _gnupg_home


def run_duplicity(
    *args: str,
    passphrase: str | None = "test",
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `duplicity ARGS...` with PASSPHRASE set (unless None) and a private GNUPGHOME; raise on failure."""
    full_env = dict(os.environ)
    full_env.pop("PASSPHRASE", None)
    full_env.pop("SIGN_PASSPHRASE", None)
    full_env["GNUPGHOME"] = str(_private_gnupg_home())
    full_env["LC_ALL"] = full_env["LANG"] = "C.UTF-8"
    # par2 (OpenMP) spins one thread per core: on a busy 2-core machine one tiny file took 27 s, not 0.3 s.
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if passphrase is not None:
        full_env["PASSPHRASE"] = passphrase
    if env is not None:
        full_env.update(env)
    result = subprocess.run(
        [str(DUPLICITY), *args],
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise DuplicityFailed(result.returncode, result.args, result.stdout, result.stderr)
    return result


def backup(
    source: Path,
    target_url: str,
    *,
    full: bool,
    at: int,
    archive_dir: Path,
    options: Sequence[str] = (),
) -> None:
    """One full or incremental backup of `source` to `target_url`, timestamped `at` (epoch seconds)."""
    # gpg's default key derivation costs ~0.5 s per file here; names and contents' format are unchanged.
    fast_gpg = [] if "--no-encryption" in options else [f"--gpg-options={FAST_GPG_OPTIONS}"]
    run_duplicity(
        "full" if full else "incremental",
        "--archive-dir",
        str(archive_dir),
        "--current-time",
        str(at),
        "--no-print-statistics",
        *fast_gpg,
        *options,
        str(source),
        target_url,
    )


def list_names(target_dir: Path) -> list[str]:
    """The names of the files duplicity wrote into a `file://` target folder, sorted."""
    return sorted(entry.name for entry in target_dir.iterdir() if entry.is_file())


# --- Scenarios that make every kind of name, and what duplicity's own parser says about each name. ---
# Shared by tests/data/record_duplicity_names.py (which records tests/data/duplicity_names.json) and
# tests/e2e/test_duplicity_names.py (which makes them afresh).

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


def write_random(path: Path, size: int, seed: int, *, at: int) -> None:
    """Write `size` seeded, incompressible bytes to `path`, dated `at` (epoch seconds).

    Seeded and incompressible, so every run gives the same number of 1 MB volumes. duplicity sees a
    change by the integer mtime alone: dating each write by the `--current-time` of the backup that
    follows it makes every change visible to that backup, however fast the machine writes.
    """
    path.write_bytes(random.Random(seed).randbytes(size))
    os.utime(path, (at, at))


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
        backup(source, url, full=k == 0, at=at, archive_dir=archive, options=scenario.options)
    return list_names(target)


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
