"""Run the real duplicity (the one installed beside this Python), offline, fast and in its own environment.

One runner serves the demo (an S3 endpoint, encrypted) and the tests (`file://` and `par2+file://` targets,
encrypted or not): it never sees the operator's AWS profile, keyring or passphrase.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from glacierable_dev.emulator import FAKE_CREDENTIALS

DUPLICITY = Path(sys.executable).parent / "duplicity"
"""The venv's `duplicity` script."""

PAR2 = shutil.which("par2")
"""The `par2` binary that `par2+` targets need, or None when it is not installed."""

PAR2_MISSING_REASON = "the par2 binary is not installed (apt-get install par2)"

FAST_GPG_OPTIONS = "--s2k-count 65536"
"""A cheap passphrase derivation: gpg's default costs ~0.5 s per file; names and formats are unchanged."""

_QUIET_ENV = {
    # par2 (OpenMP) spins a thread per core: on a busy 2-core machine one tiny file took 27 s, not 0.3 s.
    "OMP_NUM_THREADS": "1",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    # boto3 >= 1.36 sends checksums that S3-compatible endpoints may reject; duplicity suggests these.
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    # Never the operator's own AWS profile, config or credentials.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}

_SECRETS = ("PASSPHRASE", "SIGN_PASSPHRASE")


@dataclass(frozen=True, slots=True)
class Result:
    """One duplicity run: the command line (as typed, without secrets), exit code and output."""

    command: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return f"{self.stdout}\n{self.stderr}".strip()


class DuplicityError(RuntimeError):
    """duplicity exited non-zero where it should have succeeded; the message ends with its output."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"{result.command} exited with {result.returncode}:\n{_tail(result.output)}")
        self.result = result


@dataclass(frozen=True, slots=True)
class DuplicityRunner:
    """duplicity with its own gpg home and temp folder, optionally bound to an endpoint and a passphrase.

    `endpoint_url` None: no `--s3-endpoint-url` and no credentials (for `file://` targets).
    `passphrase` None: no PASSPHRASE (for `--no-encryption`).
    """

    endpoint_url: str | None
    passphrase: str | None
    gnupg_home: Path
    tempdir: Path

    @classmethod
    def in_folder(
        cls, workdir: Path, *, endpoint_url: str | None = None, passphrase: str | None = None
    ) -> DuplicityRunner:
        """A prepared runner whose gpg home and temp folder are `workdir/gnupg` and `workdir/tmp`."""
        return cls(endpoint_url, passphrase, workdir / "gnupg", workdir / "tmp").prepare()

    def prepare(self) -> DuplicityRunner:
        """Create the private gpg home (mode 0700, as gpg insists) and the temp folder."""
        self.gnupg_home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.gnupg_home.chmod(0o700)
        self.tempdir.mkdir(parents=True, exist_ok=True)
        return self

    def environment(self) -> dict[str, str]:
        """The environment duplicity runs with: private gpg home and temp folder, none of the user's AWS."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in _SECRETS}
        if self.endpoint_url is not None:
            env.update(FAKE_CREDENTIALS)
        env.update(_QUIET_ENV)
        env["GNUPGHOME"] = str(self.gnupg_home)
        env["TMPDIR"] = str(self.tempdir)
        # duplicity's default archive dir is $XDG_CACHE_HOME/duplicity, and importing duplicity's config
        # (as the name oracle does) sets XDG_CACHE_HOME in this process: without a private one, a run
        # without --archive-dir would reuse (and fill) the user's real cache, stale manifests included.
        env["XDG_CACHE_HOME"] = str(self.tempdir / "cache")
        if self.passphrase is not None:
            env["PASSPHRASE"] = self.passphrase
        return env

    def run(self, action: str, *args: str, check: bool = True) -> Result:
        """`duplicity ACTION ARGS...`; raises DuplicityError on failure if `check`."""
        argv = [action]
        if self.endpoint_url is not None:
            argv += ["--s3-endpoint-url", self.endpoint_url]
        argv += ["--tempdir", str(self.tempdir)]
        if self.passphrase is not None and "--no-encryption" not in args:
            argv.append(f"--gpg-options={FAST_GPG_OPTIONS}")
        argv += args
        completed = subprocess.run(
            [str(DUPLICITY), *argv],
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        result = Result(
            shlex.join(["duplicity", *argv]), completed.returncode, completed.stdout, completed.stderr
        )
        if check and result.returncode != 0:
            raise DuplicityError(result)
        return result

    def backup(
        self,
        source: Path,
        url: str,
        *,
        full: bool,
        at: int,
        archive_dir: Path,
        volsize: int | None = None,
        options: Sequence[str] = (),
    ) -> Result:
        """One full or incremental backup of `source`, dated `at` (epoch seconds: --current-time)."""
        return self.run(
            "full" if full else "incremental",
            "--archive-dir",
            str(archive_dir),
            "--current-time",
            str(at),
            *(() if volsize is None else ("--volsize", str(volsize))),
            "--no-print-statistics",
            *options,
            str(source),
            url,
        )

    def collection_status(self, url: str, *, archive_dir: Path) -> Result:
        """`duplicity collection-status`: reads every manifest and signature, no volume."""
        return self.run("collection-status", "--archive-dir", str(archive_dir), url)

    def restore(
        self,
        url: str,
        target: Path,
        *,
        at: int,
        archive_dir: Path,
        check: bool = True,
        retries: int = 1,
    ) -> Result:
        """`duplicity restore -t AT URL TARGET`; one try per file by default, so a failure shows at once."""
        return self.run(
            "restore",
            "--archive-dir",
            str(archive_dir),
            "--num-retries",
            str(retries),
            "--backend-retry-delay",
            "0",
            "-t",
            str(at),
            url,
            str(target),
            check=check,
        )


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


def error_lines(result: Result, needles: Sequence[str] = ("Error", "error", "Giving up")) -> list[str]:
    """duplicity's lines that mention an error, in order, without repeats."""
    seen: dict[str, None] = {}
    for line in result.output.splitlines():
        if any(needle in line for needle in needles):
            seen.setdefault(line.strip(), None)
    return list(seen)


def file_url(path: Path) -> str:
    """The `file://` URL duplicity expects for a local folder."""
    return f"file://{path.resolve()}"


def par2_url(path: Path) -> str:
    """The `par2+file://` URL: duplicity writes par2 recovery files beside every file."""
    return f"par2+{file_url(path)}"
