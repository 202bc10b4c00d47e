"""`glacierable run -- duplicity restore …` thaws exactly what duplicity's own dry run lists, then restores.

Real duplicity writes encrypted backups straight to GLACIER (`--s3-use-glacier`) on a moto server: a full
and an incremental of many 1 MB volumes. For a file, a folder, a file changed in the incremental and the
whole tree, at both backup times, the RestoreObject calls are compared with what duplicity itself prints
under "Required volumes to restore" (an independent read of its stdout, plus the volumes' par2 files), and
the restored files with the source as it was at that time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from glacierable import restore_flow
from glacierable.clients import s3_client
from glacierable.handlers import restore as restore_handler
from glacierable.handlers import restore_worker
from glacierable.names import format_time
from glacierable.ready import MIN_INTERVAL, ReadyCheck
from glacierable_cli import main, selection
from glacierable_dev.duplicity_runner import DUPLICITY, PAR2, PAR2_MISSING_REASON, DuplicityRunner
from glacierable_dev.emulator import MotoServer
from glacierable_dev.lambdas import FakeLambdaContext
from glacierable_dev.source_tree import compare, hash_tree, write_random
from tests.duplicity_oracle import parse_required_volumes
from tests.integration.test_restore import count_restores, list_restore_states_like_aws
from tests.integration.test_restore_cli import FakeLambda, use_lambda

pytestmark = pytest.mark.duplicity

BUCKET = "run-vs-duplicity"
PAR2_FOLDER = "hosts/par2"
PLAIN_FOLDER = "hosts/plain"
CTRL_C_FOLDER = "hosts/ctrl-c"
"""Its own copy of the plain backup: nothing in it is thawed by the other tests."""
FUNCTION_FOLDER = "hosts/function"
"""Another copy, for `run --function`."""
FULL_AT = 1_700_000_000
INC_AT = FULL_AT + 86_400
PASSPHRASE = "pass-Xyzzy-4711"
"""Distinctive: no output of glacierable run may ever contain it."""


@dataclass
class Backup:
    server: MotoServer
    runner: DuplicityRunner
    workdir: Path
    snapshots: dict[int, dict[str, str]]
    """The source's file hashes at each backup time."""
    restores: Counter[str] = field(default_factory=Counter)

    def url(self, folder: str, *, par2: bool) -> str:
        return f"{'par2+' if par2 else ''}boto3+s3://{BUCKET}/{folder}"


def _backup_twice(runner: DuplicityRunner, source: Path, url: str, cache: Path) -> None:
    options = ["--s3-use-glacier"]
    runner.backup(source, url, full=True, at=FULL_AT, archive_dir=cache, volsize=1, options=options)
    write_random(source / "photos" / "b.bin", 1_200_000, seed=22, at=INC_AT)  # changed in the incremental
    write_random(source / "photos" / "c.bin", 700_000, seed=23, at=INC_AT)  # new in the incremental
    runner.backup(source, url, full=False, at=INC_AT, archive_dir=cache, volsize=1, options=options)


def _write_source(source: Path) -> None:
    for folder in ("docs", "photos", "z"):
        (source / folder).mkdir(parents=True, exist_ok=True)
    (source / "docs" / "report.txt").write_text("the one file we need\n", encoding="utf-8")
    os.utime(source / "docs" / "report.txt", (FULL_AT, FULL_AT))
    write_random(source / "photos" / "a.bin", 1_200_000, seed=20, at=FULL_AT)
    write_random(source / "photos" / "b.bin", 1_200_000, seed=21, at=FULL_AT)
    write_random(source / "z" / "big.bin", 2_500_000, seed=24, at=FULL_AT)


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backup]:
    if PAR2 is None:
        pytest.skip(PAR2_MISSING_REASON)
    workdir = tmp_path_factory.mktemp("run-vs-duplicity")
    with MotoServer() as server:
        runner = DuplicityRunner.in_folder(workdir, endpoint_url=server.url, passphrase=PASSPHRASE)
        boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=BUCKET)
        snapshots: dict[int, dict[str, str]] = {}
        for folder, par2 in (
            (PAR2_FOLDER, True),
            (PLAIN_FOLDER, False),
            (CTRL_C_FOLDER, False),
            (FUNCTION_FOLDER, False),
        ):
            source = workdir / f"source-{folder.replace('/', '-')}"
            _write_source(source)
            snapshots[FULL_AT] = hash_tree(source)  # the same seeds and times in every folder
            url = f"{'par2+' if par2 else ''}boto3+s3://{BUCKET}/{folder}"
            _backup_twice(runner, source, url, workdir / f"cache-{folder.replace('/', '-')}")
            snapshots[INC_AT] = hash_tree(source)
        yield Backup(server, runner, workdir, snapshots)


@pytest.fixture
def env(backup: Backup, monkeypatch: pytest.MonkeyPatch) -> Backup:
    """The user's shell: duplicity's environment (PASSPHRASE, gpg home), and an S3 client that counts
    restores and lists restore states as AWS does."""
    for name, value in backup.runner.environment().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)

    def counting_client(**kwargs: Any) -> Any:
        client = s3_client(**kwargs)
        count_restores(client, backup.restores)
        # AWS's listings report restore states, moto's do not: without them a rerun re-requests every
        # archived volume and reads S3's "already restored" answers (tests/integration/test_restore*.py).
        list_restore_states_like_aws(client, truth=s3_client(**kwargs))
        return client

    monkeypatch.setattr(selection, "s3_client", counting_client)
    return backup


def user_command(backup: Backup, url: str, target: Path, restore_time: int, path: str | None) -> list[str]:
    """A restore as a user types it: this venv's duplicity, a fresh cache (a new machine)."""
    cache = target.parent / f"cache-{target.name}"
    argv = [str(DUPLICITY), "restore", "--s3-endpoint-url", backup.server.url, "--archive-dir", str(cache)]
    argv += ["--num-retries", "1", "-t", format_time(restore_time)]
    if path is not None:
        argv += ["--path-to-restore", path]
    return [*argv, url, str(target)]


def oracle_keys(backup: Backup, url: str, folder: str, restore_time: int, path: str | None) -> set[str]:
    """What duplicity's dry run prints (its stdout), as keys, with each volume's par2 files for par2+."""
    scratch = backup.workdir / f"oracle-{len(list(backup.workdir.iterdir()))}"
    options = ["--archive-dir", str(scratch / "cache"), "-t", format_time(restore_time)]
    options += [] if path is None else ["--path-to-restore", path]
    result = backup.runner.run("restore", "--dry-run", *options, url, str(scratch / "out"))
    names = parse_required_volumes(result.stdout)
    assert names, result.output
    keys = {f"{folder}/{name}" for name in names}
    if url.startswith("par2+"):
        listed = s3_client(endpoint_url=backup.server.url).list_objects_v2(Bucket=BUCKET, Prefix=f"{folder}/")
        for item in listed.get("Contents", []):
            key = item["Key"]
            if key.endswith(".par2") and any(key.startswith(f"{v}.") for v in keys if not v.endswith("par2")):
                keys.add(key)
    return keys


def glacierable(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    try:
        code = main.main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capfd.readouterr()
    assert PASSPHRASE not in out + err
    return code, out, err


def restored_matches(target: Path, expected: dict[str, str], path: str | None) -> list[str]:
    if path is None:
        return compare(expected, hash_tree(target))
    if path in expected:  # a file: duplicity restores it as the target itself
        if not target.is_file():
            return [f"not restored as a file: {path}"]
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        return [] if expected[path] == digest else [f"different content: {path}"]
    assert any(k.startswith(f"{path}/") for k in expected), path
    inside = {k.removeprefix(f"{path}/"): v for k, v in expected.items() if k.startswith(f"{path}/")}
    return compare(inside, hash_tree(target))


CASES = [
    pytest.param("docs/report.txt", INC_AT, id="a-file"),
    pytest.param("photos/b.bin", FULL_AT, id="a-changed-file-before-its-change"),
    pytest.param("photos/b.bin", INC_AT, id="a-changed-file-after-its-change"),
    pytest.param("photos", INC_AT, id="a-folder"),
    pytest.param("z/big.bin", FULL_AT, id="a-multi-volume-file"),
]


def test_each_path_thaws_what_duplicity_lists_then_the_whole_tree_only_the_rest(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backup = env
    url = backup.url(PAR2_FOLDER, par2=True)
    thawed: set[str] = set()
    for index, case in enumerate([*CASES, pytest.param(None, INC_AT, id="the-whole-tree")]):
        path, restore_time = case.values
        assert path is None or isinstance(path, str)
        assert isinstance(restore_time, int)
        expected = oracle_keys(backup, url, PAR2_FOLDER, restore_time, path)
        before = Counter(backup.restores)
        target = tmp_path / f"restored-{index}"
        command = user_command(backup, url, target, restore_time, path)

        code, out, err = glacierable(capfd, "run", "--interval", "0", "--", *command)

        assert code == 0, f"{case.id}: {out}\n{err}"
        requested = set((backup.restores - before).keys())
        assert requested == expected - thawed, case.id
        assert all(n == 1 for n in backup.restores.values()), "an object was requested twice"
        thawed |= expected
        assert restored_matches(target, backup.snapshots[restore_time], path) == [], case.id
    assert index == len(CASES)


def test_the_first_request_of_a_plain_backup_is_exactly_duplicitys_list(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backup = env
    url = backup.url(PLAIN_FOLDER, par2=False)
    expected = oracle_keys(backup, url, PLAIN_FOLDER, INC_AT, "photos/b.bin")
    target = tmp_path / "b.bin"
    command = user_command(backup, url, target, INC_AT, "photos/b.bin")
    before = Counter(backup.restores)

    code, out, err = glacierable(capfd, "run", "--tier", "Expedited", "--interval", "0", "--", *command)

    assert code == 0, out + err
    assert set((backup.restores - before).keys()) == expected
    assert not any(key.endswith(".par2") for key in expected)
    assert restored_matches(target, backup.snapshots[INC_AT], "photos/b.bin") == []
    assert f"running: {shlex.join(command)}" in err

    # Run again: everything it needs is restored, so nothing is requested and duplicity restores again.
    again = tmp_path / "b-again.bin"
    code, out, err = glacierable(
        capfd, "run", "--interval", "0", "--", *user_command(backup, url, again, INC_AT, "photos/b.bin")
    )
    assert code == 0, out + err
    assert set((backup.restores - before).keys()) == expected
    assert restored_matches(again, backup.snapshots[INC_AT], "photos/b.bin") == []


def test_plan_only_requests_nothing_and_prices_the_volumes_beside_the_whole_point(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backup = env
    url = backup.url(PLAIN_FOLDER, par2=False)
    command = user_command(backup, url, tmp_path / "never", FULL_AT, "docs/report.txt")
    before = Counter(backup.restores)

    code, out, err = glacierable(capfd, "run", "--plan-only", "--json", "--", *command)

    assert code == 0, err
    assert backup.restores == before
    assert not (tmp_path / "never").exists()
    (document,) = [json.loads(line) for line in out.splitlines()]
    assert document["record"] == "run_plan"
    this, whole = document["this_restore"], document["whole_restore_point"]
    assert this["data_volume_count"] == document["required_volume_count"] >= 1
    assert whole["chain"]["full_time"] == FULL_AT
    assert whole["data_volume_count"] > this["data_volume_count"]


def test_the_dry_runs_failure_ends_run_with_duplicitys_exit_code_and_requests_nothing(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backup = env
    before = Counter(backup.restores)
    command = user_command(backup, f"boto3+s3://{BUCKET}/no-such-folder", tmp_path / "x", INC_AT, None)

    code, _out, err = glacierable(capfd, "run", "--", *command)

    assert code not in (0, 1, 2)  # duplicity's own code for "no backup chains"
    assert "duplicity's dry run failed with exit code" in err
    assert backup.restores == before


def test_the_command_printed_after_ctrl_c_waits_again_and_requests_nothing_twice(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = env
    url = backup.url(CTRL_C_FOLDER, par2=False)
    path = "z/big.bin"
    target = tmp_path / "big.bin"
    expected = oracle_keys(backup, url, CTRL_C_FOLDER, FULL_AT, path)
    before = Counter(backup.restores)
    backup.server.keep_restores_ongoing(2)

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    original = restore_flow.wait_until_readable
    monkeypatch.setattr(restore_flow, "wait_until_readable", functools.partial(original, sleep=interrupt))
    try:
        command = user_command(backup, url, target, FULL_AT, path)
        code, _out, err = glacierable(capfd, "run", "--tier", "Bulk", "--interval", "0", "--", *command)
        assert code == 130, err
        assert not target.exists()
        requested = Counter(backup.restores - before)
        assert set(requested) == expected
        printed = [line.strip() for line in err.splitlines() if line.strip().startswith("glacierable run ")]
        assert len(printed) == 1, err

        monkeypatch.setattr(restore_flow, "wait_until_readable", original)
        argv = shlex.split(printed[0])
        assert argv[:2] == ["glacierable", "run"]
        assert "--" in argv and argv[argv.index("--") + 1 :] == command
        code, out, err = glacierable(capfd, *argv[1:])
    finally:
        backup.server._post("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})
    assert code == 0, out + err
    assert Counter(backup.restores - before) == requested  # the rerun requested nothing
    assert restored_matches(target, backup.snapshots[FULL_AT], path) == []


def test_run_through_the_function_says_a_message_will_come_and_queues_its_check(
    env: Backup, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deployed path in-process: the real restore Lambda (with a topic) and its workers, on this server.
    backup = env
    sqs = boto3.client("sqs", endpoint_url=backup.server.url)
    sns = boto3.client("sns", endpoint_url=backup.server.url)
    work_url = sqs.create_queue(QueueName="run-restore")["QueueUrl"]
    checks_url = sqs.create_queue(QueueName="run-ready")["QueueUrl"]
    topic = sns.create_topic(Name="run-notify")["TopicArn"]
    for name, value in {
        "BUCKET": BUCKET,
        "RESTORE_QUEUE_URL": work_url,
        "READY_QUEUE_URL": checks_url,
        "NOTIFY_TOPIC_ARN": topic,
    }.items():
        monkeypatch.setenv(name, value)
    s3 = s3_client(endpoint_url=backup.server.url)
    delays: list[int] = []

    def undelayed(params: dict[str, Any], **_: Any) -> None:
        # moto delays in wall-clock time: record the check's delay, and make it visible at once.
        delays.append(int(params.pop("DelaySeconds", 0)))

    sqs.meta.events.register("provide-client-params.sqs.SendMessage", undelayed)

    def deployed(payload: dict[str, Any]) -> tuple[Any, str | None]:
        answer = restore_handler.handler(payload, FakeLambdaContext())
        messages = sqs.receive_message(QueueUrl=work_url, MaxNumberOfMessages=10).get("Messages", [])
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        assert restore_worker.handler({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}
        return answer, None

    use_lambda(monkeypatch, FakeLambda(deployed))
    url = backup.url(FUNCTION_FOLDER, par2=False)
    target = tmp_path / "report.txt"
    command = user_command(backup, url, target, INC_AT, "docs/report.txt")
    with ExitStack() as clients:
        for module in (restore_handler, restore_worker):
            clients.enter_context(module.s3.use(s3))
            clients.enter_context(module.sqs.use(sqs))
            monkeypatch.setattr(module.metrics, "namespace", "Glacierable")
        code, out, err = glacierable(capfd, "run", "--function", "fn", "--interval", "0", "--", *command)
    assert code == 0, out + err
    assert f"a message on {topic} will say when everything is readable" in " ".join(err.split())
    assert "rerun this command" in " ".join(err.split())
    (check,) = sqs.receive_message(QueueUrl=checks_url, MaxNumberOfMessages=10)["Messages"]
    assert delays == [MIN_INTERVAL]
    assert ReadyCheck.from_body(check["Body"]).request.keys  # exactly duplicity's volumes
    assert restored_matches(target, backup.snapshots[INC_AT], "docs/report.txt") == []
