"""Lambda entry point: issue the RestoreObject requests of each queued batch (SQS, ReportBatchItemFailures).

A batch whose keys partly fail is never redelivered whole: only the failed keys go back to the queue as a new
message (attempt + 1, delayed), and the original message counts as done. A message that may have been
carried out before (SQS redelivers it, or it holds retried keys, whose requests may have reached S3 although
the answer was lost) is simply requested again, with no HEAD first (the worker holds s3:RestoreObject only):
S3 answers 409 RestoreAlreadyInProgress or 200 already restored for what it accepted before, starting
nothing twice, and each answer is counted as its own outcome. At MAX_ATTEMPTS the message itself is reported
as failed, and the queue's redrive policy moves it to the dead-letter queue (whose alarm tells the operator).
Environment: RESTORE_QUEUE_URL (this queue), BUCKET (batches for another bucket are refused; the stack sets
it), optional CONCURRENCY (requests at once per message).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, ExceptionInfo, FailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error
from glacierable.batches import Batch, BatchError
from glacierable.clients import s3_client, sqs_client
from glacierable.env import ConfigError
from glacierable.handlers.lazy import LazyClient
from glacierable.restore import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Outcome,
    RestoreReport,
    restore_batch,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_ATTEMPTS = 5
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 900  # SQS's maximum DelaySeconds
MAX_KEYS_LOGGED = 20

METRIC_NAMES = {
    Outcome.REQUESTED: "RestoreRequested",
    Outcome.EXTENDED: "RestoreExtended",
    Outcome.IN_PROGRESS: "RestoreInProgress",
    Outcome.NOT_ARCHIVED: "RestoreNotArchived",
    Outcome.FAILED: "RestoreFailed",
}

logger = Logger()
metrics = Metrics()
s3 = LazyClient(lambda: s3_client(max_pool_connections=MAX_CONCURRENCY))
sqs = LazyClient(sqs_client)


class Redeliver(Exception):
    """SQS must deliver the message again (after the queue's last try: to the dead-letter queue)."""


class _Processor(BatchProcessor):
    """Powertools' SQS batch processor, where only Redeliver marks a message as failed.

    Any other exception is a fault of this code or its environment rather than of one message: it ends the
    invocation, so that it is logged with its traceback and counted by the function's Errors alarm instead of
    passing unseen as one message's retries.
    """

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        if error is not None and not isinstance(error, Redeliver):
            raise error
        return super().failure_handler(record, exception)


# Every message failing is an answer like any other (each one is retried, then dead-lettered), not an error.
processor = _Processor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """The worker's configuration, from its environment."""

    queue_url: str
    concurrency: int = DEFAULT_CONCURRENCY
    bucket: str = ""
    """Batches for any other bucket are refused; empty, none are."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        queue_url = env.get("RESTORE_QUEUE_URL", "").strip()
        if not queue_url:
            raise ConfigError(
                "environment variable RESTORE_QUEUE_URL is required (failed keys are re-queued)"
            )
        raw = env.get("CONCURRENCY", str(DEFAULT_CONCURRENCY)).strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_CONCURRENCY:
            raise ConfigError(f"CONCURRENCY must be a whole number from 1 to {MAX_CONCURRENCY}, got {raw!r}")
        return cls(queue_url=queue_url, concurrency=int(raw), bucket=env.get("BUCKET", "").strip())


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one message's batch came to: the outcome of each key requested, and the keys skipped before."""

    message_id: str
    restore_id: str
    attempt: int
    report: RestoreReport
    repeated: bool
    """The message may have been carried out before (a redelivery, or a retry): its in-progress and extended
    counts then include keys this worker itself requested earlier."""

    def to_json(self) -> dict[str, Any]:
        """The fields of the message's log line."""
        line: dict[str, Any] = {
            "message_id": self.message_id,
            "restore_id": self.restore_id,
            "attempt": self.attempt,
            "counts": self.report.counts(),
            "repeated": self.repeated,
        }
        if not self.report.ok:
            line["failed"] = [failure.to_json() for failure in self.report.failed[:MAX_KEYS_LOGGED]]
        return line


def retry_delay(attempt: int) -> int:
    """DelaySeconds before attempt `attempt + 1`: 30 s, doubling, at most SQS's 15 minutes."""
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS << min(max(attempt - 1, 0), 10))


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Restore every message's keys; returns the messages SQS must deliver again (batchItemFailures)."""
    settings = Settings.from_env(os.environ)
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    results: list[BatchResult] = []
    # The processor as a context manager rather than process_partial_response, which raises on an empty
    # Records list instead of answering that nothing failed.
    with processor(records, functools.partial(_restore_message, settings=settings, results=results)):
        processor.process()
    response = processor.response()
    _publish(results, failed_messages=len(response["batchItemFailures"]))
    return response


def receive_count(record: Mapping[str, Any]) -> int:
    """SQS's ApproximateReceiveCount of a record: 1 on the first delivery, and without the attribute."""
    attributes = record.get("attributes")
    raw = attributes.get("ApproximateReceiveCount") if isinstance(attributes, Mapping) else None
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 1


def _restore_message(record: SQSRecord, *, settings: Settings, results: list[BatchResult]) -> None:
    """Carry out one message, adding its result to `results`; Redeliver when SQS must deliver it again."""
    message_id = record.message_id
    try:
        batch = Batch.from_body(record.body)
    except BatchError as error:
        logger.error("malformed restore batch", extra={"message_id": message_id, "error": str(error)})
        raise Redeliver("malformed restore batch") from error
    if settings.bucket and batch.bucket != settings.bucket:
        # Only the restore Lambda should write to this queue; anything else is refused, not obeyed.
        logger.error(
            "restore batch for another bucket", extra={"message_id": message_id, "bucket": batch.bucket}
        )
        raise Redeliver("restore batch for another bucket")
    repeated = batch.attempt > 1 or receive_count(record) > 1
    report = restore_batch(s3(), batch, concurrency=settings.concurrency)
    result = BatchResult(message_id, batch.restore_id, batch.attempt, report, repeated)
    results.append(result)
    line = result.to_json()
    if report.ok:
        logger.info("batch restored", extra=line)
        return
    failed = [failure.key for failure in report.failed]
    if batch.attempt >= MAX_ATTEMPTS:
        logger.error("giving up on keys after the last attempt", extra=line)
        metrics.add_metric(name="RestoreGaveUp", unit=MetricUnit.Count, value=len(failed))
        raise Redeliver("keys still failing after the last attempt")
    retry = batch.retry(failed)
    try:
        sqs().send_message(
            QueueUrl=settings.queue_url, MessageBody=retry.to_body(), DelaySeconds=retry_delay(batch.attempt)
        )
    except (ClientError, BotoCoreError) as error:
        # The failed keys must not be lost: redelivering the whole message repeats some requests, harmlessly.
        logger.error("could not re-queue failed keys", extra={**line, "error": describe_error(error)})
        raise Redeliver("could not re-queue failed keys") from error
    logger.warning("re-queued failed keys", extra={**line, "next_attempt": retry.attempt})
    metrics.add_metric(name="RestoreRetried", unit=MetricUnit.Count, value=len(failed))


def _publish(results: Sequence[BatchResult], *, failed_messages: int) -> None:
    total = RestoreReport()
    for result in results:
        total.merge(result.report)
    counts = total.counts()
    for outcome, name in METRIC_NAMES.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[outcome.value])
    repeated = sum(result.repeated for result in results)
    metrics.add_metric(name="RestoreMessagesRepeated", unit=MetricUnit.Count, value=repeated)
    metrics.add_metric(name="RestoreMessagesFailed", unit=MetricUnit.Count, value=failed_messages)
