"""The demo story's shared state and plumbing: options, results, the clients and folders its steps use."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glacierable.prefixes import duplicity_url
from glacierable.prefixes import folder as folder_of
from glacierable_dev.duplicity_runner import DuplicityRunner
from glacierable_dev.emulator import MotoServer
from glacierable_dev.lambdas import LocalLambdas
from glacierable_dev.report import (
    Printer,
    Timings,
)
from glacierable_dev.source_tree import Changes
from glacierable_dev.story_text import quote_demo, without_boto3_notice

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


DAY = 86400
RestoreHook = Callable[[str, Path], None]
"""Called with a restore's label and folder after duplicity restored it, before it is verified."""


@dataclass(frozen=True)
class StoryOptions:
    """What the demo backs up and how."""

    files: int = 12
    volsize: int = 1
    """duplicity's --volsize in MB: small, so every backup has several volumes."""
    workdir: Path | None = None
    """Where the source, caches and restores go (kept); None: a temporary folder, removed at the end."""
    bucket: str = "glacierable-demo"
    folder: str = "backups/host1"
    rule_prefix: str = "backups/"
    passphrase: str = "glacierable-demo-passphrase"
    storage_class: str = "GLACIER"
    days: int = 1
    poll_interval: float = 0.2
    """Seconds between polls while waiting: the emulator counts reads, not seconds (`ongoing_reads`)."""
    ongoing_reads: int = 3
    """Status reads each restore stays "in progress" for in the emulator."""

    def __post_init__(self) -> None:
        if self.files < 3:
            raise ValueError(f"files must be at least 3, got {self.files}")
        if not 1 <= self.volsize <= 1000:
            raise ValueError(f"volsize must be from 1 to 1000 MB, got {self.volsize}")


@dataclass
class StoryResult:
    """How the story ended: exit code 0 only if every restore equals its source, file by file."""

    exit_code: int
    endpoint_url: str
    bucket: str
    folder: str
    problems: list[str] = field(default_factory=list)
    mismatches: dict[str, list[str]] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)
    one_file: str | None = None
    """The file step 8 restores on its own (a path relative to the backed-up folder), once chosen."""


class StoryFailed(RuntimeError):
    """A step went wrong in a way that makes the rest of the story meaningless."""


@dataclass
class _Backup:
    label: str
    at: int
    changes: Changes
    snapshot: dict[str, str]
    source_bytes: int
    new_keys: list[str]
    seconds: float


class StoryBase:
    """What every step reads: options, endpoint, printer, clock, and the clients made in step 1."""

    s3: S3Client
    sqs: SQSClient
    events_queue: str
    restore_queue: str
    events_arn: str
    restore_arn: str
    lambdas: LocalLambdas

    def __init__(
        self,
        options: StoryOptions,
        server: MotoServer,
        workdir: Path,
        printer: Printer,
        after_restore: RestoreHook | None,
    ) -> None:
        self.options = options
        self.server = server
        self.workdir = workdir
        self.p = printer
        self.after_restore = after_restore
        self.timings = Timings()
        self.folder = folder_of(options.folder)
        self.url = duplicity_url(options.bucket, options.folder)
        self.backups: list[_Backup] = []
        self.problems: list[str] = []
        self.mismatches: dict[str, list[str]] = {}
        self.cost_before = 0.0
        self.cost_after = 0.0
        self.one_file: str | None = None
        self.now = int(time.time())
        # Daily backups over the last three days, on the hour: full, then two incrementals.
        first = self.now // 3600 * 3600 - 3 * DAY
        self.times = [first, first + DAY, first + 2 * DAY]
        self.middle_time = self.times[1] + 3600

    def duplicity(self) -> DuplicityRunner:
        return DuplicityRunner.in_folder(
            self.workdir, endpoint_url=self.server.url, passphrase=self.options.passphrase
        )

    def fresh_archive_dir(self, label: str) -> Path:
        """An empty duplicity cache: as on a new machine, everything is read from S3."""
        path = self.workdir / f"cache-{label}"
        path.mkdir()
        return path

    def list_folder(self) -> list[dict[str, Any]]:
        response = self.s3.list_objects_v2(Bucket=self.options.bucket, Prefix=self.folder)
        items: list[dict[str, Any]] = [dict(item) for item in response.get("Contents", [])]
        return sorted(items, key=lambda item: str(item["Key"]))

    def short(self, key: str) -> str:
        return key[len(self.folder) :] if key.startswith(self.folder) else key

    def cli(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> str:
        """Run the real `glacierable` command, as a user would, show what it prints, and return it.

        `env`: the user's shell for commands that run duplicity (its passphrase, gpg home, PATH).
        """
        shown = self.shorten(" ".join(quote_demo(arg) for arg in argv))
        self.p.command(f"glacierable {shown}")
        completed = subprocess.run(
            [sys.executable, "-m", "glacierable_cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # progress and summary in the order the user would see them
            text=True,
            env=None if env is None else dict(env),
            check=False,
        )
        if self.options.passphrase in completed.stdout:
            # Never shown, even on failure: the demo's passphrase stands for the user's.
            raise StoryFailed(f"glacierable {argv[0]} printed duplicity's passphrase")
        output = self.shorten(without_boto3_notice(completed.stdout).rstrip("\n"))
        self.p.block(output)
        if completed.returncode != 0:
            raise StoryFailed(f"glacierable {argv[0]} exited with {completed.returncode}")
        return output

    def shorten(self, text: str) -> str:
        """`text` with the work folder abbreviated to $WORK, as the demo shows paths."""
        return text.replace(str(self.workdir), "$WORK")
