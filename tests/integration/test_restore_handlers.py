"""The restore Lambda and its workers against moto S3 and SQS: queued exactly once, retried only as needed."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from glacierable import restore as restore_module
from glacierable.batches import Batch
from glacierable.clients import s3_client
from glacierable.handlers import restore as restore_handler
from glacierable.handlers import restore_worker
from glacierable.pricing import Tier
from glacierable.restore import RestoreReport
from glacierable.restore_flow import unknown_states_warning
from glacierable.restore_summary import RestoreRefusal, read_answer
from glacierable_dev.lambdas import FakeLambdaContext
from tests.integration.test_restore import (
    BETWEEN_CHAINS,
    Backup,
    client_error,
    count_operations,
    count_restores,
    fail_restores,
    list_restore_states_like_aws,
    upload_two_chains,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

NAMESPACE = "Glacierable"


@dataclass
class Queue:
    client: SQSClient
    url: str

    def drain(self) -> list[dict[str, Any]]:
        """Every visible message, deleted from the queue (SQS-event records, as Lambda delivers them)."""
        records: list[dict[str, Any]] = []
        while True:
            messages = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return records
            for message in messages:
                records.append(
                    {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}
                )
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def batches(self) -> list[Batch]:
        return [Batch.from_body(record["body"]) for record in self.drain()]


@pytest.fixture
def queue(endpoint_url: str) -> Queue:
    client = boto3.client("sqs", endpoint_url=endpoint_url)
    url = client.create_queue(QueueName=f"restore-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    return Queue(client, url)


@contextmanager
def prepared(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, s3: S3Client, queue: Queue
) -> Iterator[None]:
    # The namespace is read when Metrics() is built, which may have been before this fixture ran.
    monkeypatch.setattr(module.metrics, "namespace", NAMESPACE)
    with module.s3.use(s3), module.sqs.use(queue.client):
        yield


@pytest.fixture
def restore(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, bucket: str, queue: Queue
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    monkeypatch.setenv("BUCKET", bucket)
    monkeypatch.setenv("PREFIX", "backups/")
    monkeypatch.setenv("RESTORE_QUEUE_URL", queue.url)
    with prepared(monkeypatch, restore_handler, s3, queue):
        yield lambda event: restore_handler.handler(event, FakeLambdaContext("glacierable-restore"))


@pytest.fixture
def worker(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, queue: Queue
) -> Iterator[Callable[[list[dict[str, Any]]], dict[str, Any]]]:
    monkeypatch.setenv("RESTORE_QUEUE_URL", queue.url)
    monkeypatch.setenv("CONCURRENCY", "4")
    with prepared(monkeypatch, restore_worker, s3, queue):
        yield lambda records: restore_worker.handler(
            {"Records": records}, FakeLambdaContext("glacierable-worker")
        )


@pytest.fixture
def backup(s3: S3Client, bucket: str) -> Backup:
    return upload_two_chains(s3, bucket)


def record(batch: Batch, message_id: str = "m1") -> dict[str, Any]:
    return {"messageId": message_id, "body": batch.to_body(), "eventSource": "aws:sqs"}


# --- the restore Lambda ---------------------------------------------------------------------------


def test_queued_batches_hold_exactly_the_keys_to_restore(restore: Any, queue: Queue, backup: Backup) -> None:
    result = restore({"prefix": "backups/host1", "tier": "bulk", "days": 3})
    batches = queue.batches()
    assert sorted(key for batch in batches for key in batch.keys) == sorted(backup.new_chain)
    assert {(b.tier, b.days, b.attempt, b.restore_id) for b in batches} == {
        (Tier.BULK, 3, 1, result["restore_id"])
    }
    assert (result["to_restore_count"], result["needed_count"], result["queued"]) == (3, 3, 3)


def test_restore_lambda_requests_nothing_itself(restore: Any, s3: S3Client, backup: Backup) -> None:
    calls = count_restores(s3)
    restore({"prefix": "backups/host1"})
    assert calls == Counter()


def test_older_time_queues_the_older_chain(restore: Any, queue: Queue, backup: Backup) -> None:
    restore({"prefix": "backups/host1", "time": BETWEEN_CHAINS})
    assert sorted(key for batch in queue.batches() for key in batch.keys) == sorted(backup.old_chain)


def test_result_carries_the_chain_and_an_estimate(restore: Any, backup: Backup, bucket: str) -> None:
    result = restore({"prefix": "backups/host1"})
    assert result["bucket"] == bucket and result["prefix"] == "backups/host1/"
    assert result["chain"]["full_time_text"] == "20231110T000000Z"
    assert result["chain"]["incremental_times_text"] == ["20231111T000000Z"]
    assert result["cost"]["tier"] == "Standard" and result["cost"]["total_usd"] >= 0
    json.dumps(result)  # the Lambda's return value must serialize


def test_dry_run_queues_nothing(restore: Any, queue: Queue, backup: Backup) -> None:
    result = restore({"prefix": "backups/host1", "dry_run": True})
    assert (result["to_restore_count"], result["queued"]) == (3, 0)
    assert queue.drain() == []


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"prefix": "backups/host1", "tier": "Glacial"}, "tier"),
        ({"prefix": "backups/host1", "days": 0}, "days"),
        ({"prefix": "backups/host1", "time": "yesterday"}, "time"),
        ({"prefix": "backups/host1", "prefx": "x"}, "prefx"),
        ({"prefix": "elsewhere/host1"}, "outside"),
        ("backups/host1", "JSON object"),
    ],
)
def test_bad_requests_are_refused_with_nothing_queued_or_requested(
    restore: Any, queue: Queue, s3: S3Client, backup: Backup, event: Any, fragment: str
) -> None:
    calls = count_restores(s3)
    refusal = RestoreRefusal.from_json(restore(event))
    assert refusal.error_type == "RequestError" and fragment in refusal.message
    assert queue.drain() == []
    assert calls == Counter()


def test_a_refusal_is_an_answer_not_an_error(restore: Any, backup: Backup) -> None:
    answer = restore({"prefix": "elsewhere/host1"})
    json.dumps(answer)  # the Lambda's return value must serialize
    assert list(answer) == ["error"]
    assert answer["error"]["kind"] == "refused"
    assert answer["error"]["type"] == "RequestError"
    assert "outside" in answer["error"]["message"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", answer["error"]["restore_id"])
    assert isinstance(read_answer(answer), RestoreRefusal)


def test_a_refusal_is_counted_as_restore_refused(
    restore: Any, backup: Backup, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    restore({"prefix": "backups/host1", "days": 0})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (blob,) = [line for line in lines if "_aws" in line]
    assert blob["RestoreRefused"] == [1.0]
    assert "RestorePlanned" not in blob


def test_expedited_for_deep_archive_is_refused_after_planning(
    restore: Any, queue: Queue, s3: S3Client, bucket: str
) -> None:
    upload_two_chains(s3, bucket, "backups/deep/", storage_class="DEEP_ARCHIVE")
    refusal = RestoreRefusal.from_json(restore({"prefix": "backups/deep", "tier": "Expedited"}))
    assert refusal.error_type == "RequestError" and "DEEP_ARCHIVE" in refusal.message
    assert queue.drain() == []


def test_folder_without_a_backup_is_refused_as_a_plan_error(
    restore: Any, queue: Queue, backup: Backup
) -> None:
    refusal = RestoreRefusal.from_json(restore({"prefix": "backups/nothing-here"}))
    assert refusal.error_type == "NoChainsError" and "no backup chains" in refusal.message
    assert queue.drain() == []


def test_batches_that_sqs_refuses_are_retried_then_reported(
    restore: Any, queue: Queue, backup: Backup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_handler, "SEND_RETRY_DELAY", 0.0)
    sends: list[int] = []

    def refuse(**_: Any) -> None:
        sends.append(1)
        raise client_error("ServiceUnavailable", 503, "SendMessageBatch")

    queue.client.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    with pytest.raises(restore_handler.EnqueueError, match=r"1 of 1 batches \(3 keys\) could not be queued"):
        restore({"prefix": "backups/host1"})
    assert len(sends) == restore_handler.SEND_ATTEMPTS


# --- the worker ---------------------------------------------------------------------------------------


def batch_of(bucket: str, keys: tuple[str, ...], attempt: int = 1) -> Batch:
    return Batch("r1", bucket, Tier.STANDARD, 2, False, keys, attempt=attempt)


def test_worker_requests_every_key_once(worker: Any, s3: S3Client, bucket: str, backup: Backup) -> None:
    calls = count_restores(s3)
    result = worker([record(batch_of(bucket, backup.new_chain))])
    assert result == {"batchItemFailures": []}
    assert calls == Counter(dict.fromkeys(backup.new_chain, 1))


def test_worker_requeues_only_the_failed_keys(
    worker: Any, s3: S3Client, bucket: str, backup: Backup, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_worker, "BASE_DELAY_SECONDS", 0)
    fail_restores(s3, backup.new_chain[:1])
    result = worker([record(batch_of(bucket, backup.new_chain, attempt=2))])
    assert result == {"batchItemFailures": []}
    (retry,) = queue.batches()
    assert retry == batch_of(bucket, backup.new_chain[:1], attempt=3)


def test_requeued_keys_are_delayed_by_the_backoff(
    worker: Any, s3: S3Client, bucket: str, backup: Backup, queue: Queue
) -> None:
    delays: list[int] = []
    queue.client.meta.events.register(
        "before-parameter-build.sqs.SendMessage", lambda params, **_: delays.append(params["DelaySeconds"])
    )
    fail_restores(s3, backup.new_chain[:1])
    worker([record(batch_of(bucket, backup.new_chain, attempt=2))])
    assert delays == [restore_worker.retry_delay(2)] == [60]


def test_worker_at_the_last_attempt_reports_the_message_as_failed(
    worker: Any, s3: S3Client, bucket: str, backup: Backup, queue: Queue
) -> None:
    fail_restores(s3, backup.new_chain[:1])
    last = batch_of(bucket, backup.new_chain, attempt=restore_worker.MAX_ATTEMPTS)
    result = worker([record(batch_of(bucket, backup.old_chain), "ok"), record(last, "last")])
    assert result == {"batchItemFailures": [{"itemIdentifier": "last"}]}
    assert queue.drain() == []


def test_worker_reports_a_malformed_message_as_failed(worker: Any, s3: S3Client) -> None:
    calls = count_restores(s3)
    result = worker([{"messageId": "bad", "body": "{not json"}])
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert calls == Counter()


def test_worker_reports_the_message_when_requeueing_fails(
    worker: Any, s3: S3Client, bucket: str, backup: Backup, queue: Queue
) -> None:
    def refuse(**_: Any) -> None:
        raise client_error("AccessDenied", 403, "SendMessage")

    queue.client.meta.events.register("before-call.sqs.SendMessage", refuse)
    fail_restores(s3, backup.new_chain[:1])
    result = worker([record(batch_of(bucket, backup.new_chain), "m7")])
    assert result == {"batchItemFailures": [{"itemIdentifier": "m7"}]}


def test_worker_refuses_a_batch_for_another_bucket(
    worker: Any, s3: S3Client, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKET", bucket)
    calls = count_restores(s3)
    result = worker([record(batch_of("someone-elses-bucket", ("a",)), "foreign")])
    assert result == {"batchItemFailures": [{"itemIdentifier": "foreign"}]}
    assert calls == Counter()


def test_worker_answers_an_empty_batch_with_no_failures(worker: Any) -> None:
    assert worker([]) == {"batchItemFailures": []}


def test_an_unexpected_error_fails_the_invocation_before_any_later_message_is_touched(
    worker: Any, s3: S3Client, bucket: str, backup: Backup
) -> None:
    first = backup.new_chain[0]

    def bug(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == first:
            raise RuntimeError("not a message's fault")

    calls = count_restores(s3)
    s3.meta.events.register("before-parameter-build.s3.RestoreObject", bug)
    with pytest.raises(RuntimeError, match="not a message's fault"):
        worker(
            [record(batch_of(bucket, (first,)), "first"), record(batch_of(bucket, backup.old_chain), "later")]
        )
    assert calls == Counter({first: 1})


def test_retry_delay_doubles_up_to_fifteen_minutes() -> None:
    assert [restore_worker.retry_delay(a) for a in (1, 2, 3, 4, 6, 10**9)] == [30, 60, 120, 240, 900, 900]


# --- the whole fan-out ------------------------------------------------------------------------------


def test_restore_then_workers_request_the_chain_once_and_a_rerun_nothing(
    restore: Any, worker: Any, s3: S3Client, queue: Queue, backup: Backup, endpoint_url: str
) -> None:
    list_restore_states_like_aws(s3, truth=s3_client(endpoint_url=endpoint_url))  # as AWS lists
    calls = count_restores(s3)
    restore({"prefix": "backups/host1"})
    assert worker(queue.drain()) == {"batchItemFailures": []}
    assert calls == Counter(dict.fromkeys(backup.new_chain, 1))
    rerun = restore({"prefix": "backups/host1"})
    assert (rerun["to_restore_count"], rerun["readable_count"]) == (0, 3)
    assert queue.drain() == []


def test_where_the_listing_is_silent_a_rerun_is_queued_and_answered_already_restored(
    restore: Any, worker: Any, s3: S3Client, queue: Queue, backup: Backup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto lists no restore states and the planner reads no object: the rerun queues the chain again, and
    # S3's 200 to each worker request says the copy is already there (no second retrieval starts).
    reports: list[RestoreReport] = []
    real = restore_module.restore_batch  # what the worker calls

    def recording(*args: Any, **kwargs: Any) -> RestoreReport:
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(restore_worker, "restore_batch", recording)
    operations = count_operations(s3)
    restore({"prefix": "backups/host1"})
    assert worker(queue.drain()) == {"batchItemFailures": []}
    rerun = restore({"prefix": "backups/host1"})
    assert (rerun["to_restore_count"], rerun["queued"]) == (3, 3)
    assert rerun["warnings"] == [unknown_states_warning(3)]
    assert worker(queue.drain()) == {"batchItemFailures": []}
    assert [report.counts() for report in reports] == [
        {"requested": 3, "extended": 0, "in_progress": 0, "not_archived": 0, "failed": 0},
        {"requested": 0, "extended": 3, "in_progress": 0, "not_archived": 0, "failed": 0},
    ]
    assert operations == Counter({"ListObjectsV2": 2, "RestoreObject": 6})
