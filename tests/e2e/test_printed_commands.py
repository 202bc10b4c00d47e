"""The commands `glacierable restore` prints work when pasted: real duplicity, par2 and prefixes, on moto.

duplicity writes the backup straight to GLACIER (`--s3-use-glacier`), through a `par2+` URL and with
`--file-prefix*` options; `glacierable restore --wait` thaws what it needs and prints the duplicity
command, which is then run as printed (only `duplicity` resolved to this venv's) into a new folder.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from glacierable_cli.main import main
from glacierable_dev.duplicity_runner import DUPLICITY, PAR2, PAR2_MISSING_REASON, DuplicityRunner
from glacierable_dev.emulator import MotoServer
from glacierable_dev.source_tree import SourceTree, compare, hash_tree

pytestmark = pytest.mark.duplicity

BUCKET = "printed-commands"
FOLDER = "hosts/p2"
FULL_AT = 1_700_000_000
INC_AT = FULL_AT + 86_400
PREFIXES = ["--file-prefix", "h1_", "--file-prefix-archive", "data_"]


@dataclass
class Backup:
    server: MotoServer
    runner: DuplicityRunner
    workdir: Path
    snapshot: dict[str, str]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backup]:
    if PAR2 is None:
        pytest.skip(PAR2_MISSING_REASON)
    workdir = tmp_path_factory.mktemp("printed")
    with MotoServer() as server:
        runner = DuplicityRunner.in_folder(workdir, endpoint_url=server.url, passphrase="secret")
        boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=BUCKET)
        tree = SourceTree(workdir / "source", files=6)
        url = f"par2+boto3+s3://{BUCKET}/{FOLDER}"
        options = ["--s3-use-glacier", *PREFIXES]
        tree.create(FULL_AT)
        runner.backup(
            tree.root, url, full=True, at=FULL_AT, archive_dir=workdir / "cache", volsize=1, options=options
        )
        tree.change(INC_AT)
        runner.backup(
            tree.root, url, full=False, at=INC_AT, archive_dir=workdir / "cache", volsize=1, options=options
        )
        yield Backup(server, runner, workdir, tree.snapshot())


def glacierable(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def run_pasted(backup: Backup, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`command` as a user pastes it into a shell in `cwd`, with duplicity's environment."""
    argv = shlex.split(command)
    assert argv[:2] == ["duplicity", "restore"], command
    # A new machine: nothing cached, so duplicity reads every manifest it needs from S3.
    env: dict[str, Any] = {
        **backup.runner.environment(),
        "HOME": str(cwd / "home"),
        "XDG_CACHE_HOME": str(cwd / "cache"),
    }
    return subprocess.run(
        [str(DUPLICITY), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_the_printed_duplicity_command_restores_a_par2_backup_with_prefixes(backup: Backup) -> None:
    selection = ["--bucket", BUCKET, "--prefix", FOLDER, *PREFIXES, "--endpoint-url", backup.server.url]
    code, out, err = glacierable("restore", *selection, "--wait", "--interval", "0")
    assert code == 0, err
    command = out.strip().splitlines()[-1]
    assert f" par2+boto3+s3://{BUCKET}/{FOLDER} " in command
    assert "--file-prefix h1_ --file-prefix-archive data_" in command

    cwd = backup.workdir / "paste-text"
    cwd.mkdir()
    result = run_pasted(backup, command, cwd)

    assert result.returncode == 0, result.stdout + result.stderr
    (target,) = [p for p in cwd.iterdir() if p.name.startswith("duplicity-restore-")]
    assert compare(backup.snapshot, hash_tree(target)) == []


def test_the_ready_record_of_json_wait_is_the_same_working_command(backup: Backup) -> None:
    selection = ["--bucket", BUCKET, "--prefix", FOLDER, *PREFIXES, "--endpoint-url", backup.server.url]
    code, out, err = glacierable("restore", *selection, "--json", "--wait", "--interval", "0", "-t", "0")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["record"] for r in records] == ["restore", "ready"]
    ready = records[1]
    assert ready["readable_count"] == ready["needed_count"] > 0
    command = ready["duplicity_command"] + " restored-json"  # a target of the user's own: the last word wins

    cwd = backup.workdir / "paste-json"
    cwd.mkdir()
    argv = shlex.split(command)
    del argv[-2]  # the printed default target, replaced as a user would
    result = run_pasted(backup, shlex.join(argv), cwd)

    assert result.returncode == 0, result.stdout + result.stderr
    assert compare(backup.snapshot, hash_tree(cwd / "restored-json")) == []


def test_the_printed_status_command_runs_as_pasted_and_says_ready(backup: Backup) -> None:
    selection = ["--bucket", BUCKET, "--prefix", FOLDER, *PREFIXES, "--endpoint-url", backup.server.url]
    code, out, err = glacierable("restore", *selection, "-t", str(INC_AT))
    assert code == 0, err
    status_line = next(
        line.strip() for line in out.splitlines() if line.strip().startswith("glacierable status")
    )
    assert "-t 20231115T221320Z" in status_line

    code, out, err = glacierable(*shlex.split(status_line)[1:])

    assert code == 0, out + err  # moto completes restores at once: everything is readable
    assert "duplicity can restore now" in out
    assert "par2+boto3+s3://" in out
