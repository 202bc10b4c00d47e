"""The restore worker under faults and redelivery: exactly the failed keys go back, nothing started twice.

The worker's S3 client goes through the fault proxy without retries, so that every injected fault is a failed
key; its SQS client talks to moto directly. Messages come from a real (moto) queue, so redeliveries
carry SQS's own ApproximateReceiveCount. The worker never HEADs (it holds s3:RestoreObject only): a key asked
for again is answered 409 in progress or 200 already restored, and reported as such.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from glacierable import restore as restore_module
from glacierable.batches import Batch
from glacierable.clients import s3_client
from glacierable.handlers import restore_worker
from glacierable.pricing import Tier
from glacierable.restore import RestoreReport
from glacierable_dev.emulator import MotoServer
from glacierable_dev.fault_proxy import Fate, LatencyProxy, ProxySettings
from glacierable_dev.lambdas import FakeLambdaContext
from tests.faults import ISSUE_FAULTS, keys_of, put_objects, restore_headers, unanswered
from tests.integration.test_restore import (
    count_operations,
    hold_restores_in_progress,
    refuse_restores_in_progress_like_aws,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

KEYS = tuple(f"backups/host1/duplicity-full.20231110T000000Z.vol{n}.difftar.gpg" for n in range(1, 201))
# The issue's mix on RestoreObject only, with more lost answers: the case a redelivery must not repeat.
RESTORE_FAULTS = ProxySettings(
    latency=0.0,
    slowdown=ISSUE_FAULTS.slowdown,
    internal_error=ISSUE_FAULTS.internal_error,
    drop=ISSUE_FAULTS.drop,
    drop_response=0.05,
    seed=ISSUE_FAULTS.seed,
    operations=frozenset({"RestoreObject"}),
)


@dataclass
class Queue:
    client: SQSClient
    url: str

    def send(self, batch: Batch) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=batch.to_body())

    def receive(self) -> list[dict[str, Any]]:
        """Every visible message as Lambda's SQS event records, left on the queue (not deleted)."""
        messages = self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        ).get("Messages", [])
        return [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]

    def make_visible(self, records: list[dict[str, Any]]) -> None:
        """As when the visibility timeout ends before the records were deleted: SQS delivers them again."""
        for record in records:
            self.client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )

    def delete(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])


@pytest.fixture
def queue(endpoint_url: str) -> Queue:
    client = boto3.client("sqs", endpoint_url=endpoint_url)
    return Queue(client, client.create_queue(QueueName=f"restore-{uuid.uuid4().hex[:12]}")["QueueUrl"])


@pytest.fixture
def archived(s3: S3Client, bucket: str) -> tuple[str, ...]:
    put_objects(s3, bucket, KEYS, storage_class="GLACIER")
    return KEYS


Worker = Callable[[list[dict[str, Any]]], dict[str, Any]]


@pytest.fixture
def worker_s3(fault_proxy: LatencyProxy) -> S3Client:
    """The worker's S3 client: through the proxy, a single attempt (no retries)."""
    return s3_client(endpoint_url=fault_proxy.url, max_pool_connections=32, max_attempts=1)


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[RestoreReport]:
    """The report of every batch the worker carries out, in order (the real function, recorded)."""
    recorded: list[RestoreReport] = []
    real = restore_module.restore_batch  # what the worker calls

    def recording(*args: Any, **kwargs: Any) -> RestoreReport:
        recorded.append(real(*args, **kwargs))
        return recorded[-1]

    monkeypatch.setattr(restore_worker, "restore_batch", recording)
    return recorded


@pytest.fixture
def worker(
    monkeypatch: pytest.MonkeyPatch, worker_s3: S3Client, queue: Queue, reports: list[RestoreReport]
) -> Iterator[Worker]:
    client = worker_s3
    monkeypatch.setenv("RESTORE_QUEUE_URL", queue.url)
    monkeypatch.setattr(restore_worker, "BASE_DELAY_SECONDS", 0)  # re-queued keys visible at once
    monkeypatch.setattr(restore_worker.metrics, "namespace", "Glacierable")
    context = FakeLambdaContext("glacierable-worker")
    with restore_worker.s3.use(client), restore_worker.sqs.use(queue.client):
        yield lambda records: restore_worker.handler({"Records": records}, context)


@pytest.fixture
def ongoing_restores(moto_server: MotoServer) -> Iterator[None]:
    """Restores stay in progress (as on AWS for hours), instead of moto's instant completion."""
    moto_server.keep_restores_ongoing(1000)
    yield
    moto_server._post("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})


def batch_of(bucket: str, keys: tuple[str, ...]) -> Batch:
    return Batch("r1", bucket, Tier.BULK, 3, False, keys)


def restore_fates(proxy: LatencyProxy, bucket: str) -> dict[Fate, set[str]]:
    """Keys by the fates of their RestoreObject requests so far."""
    fates: dict[Fate, set[str]] = {fate: set() for fate in Fate}
    for h in proxy.handled():
        if h.operation == "RestoreObject":
            fates[h.fate] |= keys_of([h.path], bucket)
    return fates


def without_restore(s3: S3Client, bucket: str, keys: tuple[str, ...]) -> set[str]:
    return {key for key, header in restore_headers(s3, bucket, keys).items() if header is None}


def test_a_batch_failing_part_way_requeues_exactly_the_failed_keys_and_the_retry_starts_nothing_twice(
    worker: Worker,
    reports: list[RestoreReport],
    fault_proxy: LatencyProxy,
    queue: Queue,
    s3: S3Client,
    bucket: str,
    archived: tuple[str, ...],
) -> None:
    fault_proxy.settings = RESTORE_FAULTS
    queue.send(batch_of(bucket, archived))
    first = queue.receive()

    assert worker(first) == {"batchItemFailures": []}
    queue.delete(first)  # Lambda deletes the messages the function did not report

    fates = restore_fates(fault_proxy, bucket)
    failed = set(archived) - fates[Fate.FORWARDED]
    assert failed, "no request failed: the fault mix is too gentle for this test"
    (retry_record,) = queue.receive()
    retry = Batch.from_body(retry_record["body"])
    assert (retry.attempt, set(retry.keys), len(retry.keys)) == (2, failed, len(failed))
    # Those whose request S3 carried out, unanswered, are restoring although the worker saw them fail.
    assert without_restore(s3, bucket, archived) == failed - unanswered(fault_proxy, bucket, "RestoreObject")

    carried_out = failed & unanswered(fault_proxy, bucket, "RestoreObject")
    assert carried_out, "no response was dropped: this test would not show a repeated request's answer"
    fault_proxy.settings = ProxySettings(latency=0.0)
    assert worker([retry_record]) == {"batchItemFailures": []}

    assert without_restore(s3, bucket, archived) == set()
    reached = fault_proxy.reached("RestoreObject")
    assert keys_of(reached, bucket) == set(archived)
    # Asked twice: exactly the keys S3 carried out without an answer; S3's 200 says their copy is there.
    assert keys_of((path for path, n in reached.items() if n > 1), bucket) == carried_out
    assert max(reached.values()) == 2
    retry_report = reports[-1]
    assert (set(retry_report.requested), set(retry_report.extended)) == (failed - carried_out, carried_out)
    assert "HeadObject" not in fault_proxy.counts_by_operation()
    queue.delete([retry_record])
    assert queue.receive() == []


@pytest.mark.parametrize("state", ["in_progress", "restored"])
def test_a_redelivered_batch_starts_nothing_twice_and_reports_what_s3_answers(
    state: str,
    request: pytest.FixtureRequest,
    worker: Worker,
    worker_s3: S3Client,
    reports: list[RestoreReport],
    fault_proxy: LatencyProxy,
    queue: Queue,
    s3: S3Client,
    moto_server: MotoServer,
    bucket: str,
    archived: tuple[str, ...],
) -> None:
    queue.send(batch_of(bucket, archived))
    first = queue.receive()
    assert worker(first) == {"batchItemFailures": []}
    if state == "in_progress":
        request.getfixturevalue("ongoing_restores")  # resets moto's state manager afterwards
        hold_restores_in_progress(moto_server, s3, bucket, archived)
        refuse_restores_in_progress_like_aws(worker_s3, truth=s3)  # moto itself answers 200
    queue.make_visible(first)  # the function timed out before Lambda could delete the message

    assert fault_proxy.counts_by_operation().keys() == {"RestoreObject"}, "the first delivery HEADs nothing"
    (again,) = queue.receive()
    assert again["attributes"]["ApproximateReceiveCount"] == "2"
    operations = count_operations(worker_s3)
    assert worker([again]) == {"batchItemFailures": []}

    first_report, again_report = reports
    assert sorted(first_report.requested) == sorted(archived)
    assert again_report.requested == []
    answered = again_report.in_progress if state == "in_progress" else again_report.extended
    assert sorted(answered) == sorted(archived)
    # One request per key on the redelivery (answered 409 by the AWS-like hook, or 200 by moto), no HEAD.
    assert operations == Counter({"RestoreObject": len(archived)})
    assert without_restore(s3, bucket, archived) == set()
    queue.delete([again])
    assert queue.receive() == []


def test_a_batch_redelivered_because_requeueing_failed_starts_only_what_s3_has_not_accepted(
    worker: Worker,
    reports: list[RestoreReport],
    fault_proxy: LatencyProxy,
    queue: Queue,
    s3: S3Client,
    bucket: str,
    archived: tuple[str, ...],
) -> None:
    def refuse(**_: Any) -> None:
        error: Any = {"Error": {"Code": "AccessDenied", "Message": "injected"}, "ResponseMetadata": {}}
        raise ClientError(error, "SendMessage")

    fault_proxy.settings = RESTORE_FAULTS
    queue.send(batch_of(bucket, archived))
    first = queue.receive()
    queue.client.meta.events.register("before-call.sqs.SendMessage", refuse, unique_id="refuse")
    result = worker(first)
    queue.client.meta.events.unregister("before-call.sqs.SendMessage", unique_id="refuse")
    failed = set(archived) - restore_fates(fault_proxy, bucket)[Fate.FORWARDED]
    carried_out_unanswered = unanswered(fault_proxy, bucket, "RestoreObject")

    assert failed, "no request failed: the fault mix is too gentle for this test"
    assert carried_out_unanswered, "no response was dropped: this test would not show S3's 200 answers"
    assert result == {"batchItemFailures": [{"itemIdentifier": first[0]["messageId"]}]}
    queue.make_visible(first)  # Lambda leaves a reported message on the queue: SQS delivers it again
    (again,) = queue.receive()
    fault_proxy.settings = ProxySettings(latency=0.0)
    fault_proxy.reset_log()
    assert worker([again]) == {"batchItemFailures": []}

    # The whole message is asked for again; S3 starts a restore only for what it never carried out.
    assert set(fault_proxy.reached("RestoreObject").values()) == {1}
    assert keys_of(fault_proxy.reached("RestoreObject"), bucket) == set(archived)
    again_report = reports[-1]
    assert set(again_report.requested) == failed - carried_out_unanswered
    assert set(again_report.extended) == set(archived) - (failed - carried_out_unanswered)
    assert without_restore(s3, bucket, archived) == set()


def test_receive_count_reads_sqs_attribute_and_defaults_to_a_first_delivery() -> None:
    assert restore_worker.receive_count({"attributes": {"ApproximateReceiveCount": "3"}}) == 3
    assert restore_worker.receive_count({"attributes": {}}) == 1
    assert restore_worker.receive_count({}) == 1
    assert restore_worker.receive_count({"attributes": {"ApproximateReceiveCount": "many"}}) == 1
