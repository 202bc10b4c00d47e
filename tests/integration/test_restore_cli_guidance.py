"""What `plan`, `restore` and `status` tell a user in trouble: right times, JSON only, next steps that work.

Each next step the CLI prints is run here as a user would paste it.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from glacierable.restore import KeyFailure, RestoreReport
from glacierable_cli import main, restore_cmd
from glacierable_cli.errors import ExitCode
from glacierable_cli.render import Renderer
from tests.integration.conftest import Cli, Result
from tests.integration.test_restore import BETWEEN_CHAINS as BETWEEN_CHAINS_TIME
from tests.integration.test_restore import Backup, upload_two_chains

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def pasted(cli: Cli, result: Result, starts: str, *, lead: str = "") -> Result:
    """Run the first line of `result`'s output that starts with `starts` (after `lead`), as printed."""
    lines = (line.strip().removeprefix(lead) for line in result.out.splitlines())
    line = next(line for line in lines if line.startswith(starts))
    argv = shlex.split(line)
    assert argv[0] == "glacierable"
    cli.capsys.readouterr()
    try:
        code = main.main(argv[1:])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = cli.capsys.readouterr()
    return Result(code, captured.out, captured.err)


# --- restore times ---------------------------------------------------------------------------------


def test_time_zero_plans_the_latest_backup_as_duplicity_does(cli: Cli, backup: Backup) -> None:
    before = int(time.time())
    document = cli.selection("plan", "--json", "-t", "0").json()
    assert document["to_restore_keys"] == list(backup.new_chain)
    assert document["restore_time"] >= before
    printed_time = shlex.split(document["duplicity_command"])[3]
    assert printed_time == document["restore_time_text"] != "19700101T000000Z"


def test_a_time_before_the_first_backup_warns_that_the_first_full_is_restored(
    cli: Cli, backup: Backup
) -> None:
    result = cli.selection("plan", "-t", "2023-10-01")
    assert result.code == 0
    assert "before the first backup" in result.out
    first_full = [key for key in backup.old_chain if "duplicity-full." in key]
    assert cli.selection("plan", "--json", "-t", "2023-10-01").json()["to_restore_keys"] == first_full


# --- JSON Lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "records"),
    [
        (("plan",), ["plan"]),
        (("status",), ["status"]),
        (("restore", "--dry-run"), ["restore"]),
        (("restore",), ["restore"]),
        (("restore", "--wait", "--interval", "0"), ["restore", "ready"]),
    ],
)
def test_every_json_output_is_json_lines_and_nothing_else(
    cli: Cli, backup: Backup, args: tuple[str, ...], records: list[str]
) -> None:
    result = cli.selection(*args, "--json")
    assert result.code in (0, ExitCode.NOT_READY), result.err
    assert [record["record"] for record in result.records()] == records
    for line in result.out.splitlines():
        assert json.loads(line) and "\n" not in line


def test_counts_and_key_lists_have_the_same_names_in_every_command(cli: Cli, backup: Backup) -> None:
    plan = cli.selection("plan", "--json").json()
    restore = cli.selection("restore", "--json", "--dry-run").json()
    for document in (plan, restore):
        assert document["needed_count"] == len(backup.new_chain)
        assert document["to_restore_count"] == 3
        assert isinstance(document["needed_count"], int)
    assert plan["needed_keys"] == list(backup.new_chain)
    assert "needed_keys" not in restore  # summaries carry counts; only plan and status list keys


# --- next steps ------------------------------------------------------------------------------------


def test_restore_without_wait_prints_a_status_command_with_the_time_pinned(cli: Cli, backup: Backup) -> None:
    result = cli.selection("restore")
    assert result.code == 0, result.err
    status_line = next(line for line in result.out.splitlines() if "glacierable status" in line)
    assert re.search(r" -t \d{8}T\d{6}Z ", status_line), status_line

    status = pasted(cli, result, "glacierable status")

    assert status.code == 0, status.err  # moto restores at once: all readable
    assert "duplicity can restore now" in status.out


def test_the_restore_command_plan_prints_next_runs_as_pasted(cli: Cli, backup: Backup) -> None:
    plan = cli.selection("plan", "-t", BETWEEN_CHAINS_TIME)
    assert plan.code == 0, plan.err

    restore = pasted(cli, plan, "glacierable restore", lead="next: ")

    assert restore.code == 0, restore.err
    assert cli.restores == Counter(dict.fromkeys(backup.old_chain, 1))


def test_status_exits_not_ready_and_its_printed_restore_command_works(cli: Cli, backup: Backup) -> None:
    status = cli.selection("status")
    assert status.code == ExitCode.NOT_READY
    assert int(status.code) == 3
    assert "3 needed object(s) are archived" in status.out

    restore = pasted(cli, status, "glacierable restore")

    assert restore.code == 0, restore.err
    assert cli.restores == Counter(dict.fromkeys(backup.new_chain, 1))
    assert cli.selection("status").code == 0


def test_status_while_restoring_shows_the_tier_eta_and_says_check_again(
    cli: Cli, backup: Backup, keep_ongoing: Callable[[int], None]
) -> None:
    keep_ongoing(3)  # moto: each key reports ongoing for its first two reads
    cli.selection("restore", "--tier", "Bulk")
    result = cli.selection("status", "--tier", "Bulk")
    assert result.code == ExitCode.NOT_READY
    assert "Bulk restores take 5-12 h from their request" in result.out
    assert "check again later" in result.out

    again = pasted(cli, result, "glacierable status")

    assert again.code == ExitCode.NOT_READY and "--tier Bulk" in result.out


def test_no_chains_points_at_the_prefixes_that_hold_backups(cli: Cli, s3: S3Client) -> None:
    upload_two_chains(s3, cli.bucket, "backups/host1/")
    for key in (
        "duplicity-full.20231101T000000Z.manifest.gpg",
        "duplicity-full.20231101T000000Z.vol1.difftar.gpg",
        "duplicity-full-signatures.20231101T000000Z.sigtar.gpg",
    ):
        s3.put_object(Bucket=cli.bucket, Key=f"backups/host2/host2_{key}", Body=b"x")

    other_prefix = cli("plan", "--bucket", cli.bucket, "--prefix", "backups/host2")
    parent = cli("plan", "--bucket", cli.bucket, "--prefix", "backups")

    assert other_prefix.code == 1 and "--file-prefix host2_" in other_prefix.err
    assert parent.code == 1
    assert "--prefix backups/host1/ or --prefix backups/host2/" in parent.err


# --- waiting ---------------------------------------------------------------------------------------


def test_wait_requests_again_what_is_archived_with_no_restore(cli: Cli, backup: Backup) -> None:
    lost = backup.new_chain[0]
    swallowed: list[str] = []

    def lose_first_request(client: Any) -> None:
        def maybe_lose(params: dict[str, Any], **_: Any) -> Any:
            if lost.rpartition("/")[2] in params["url_path"] and not swallowed:
                swallowed.append(lost)  # S3 never sees it: as if lost, or as if its copy had expired
                return SimpleNamespace(status_code=202), {"ResponseMetadata": {"HTTPStatusCode": 202}}
            return None

        client.meta.events.register("before-call.s3.RestoreObject", maybe_lose)

    cli.on_client.append(lose_first_request)
    result = cli.selection("restore", "--wait", "--interval", "0")

    assert result.code == 0, result.err
    assert swallowed == [lost]
    assert "1 needed object(s) are archived with no restore" in result.err
    assert cli.restores[lost] == 2
    assert result.out.strip().splitlines()[-1].startswith("duplicity restore")


def test_days_shorter_than_the_tier_warns_that_copies_may_expire(cli: Cli, s3: S3Client) -> None:
    upload_two_chains(s3, cli.bucket, "backups/host1/", storage_class="DEEP_ARCHIVE")
    result = cli.selection("restore", "--dry-run", "--tier", "Bulk", "--days", "1")
    assert "may expire before the last arrive" in result.out and "--days 3" in result.out
    calm = cli.selection("restore", "--dry-run", "--tier", "Bulk", "--days", "3")
    assert "may expire" not in calm.out


def test_no_eta_is_shown_once_everything_is_readable(
    cli: Cli, backup: Backup, keep_ongoing: Callable[[int], None]
) -> None:
    keep_ongoing(3)
    result = cli.selection("restore", "--wait", "--interval", "0")
    lines = [line for line in result.err.splitlines() if "readable (" in line]
    assert "ETA" in lines[0]
    assert lines[-1].startswith("3/3 readable") and "ETA" not in lines[-1]


def test_an_interrupted_restore_says_what_it_sent_and_exits_130(cli: Cli, backup: Backup) -> None:
    def interrupt_on_last(client: Any) -> None:
        def maybe_interrupt(params: dict[str, Any], **_: Any) -> None:
            if params["Key"] == backup.new_chain[-1]:
                raise KeyboardInterrupt

        client.meta.events.register("before-parameter-build.s3.RestoreObject", maybe_interrupt)

    cli.on_client.append(interrupt_on_last)
    result = cli.selection("restore", "--concurrency", "1")
    assert result.code == ExitCode.INTERRUPTED
    assert "interrupted after 2 of 3 restore requests" in result.err


# --- the bill and the text -------------------------------------------------------------------------


def test_plan_shows_every_part_of_the_bill_and_its_assumptions(cli: Cli, backup: Backup) -> None:
    result = cli.selection("plan")
    standard = next(line for line in result.out.splitlines() if line.startswith("standard"))
    for part in ("retrieval $", "requests $", "copies $", "download $"):
        assert part in standard
    assert "outside AWS" in result.out and "inside the bucket's Region it is free" in result.out


def test_keys_with_control_characters_are_printed_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    report = RestoreReport(failed=[KeyFailure("backups/evil\x1b[2J\nkey", "InternalError", "bad\rthing")])
    restore_cmd.show_failures(Renderer(), report)
    text = capsys.readouterr().err
    assert "\x1b" not in text and "\r" not in text
    assert "backups/evil\\x1b[2J\\nkey: InternalError: bad\\rthing" in text
