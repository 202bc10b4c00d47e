"""Lambda entry point: tag each object an S3 Object Created event names (glacierable=true|false).

Either shape, in either delivery mode: S3's own notification (`events=direct`) or EventBridge's
"Object Created" event (`events=eventbridge`, the default); glacierable.events reads both.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import error_code
from glacierable.clients import s3_client
from glacierable.env import ConfigError as ConfigError  # the handler raises it: part of its interface
from glacierable.env import env_bool
from glacierable.events import S3Notification, parse_event
from glacierable.handlers.lazy import LazyClient
from glacierable.tagging import Action, TagResult, tag_object
from glacierable.text import first_and_more

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

logger = Logger()
metrics = Metrics()

# Every S3 call must give up inside the function's 30 s timeout, so that a stalled endpoint ends as our
# error (the event is retried whole, by Lambda or EventBridge) and not as a timeout mid-batch. Worst case
# per call: 3 x (2 + 2) s, plus botocore's back-off before each retry (up to 1 s, then 2 s, each plus up
# to 5 s when an answer carries x-amz-retry-after) = 25 s; tests/cdk/test_tagger_events_stack.py checks
# it against the deployed timeout. Tagging calls answer in milliseconds: 2 s without a byte is a stall.
S3_MAX_ATTEMPTS = 3
S3_CONNECT_TIMEOUT = 2.0
S3_READ_TIMEOUT = 2.0


def _tagger_s3_client() -> S3Client:
    return s3_client(
        max_attempts=S3_MAX_ATTEMPTS, connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT
    )


s3 = LazyClient(_tagger_s3_client)

METRIC_NAMES = ("TaggedTrue", "TaggedFalse", "Kept", "Skipped", "Failed", "TooManyTags")
MAX_KEYS_IN_ERROR = 20


class TaggingFailedError(RuntimeError):
    """Some records could not be tagged; raised after all others were processed, so Lambda retries."""


def _metric_for(result: TagResult) -> str:
    if result.action is Action.TAGGED:
        return "TaggedTrue" if result.glacierable else "TaggedFalse"
    if result.action is Action.KEPT:
        return "Kept"
    if result.action is Action.TOO_MANY_TAGS:
        return "TooManyTags"
    return "Skipped"


def _error_code(error: Exception) -> str:
    return (
        error_code(error, default="ClientError") if isinstance(error, ClientError) else type(error).__name__
    )


def _tag_all(
    client: S3Client, notification: S3Notification, archive_unknown: bool, counts: Counter[str]
) -> list[str]:
    """Tag every ObjectCreated record, counting outcomes; returns the failed objects, described."""
    if notification.test_event:
        logger.info("s3:TestEvent ignored")
    for ignored in notification.ignored:
        counts["Skipped"] += 1
        logger.info("record ignored", extra={"record": ignored.index, "event_name": ignored.event_name})
    failed: list[str] = []
    for record in notification.created:
        where: dict[str, str | None] = {
            "bucket": record.bucket,
            "key": record.key,
            "version_id": record.version_id,
        }
        try:
            result = tag_object(
                client,
                record.bucket,
                record.key,
                version_id=record.version_id,
                archive_unknown=archive_unknown,
                fallback_key=record.fallback_key,
            )
        except (ClientError, BotoCoreError) as error:
            # Already retried by botocore; keep going so one bad object does not hold up the others.
            counts["Failed"] += 1
            failed.append(f"s3://{record.bucket}/{record.key} ({_error_code(error)})")
            logger.exception("tagging failed", extra={**where, "action": "failed"})
            continue
        counts[_metric_for(result)] += 1
        if result.key != record.key:
            # The decoded key did not exist and the key as delivered did: evidence of EventBridge's encoding.
            where = {**where, "key": result.key, "decoded_key": record.key}
        line = {**where, "decision": "true" if result.glacierable else "false", "action": str(result.action)}
        if result.action is Action.TOO_MANY_TAGS:
            # Retrying cannot help: it needs an operator to remove a tag. Alarm on the metric instead.
            logger.error("object has 10 tags and no glacierable tag: not tagged", extra=line)
        else:
            logger.info("object processed", extra=line)
    return failed


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Tag every ObjectCreated record; raise at the end, naming the keys that failed, if any did."""
    counts: Counter[str] = Counter({name: 0 for name in METRIC_NAMES})
    try:
        archive_unknown = env_bool(os.environ, "ARCHIVE_UNKNOWN")
        notification = parse_event(event)
        failed = _tag_all(s3(), notification, archive_unknown, counts)
    finally:
        # Every count, zeros too, even when the invocation fails, so alarms see a continuous series.
        for name in METRIC_NAMES:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
    if failed:
        raise TaggingFailedError(
            f"{len(failed)} of {len(notification.created)} objects could not be tagged: "
            f"{first_and_more(failed, MAX_KEYS_IN_ERROR)}"
        )
    return dict(counts)
