"""`glacierable plan | restore | status` against a moto server, through the real command-line entry point."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from glacierable.handlers import restore as restore_handler
from glacierable.handlers import restore_worker
from glacierable.restore_flow import unknown_states_warning
from glacierable.restore_summary import RestoreRefusal
from glacierable_cli import restore_cmd
from glacierable_cli.errors import ExitCode
from glacierable_cli.render import eta_text
from glacierable_dev.lambdas import FakeLambdaContext
from tests.integration.conftest import Cli
from tests.integration.test_restore import (
    BETWEEN_CHAINS,
    T3,
    Backup,
    count_operations,
    count_restores,
    fail_restores,
    list_restore_states_like_aws,
    upload_two_chains,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


# --- plan -----------------------------------------------------------------------------------------


def test_plan_json_lists_the_chain_volumes_to_restore(cli: Cli, backup: Backup) -> None:
    result = cli.selection("plan", "--json")
    assert result.code == 0
    document = result.json()
    assert document["record"] == "plan"
    assert document["needed_keys"] == list(backup.new_chain)
    assert document["to_restore_keys"] == list(backup.new_chain)
    assert document["to_restore_count"] == 3
    assert document["chain"]["full_time_text"] == T3
    assert [cost["tier"] for cost in document["costs"]] == ["Expedited", "Standard", "Bulk"]


def test_plan_at_an_older_time_lists_the_older_chain(cli: Cli, backup: Backup) -> None:
    document = cli.selection("plan", "--json", "--time", BETWEEN_CHAINS).json()
    assert document["to_restore_keys"] == list(backup.old_chain)


def test_plan_table_shows_what_to_restore_and_the_cost(cli: Cli, backup: Backup) -> None:
    result = cli.selection("plan")
    assert result.code == 0
    assert "to restore    3 objects (300 bytes)" in result.out
    assert "bulk" in result.out and "standard" in result.out


def test_plan_of_a_folder_without_backups_fails_with_the_reason(cli: Cli, backup: Backup) -> None:
    result = cli("plan", "--bucket", cli.bucket, "--prefix", "elsewhere")
    assert result.code == 1
    assert "no backup chains found" in result.err


def test_plan_with_other_duplicity_prefixes_finds_nothing_of_this_backup(cli: Cli, backup: Backup) -> None:
    result = cli.selection("plan", "--file-prefix", "host2_")
    assert result.code == 1 and "--file-prefix" in result.err


# --- restore, local mode --------------------------------------------------------------------------


def test_restore_requests_the_chain_once_and_never_another_chain(cli: Cli, backup: Backup) -> None:
    result = cli.selection("restore")
    assert result.code == 0, result.err
    assert cli.restores == Counter(dict.fromkeys(backup.new_chain, 1))
    assert re.search(r"^requested +3$", result.out, re.MULTILINE)


def test_rerun_where_the_listing_reports_restore_states_requests_nothing_new(
    cli: Cli, backup: Backup, s3: S3Client
) -> None:
    cli.on_client.append(lambda client: list_restore_states_like_aws(client, truth=s3))  # as AWS lists
    cli.selection("restore")
    rerun = cli.selection("restore", "--json")
    assert rerun.code == 0
    assert rerun.json()["to_restore_count"] == 0
    assert cli.restores == Counter(dict.fromkeys(backup.new_chain, 1))


def test_rerun_where_the_listing_is_silent_is_answered_already_restored_and_heads_nothing(
    cli: Cli, backup: Backup
) -> None:
    # moto lists no restore states: the rerun asks S3 again, one request per object, and S3's 200 says
    # each copy is already there (its expiry moves; no second retrieval). Before, it HEADed every object.
    calls: Counter[str] = Counter()

    def counting(client: S3Client) -> None:
        count_operations(client, calls)

    cli.on_client.append(counting)
    cli.selection("restore")
    rerun = cli.selection("restore", "--json")
    assert rerun.code == 0
    document = rerun.json()
    assert document["requests"]["outcome_counts"] == {
        "requested": 0,
        "extended": 3,
        "in_progress": 0,
        "not_archived": 0,
        "failed": 0,
    }
    assert document["warnings"] == [unknown_states_warning(3)]
    assert cli.restores == Counter(dict.fromkeys(backup.new_chain, 2))
    assert calls == Counter({"ListObjectsV2": 2, "RestoreObject": 6})


def test_dry_run_requests_nothing(cli: Cli, backup: Backup) -> None:
    result = cli.selection("restore", "--dry-run")
    assert result.code == 0
    assert "dry run: nothing was requested" in result.out
    assert cli.restores == Counter()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--tier", "Glacial"), "--tier"),
        (("--days", "0"), "--days"),
        (("--time", "yesterday"), "--time"),
        (("--file-prefix-archive", "a/b"), "--file-prefix-archive"),
        (("--concurrency", "0"), "--concurrency"),
    ],
)
def test_bad_options_are_refused_with_nothing_requested(
    cli: Cli, backup: Backup, args: tuple[str, ...], fragment: str
) -> None:
    result = cli.selection("restore", *args)
    assert result.code == 2
    assert fragment in result.err
    assert cli.restores == Counter()


def test_expedited_for_deep_archive_is_refused_with_nothing_requested(cli: Cli, s3: S3Client) -> None:
    upload_two_chains(s3, cli.bucket, "backups/host1/", storage_class="DEEP_ARCHIVE")
    result = cli.selection("restore", "--tier", "expedited")
    assert result.code == 2
    assert "DEEP_ARCHIVE" in result.err
    assert cli.restores == Counter()


def test_restore_without_bucket_or_function_is_refused(cli: Cli) -> None:
    result = cli("restore", "--prefix", "backups/host1")
    assert result.code == 2 and "--bucket is required" in result.err


def test_failed_requests_exit_1_and_name_their_keys(cli: Cli, backup: Backup) -> None:
    cli.on_client.append(lambda client: fail_restores(client, backup.new_chain[:1]))
    result = cli.selection("restore")
    assert result.code == 1
    assert f"{backup.new_chain[0]}: InternalError" in result.err
    assert set(cli.restores) == set(backup.new_chain[1:])


def test_json_summary_counts_the_requests(cli: Cli, backup: Backup) -> None:
    document = cli.selection("restore", "--json", "--tier", "Bulk").json()
    assert document["requests"]["outcome_counts"]["requested"] == 3
    assert document["requests"]["failed_count"] == 0
    assert document["tier"] == "Bulk"


def test_wait_polls_until_readable_then_prints_the_duplicity_command(
    cli: Cli, backup: Backup, keep_ongoing: Callable[[int], None]
) -> None:
    keep_ongoing(3)
    result = cli.selection("restore", "--wait", "--interval", "0.01", "--time", "2023-11-20T00:00:00Z")
    assert result.code == 0, result.err
    assert "0/3 readable (3 restoring)" in result.err
    assert "3/3 readable (3 restored)" in result.err
    command = result.out.strip().splitlines()[-1]
    assert command == (
        f"duplicity restore -t 20231120T000000Z --s3-endpoint-url {cli.endpoint_url} "
        f"boto3+s3://{cli.bucket}/backups/host1 duplicity-restore-20231120T000000Z"
    )


# --- status ---------------------------------------------------------------------------------------


def test_status_counts_each_state(cli: Cli, backup: Backup, s3: S3Client) -> None:
    s3.restore_object(
        Bucket=cli.bucket,
        Key=backup.new_chain[0],
        RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}},
    )
    result = cli.selection("status")
    assert result.code == ExitCode.NOT_READY
    lines = result.out.splitlines()
    assert "archived      2" in lines and "restored      1" in lines


def test_status_json_has_every_needed_object(cli: Cli, backup: Backup) -> None:
    document = cli.selection("status", "--json").json()
    assert [obj["key"] for obj in document["objects"]] == list(backup.new_chain)
    assert {obj["state"] for obj in document["objects"]} == {"archived"}
    assert document["state_counts"]["archived"] == 3 and not document["all_readable"]
    assert (document["record"], document["needed_count"], document["readable_count"]) == ("status", 3, 0)


# --- restore through the deployed function ------------------------------------------------------


@dataclass
class FakeLambda:
    """Stands in for `boto3.client("lambda")`: runs `behaviour` on the decoded payload."""

    behaviour: Callable[[dict[str, Any]], tuple[Any, str | None]]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        payload = json.loads(Payload)
        self.calls.append((FunctionName, payload))
        result, error = self.behaviour(payload)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}
        if error:
            response["FunctionError"] = error
        return response


def use_lambda(monkeypatch: pytest.MonkeyPatch, fake: FakeLambda) -> FakeLambda:
    monkeypatch.setattr(restore_cmd, "lambda_client", lambda: fake)
    return fake


def test_function_mode_sends_the_options_and_prints_the_result(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = {
        "restore_time": 1700000000,
        "full_time": 1699000000,
        "incremental_times": [],
        "later_incremental_times": [],
        "volume_count": 5,
        "volume_bytes": 500,
    }
    summary: dict[str, Any] = {
        "restore_id": "r9",
        "bucket": "b",
        "prefix": "backups/h/",
        "time": "now",
        "restore_time": 1700000000,
        "restore_time_text": "20231114T221320Z",
        "tier": "Bulk",
        "days": 3,
        "dry_run": False,
        "chain": chain,
        "par2": False,
        "data_volume_count": 5,
        **{
            f"{group}_count": n
            for group, n in (("needed", 5), ("to_restore", 5), ("readable", 0), ("in_progress", 0))
        },
        **{f"{group}_bytes": 0 for group in ("needed", "to_restore", "readable", "in_progress")},
        "warnings": [],
        "cost": None,
        "queued": 5,
        "batches": 1,
    }
    fake = use_lambda(monkeypatch, FakeLambda(lambda payload: (summary, None)))
    result = cli(
        "restore", "--json", "--function", "fn", "--prefix", "backups/h", "--tier", "Bulk", "--days", "3"
    )
    assert result.code == 0
    assert fake.calls == [
        (
            "fn",
            {
                "time": "now",
                "prefix": "backups/h",
                "tier": "Bulk",
                "days": 3,
                "dry_run": False,
                "expedited_fallback": False,
            },
        )
    ]
    document = result.json()
    assert document["record"] == "restore"
    assert {k: v for k, v in document.items() if k in summary and k != "chain"} == {
        k: v for k, v in summary.items() if k != "chain"
    }
    assert document["chain"]["full_time_text"] == "20231103T082640Z"
    assert document["status_command"].startswith("glacierable status --bucket b --prefix backups/h/ -t ")
    assert cli.restores == Counter()


def test_function_error_exits_1_with_its_message(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    error = {"errorType": "RequestError", "errorMessage": "prefix 'x/' is outside this stack's prefix"}
    use_lambda(monkeypatch, FakeLambda(lambda payload: (error, "Unhandled")))
    result = cli("restore", "--function", "fn", "--prefix", "x")
    assert result.code == 1
    assert "RequestError: prefix 'x/' is outside this stack's prefix" in result.err


def test_a_refusal_answer_exits_1_with_its_message(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    message = "prefix 'x/' is outside this stack's prefix"
    refusal = RestoreRefusal("RequestError", message, "20231114T221320Z-1a2b3c4d")
    use_lambda(monkeypatch, FakeLambda(lambda payload: (refusal.to_json(), None)))
    result = cli("restore", "--function", "fn", "--prefix", "x")
    assert result.code == 1
    assert f"fn refused the restore: RequestError: {message}" in result.err


def test_the_deployed_handler_refuses_through_the_cli_with_exit_1(
    cli: Cli, s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real handler's answer, read by the CLI: the same exit code and words as a raised refusal gave.
    monkeypatch.setenv("BUCKET", cli.bucket)
    monkeypatch.setenv("PREFIX", "backups/")
    monkeypatch.setenv("RESTORE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/unused")
    monkeypatch.setattr(restore_handler.metrics, "namespace", "Glacierable")
    use_lambda(
        monkeypatch, FakeLambda(lambda payload: (restore_handler.handler(payload, FakeLambdaContext()), None))
    )
    with restore_handler.s3.use(s3):
        result = cli("restore", "--function", "fn", "--prefix", "elsewhere/host1")
    assert result.code == 1
    assert "fn refused the restore: RequestError: " in result.err
    assert "outside" in result.err


def test_function_mode_refuses_bad_options_without_invoking(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_lambda(monkeypatch, FakeLambda(lambda payload: ({}, None)))
    result = cli("restore", "--function", "fn", "--days", "400")
    assert result.code == 2
    assert fake.calls == []


def test_function_mode_wait_follows_the_lambda_and_its_workers(
    cli: Cli, backup: Backup, s3: S3Client, endpoint_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deployed path in-process: the restore Lambda queues, the workers drain the queue, the CLI waits.
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    queue_url = sqs.create_queue(QueueName=f"restore-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    monkeypatch.setenv("BUCKET", cli.bucket)
    monkeypatch.setenv("PREFIX", "backups/")
    monkeypatch.setenv("RESTORE_QUEUE_URL", queue_url)
    calls = count_restores(s3)

    def deployed(payload: dict[str, Any]) -> tuple[Any, str | None]:
        result = restore_handler.handler(payload, FakeLambdaContext())
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        assert restore_worker.handler({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}
        return result, None

    use_lambda(monkeypatch, FakeLambda(deployed))
    with ExitStack() as clients:
        for module in (restore_handler, restore_worker):
            clients.enter_context(module.s3.use(s3))
            clients.enter_context(module.sqs.use(sqs))
            monkeypatch.setattr(module.metrics, "namespace", "Glacierable")
        result = cli(
            "restore", "--function", "fn", "--prefix", "backups/host1", "--wait", "--interval", "0.01"
        )
    assert result.code == 0, result.err
    assert calls == Counter(dict.fromkeys(backup.new_chain, 1))
    assert result.out.strip().splitlines()[-1].startswith("duplicity restore -t ")
    assert f" boto3+s3://{cli.bucket}/backups/host1 duplicity-restore-" in result.out


def test_eta_counts_down_the_tier_range() -> None:
    assert eta_text((3.0, 5.0), 3600) == "ETA 2h00m-4h00m"
    assert eta_text((0.0, 12.0), 0) == "ETA ≤ 12h00m"
    assert eta_text((3.0, 5.0), 6 * 3600) == "ETA any moment"
