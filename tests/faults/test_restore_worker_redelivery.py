"""The restore worker under faults and redelivery: exactly the failed keys go back, nothing asked for twice.

The worker's S3 client goes through the fault proxy without retries, so that every injected fault is a failed
key; its SQS client talks to moto directly. Messages come from a real (moto) queue, so redeliveries
carry SQS's own ApproximateReceiveCount.
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

from glacierable.batches import Batch
from glacierable.clients import s3_client
from glacierable.handlers import restore_worker
from glacierable.pricing import Tier
from glacierable_dev.emulator import MotoServer
from glacierable_dev.fault_proxy import Fate, LatencyProxy, ProxySettings
from glacierable_dev.lambdas import FakeLambdaContext
from tests.faults import ISSUE_FAULTS, keys_of, put_objects, restore_headers, unanswered

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
def worker(monkeypatch: pytest.MonkeyPatch, fault_proxy: LatencyProxy, queue: Queue) -> Iterator[Worker]:
    # A single attempt: no retries.
    client = s3_client(endpoint_url=fault_proxy.url, max_pool_connections=32, max_attempts=1)
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


def test_a_batch_failing_part_way_requeues_exactly_the_failed_keys_and_the_retry_asks_nothing_twice(
    worker: Worker,
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

    fault_proxy.settings = ProxySettings(latency=0.0)
    assert worker([retry_record]) == {"batchItemFailures": []}

    assert without_restore(s3, bucket, archived) == set()
    assert keys_of(fault_proxy.reached("RestoreObject"), bucket) == set(archived)
    assert fault_proxy.reached("RestoreObject").most_common(1)[0][1] == 1, "a restore reached S3 twice"
    queue.delete([retry_record])
    assert queue.receive() == []


@pytest.mark.parametrize("state", ["ongoing", "completed"])
def test_a_redelivered_batch_requests_nothing_that_s3_already_accepted(
    state: str,
    request: pytest.FixtureRequest,
    worker: Worker,
    fault_proxy: LatencyProxy,
    queue: Queue,
    s3: S3Client,
    bucket: str,
    archived: tuple[str, ...],
) -> None:
    if state == "ongoing":
        request.getfixturevalue("ongoing_restores")
    queue.send(batch_of(bucket, archived))
    first = queue.receive()
    assert worker(first) == {"batchItemFailures": []}
    heads_on_first_delivery = fault_proxy.counts_by_operation().get("HeadObject", Counter())
    queue.make_visible(first)  # the function timed out before Lambda could delete the message

    (again,) = queue.receive()
    assert again["attributes"]["ApproximateReceiveCount"] == "2"
    fault_proxy.reset_log()
    assert worker([again]) == {"batchItemFailures": []}

    assert heads_on_first_delivery == Counter(), "a first delivery must not pay for HEADs"
    assert fault_proxy.reached("RestoreObject") == {}
    assert fault_proxy.counts_by_operation()["HeadObject"]["forwarded"] == len(archived)
    assert without_restore(s3, bucket, archived) == set()
    queue.delete([again])
    assert queue.receive() == []


def test_a_batch_redelivered_because_requeueing_failed_requests_only_what_s3_has_not_accepted(
    worker: Worker,
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
    assert carried_out_unanswered, "no response was dropped: this test would not show the HEAD's worth"
    assert result == {"batchItemFailures": [{"itemIdentifier": first[0]["messageId"]}]}
    queue.make_visible(first)  # Lambda leaves a reported message on the queue: SQS delivers it again
    (again,) = queue.receive()
    fault_proxy.settings = ProxySettings(latency=0.0)
    fault_proxy.reset_log()
    assert worker([again]) == {"batchItemFailures": []}

    assert keys_of(fault_proxy.reached("RestoreObject"), bucket) == failed - carried_out_unanswered
    assert without_restore(s3, bucket, archived) == set()


def test_receive_count_reads_sqs_attribute_and_defaults_to_a_first_delivery() -> None:
    assert restore_worker.receive_count({"attributes": {"ApproximateReceiveCount": "3"}}) == 3
    assert restore_worker.receive_count({"attributes": {}}) == 1
    assert restore_worker.receive_count({}) == 1
    assert restore_worker.receive_count({"attributes": {"ApproximateReceiveCount": "many"}}) == 1
