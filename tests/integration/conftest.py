"""Shared by the CLI's restore tests: the command line run in-process against moto, and a backup in it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from glacierable.clients import s3_client
from glacierable_cli import main, selection
from glacierable_dev.emulator import MotoServer
from tests.integration.test_restore import Backup, count_restores, upload_two_chains

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Result:
    code: int
    out: str
    err: str

    def records(self) -> list[dict[str, Any]]:
        """stdout as JSON Lines: every line one JSON object, nothing else."""
        assert self.out.endswith("\n"), self.out
        return [json.loads(line) for line in self.out.splitlines()]

    def json(self) -> Any:
        """The one JSON Lines record a single-result command prints."""
        (record,) = self.records()
        return record


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]
    endpoint_url: str
    bucket: str
    restores: Counter[str] = field(default_factory=Counter)
    on_client: list[Callable[[S3Client], None]] = field(default_factory=list)

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        try:
            code = main.main([*args, "--endpoint-url", self.endpoint_url])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def selection(self, command: str, *args: str) -> Result:
        return self(command, "--bucket", self.bucket, "--prefix", "backups/host1", *args)


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], endpoint_url: str, bucket: str
) -> Cli:
    runner = Cli(capsys, endpoint_url, bucket)

    def counting_client(**kwargs: Any) -> S3Client:
        client = s3_client(**kwargs)
        for hook in runner.on_client:  # first, so that a request a hook fails is not counted as sent
            hook(client)
        count_restores(client, runner.restores)  # every client the CLI builds counts into one counter
        return client

    monkeypatch.setattr(selection, "s3_client", counting_client)
    return runner


@pytest.fixture
def backup(s3: S3Client, bucket: str) -> Backup:
    return upload_two_chains(s3, bucket)


@pytest.fixture
def keep_ongoing(moto_server: MotoServer) -> Iterator[Callable[[int], None]]:
    yield moto_server.keep_restores_ongoing
    moto_server._post("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})
