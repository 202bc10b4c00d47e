"""Lambda entry point: the ready checker. Each message is a restore's ReadyCheck (glacierable.ready).

A check not yet due is re-sent, delayed (SQS delays 15 minutes at most). A due check plans the restore again
from one listing (s3:ListBucket only: the listing's RestoreStatus is the state, no object is read) at its
pinned restore time, then: everything readable → publish "ready" and stop; past the tier's longest time →
publish "late" once and go on; past the last check's time → publish a last message and stop; else re-send
the check for later. Environment: BUCKET and PREFIX (checks for anything else are refused), READY_QUEUE_URL
(this queue), NOTIFY_TOPIC_ARN (where messages go).

Delivery is at least once: a message redelivered after its publish (the re-send failed, or the invocation
died before SQS deleted it) can publish the same message twice; it never loses one.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, ExceptionInfo, FailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error
from glacierable.clients import s3_client, sns_client, sqs_client
from glacierable.env import ConfigError
from glacierable.handlers.lazy import LazyClient
from glacierable.object_status import State, StatusError, StatusReport
from glacierable.plan import PlanError
from glacierable.prefixes import PrefixError, key_prefix
from glacierable.ready import CheckError, Readiness, ReadyCheck, Verdict, hop_delay, message, subject
from glacierable.restore_flow import listed_request_plan

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

METRIC_NAMES = {
    Verdict.WAITING: "RestoreNotReadyYet",
    Verdict.READY: "RestoreReadyNotified",
    Verdict.LATE: "RestoreLateNotified",
    Verdict.GAVE_UP: "RestoreCheckGaveUp",
}

logger = Logger()
metrics = Metrics()
s3 = LazyClient(s3_client)
sqs = LazyClient(sqs_client)
sns = LazyClient(sns_client)

clock: Callable[[], float] = time.time
"""Where `now` comes from (tests set it)."""


class Redeliver(Exception):
    """SQS must deliver the message again (after the queue's last try: to the dead-letter queue)."""


class _Processor(BatchProcessor):
    """Only Redeliver marks a message as failed; any other exception is this code's fault and ends the
    invocation (logged, and counted by the function's Errors alarm)."""

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        if error is not None and not isinstance(error, Redeliver):
            raise error
        return super().failure_handler(record, exception)


processor = _Processor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class Publisher(Protocol):
    """What the checker uses of an SNS client."""

    def publish(self, *, TopicArn: str, Message: str, Subject: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Settings:
    bucket: str
    queue_url: str
    topic_arn: str
    prefix: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        values = {
            name: env.get(name, "").strip() for name in ("BUCKET", "READY_QUEUE_URL", "NOTIFY_TOPIC_ARN")
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ConfigError(f"environment variable(s) {', '.join(missing)} required (the stack sets them)")
        try:
            prefix = key_prefix(env.get("PREFIX", ""))
        except PrefixError as error:
            raise ConfigError(f"PREFIX {error}") from None
        return cls(values["BUCKET"], values["READY_QUEUE_URL"], values["NOTIFY_TOPIC_ARN"], prefix)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Carry out every check; returns the messages SQS must deliver again (batchItemFailures)."""
    settings = Settings.from_env(os.environ)
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    with processor(records, functools.partial(_check_message, settings=settings)):
        processor.process()
    return processor.response()


def readiness(report: StatusReport, *, par2: bool) -> Readiness:
    counts = report.counts()
    return Readiness(
        total=len(report.objects),
        readable=report.readable_count,
        archived=counts[State.ARCHIVED.value],
        restoring=counts[State.RESTORING.value],
        earliest_expiry=report.earliest_expiry,
        par2=par2,
    )


def _check_message(record: SQSRecord, *, settings: Settings) -> None:
    try:
        check = ReadyCheck.from_body(record.body, stack_prefix=settings.prefix)
    except CheckError as error:
        logger.error("malformed ready check", extra={"message_id": record.message_id, "error": str(error)})
        raise Redeliver("malformed ready check") from error
    if check.bucket != settings.bucket:
        # Only the restore Lambda writes to this queue; anything else is refused, not obeyed.
        logger.error("ready check for another bucket", extra={"bucket": check.bucket})
        raise Redeliver("ready check for another bucket")
    now = int(clock())
    line = {"restore_id": check.restore_id, "checks": check.checks}
    if not check.due(now):
        _send(settings, check, now)
        metrics.add_metric(name="ReadyCheckDeferred", unit=MetricUnit.Count, value=1)
        return
    try:
        plan, unknown = listed_request_plan(s3(), check.bucket, check.request, check.restore_time)
    except (PlanError, StatusError) as error:
        # The backup changed under the restore (deleted?), or the listing failed: retried, then dead-lettered.
        logger.error("ready check could not plan the restore", extra={**line, "error": str(error)})
        raise Redeliver("could not plan the restore") from error
    if unknown:
        logger.warning(
            "the listing reports no restore states: archived objects count as not readable",
            extra={**line, "unknown": unknown},
        )
    state = readiness(StatusReport.of(plan), par2=plan.par2)
    verdict = check.verdict(state, now)
    logger.info(
        "ready check",
        extra={**line, "verdict": verdict.value, "readable": state.readable, "total": state.total},
    )
    if verdict is not Verdict.WAITING:
        _publish(sns(), settings.topic_arn, check, state, verdict, now)
    metrics.add_metric(name=METRIC_NAMES[verdict], unit=MetricUnit.Count, value=1)
    if verdict in (Verdict.WAITING, Verdict.LATE):
        _send(settings, check.after_check(now, verdict), now)


def _publish(
    client: Publisher, topic_arn: str, check: ReadyCheck, state: Readiness, verdict: Verdict, now: int
) -> None:
    try:
        client.publish(
            TopicArn=topic_arn, Subject=subject(check, verdict), Message=message(check, state, verdict, now)
        )
    except (ClientError, BotoCoreError) as error:
        logger.error(
            "could not publish", extra={"restore_id": check.restore_id, "error": describe_error(error)}
        )
        raise Redeliver("could not publish") from error


def _send(settings: Settings, check: ReadyCheck, now: int) -> None:
    try:
        sqs().send_message(
            QueueUrl=settings.queue_url, MessageBody=check.to_body(), DelaySeconds=hop_delay(check, now)
        )
    except (ClientError, BotoCoreError) as error:
        logger.error(
            "could not re-send the check",
            extra={"restore_id": check.restore_id, "error": describe_error(error)},
        )
        raise Redeliver("could not re-send the check") from error
