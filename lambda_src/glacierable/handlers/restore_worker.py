"""Lambda entry point: issue the RestoreObject requests of each queued batch (SQS, ReportBatchItemFailures).

A batch whose keys partly fail is never redelivered whole: only the failed keys go back to the queue as a new
message (attempt + 1, delayed), and the original message counts as done, so no request S3 already accepted
is repeated. A message that may have been carried out before (SQS redelivers it, or it holds retried keys,
whose requests may have reached S3 although the answer was lost) first HEADs its keys and skips those with a
restore already. At MAX_ATTEMPTS the message itself is reported as failed, and the queue's redrive policy
moves it to the dead-letter queue (whose alarm tells the operator). Environment: RESTORE_QUEUE_URL (this
queue), optional BUCKET (batches for another bucket are refused), optional CONCURRENCY (requests at once per
message).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
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
    already_requested,
    restore_batch,
)

if TYPE_CHECKING:
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


def retry_delay(attempt: int) -> int:
    """DelaySeconds before attempt `attempt + 1`: 30 s, doubling, at most SQS's 15 minutes."""
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS << min(max(attempt - 1, 0), 10))


def _settings(env: Mapping[str, str]) -> tuple[str, int, str]:
    queue_url = env.get("RESTORE_QUEUE_URL", "").strip()
    if not queue_url:
        raise ConfigError("environment variable RESTORE_QUEUE_URL is required (failed keys are re-queued)")
    raw = env.get("CONCURRENCY", str(DEFAULT_CONCURRENCY)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CONCURRENCY:
        raise ConfigError(f"CONCURRENCY must be a whole number from 1 to {MAX_CONCURRENCY}, got {raw!r}")
    return queue_url, int(raw), env.get("BUCKET", "").strip()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    """Restore every message's keys; returns the messages SQS must deliver again (batchItemFailures)."""
    queue_url, concurrency, bucket = _settings(os.environ)
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    total = RestoreReport()
    skipped: Counter[str] = Counter()
    failures: list[str] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        if not _process(record, queue_url, concurrency, bucket, total, skipped):
            failures.append(message_id)
    for outcome, name in METRIC_NAMES.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=total.counts()[outcome.value])
    metrics.add_metric(name="RestoreAlreadyRequested", unit=MetricUnit.Count, value=skipped.total())
    metrics.add_metric(name="RestoreMessagesFailed", unit=MetricUnit.Count, value=len(failures))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def receive_count(record: Mapping[str, Any]) -> int:
    """SQS's ApproximateReceiveCount of a record: 1 on the first delivery, and without the attribute."""
    attributes = record.get("attributes")
    raw = attributes.get("ApproximateReceiveCount") if isinstance(attributes, Mapping) else None
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 1


def _process(
    record: Mapping[str, Any],
    queue_url: str,
    concurrency: int,
    bucket: str,
    total: RestoreReport,
    skipped: Counter[str],
) -> bool:
    """Handle one message; False when SQS must deliver it again (towards the dead-letter queue)."""
    message_id = record.get("messageId")
    try:
        batch = Batch.from_body(record.get("body", ""))
    except BatchError as error:
        logger.error("malformed restore batch", extra={"message_id": message_id, "error": str(error)})
        return False
    if bucket and batch.bucket != bucket:
        # Only the restore Lambda should write to this queue; anything else is refused, not obeyed.
        logger.error(
            "restore batch for another bucket", extra={"message_id": message_id, "bucket": batch.bucket}
        )
        return False
    already: set[str] = set()
    if batch.attempt > 1 or receive_count(record) > 1:
        already = already_requested(s3(), batch.bucket, batch.keys, concurrency=concurrency)
        skipped[batch.restore_id] += len(already)
        batch = replace(batch, keys=tuple(key for key in batch.keys if key not in already))
    report = restore_batch(s3(), batch, concurrency=concurrency)
    total.merge(report)
    context = {
        "message_id": message_id,
        "restore_id": batch.restore_id,
        "attempt": batch.attempt,
        "counts": report.counts(),
        "already_requested": len(already),
    }
    if report.ok:
        logger.info("batch restored", extra=context)
        return True
    failed = [failure.key for failure in report.failed]
    context["failed"] = [failure.to_json() for failure in report.failed[:MAX_KEYS_LOGGED]]
    if batch.attempt >= MAX_ATTEMPTS:
        logger.error("giving up on keys after the last attempt", extra=context)
        metrics.add_metric(name="RestoreGaveUp", unit=MetricUnit.Count, value=len(failed))
        return False
    retry = batch.retry(failed)
    try:
        sqs().send_message(
            QueueUrl=queue_url, MessageBody=retry.to_body(), DelaySeconds=retry_delay(batch.attempt)
        )
    except (ClientError, BotoCoreError) as error:
        # The failed keys must not be lost: redelivering the whole message repeats some requests, harmlessly.
        logger.error("could not re-queue failed keys", extra={**context, "error": describe_error(error)})
        return False
    logger.warning("re-queued failed keys", extra={**context, "next_attempt": retry.attempt})
    metrics.add_metric(name="RestoreRetried", unit=MetricUnit.Count, value=len(failed))
    return True
