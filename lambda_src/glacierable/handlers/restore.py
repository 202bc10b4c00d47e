"""Lambda entry point: validate a restore request, plan it, and queue its restores for the workers.

Environment: BUCKET and PREFIX (the stack's; requests are limited to keys under PREFIX), RESTORE_QUEUE_URL
(the workers' queue), and optionally READY_QUEUE_URL with NOTIFY_TOPIC_ARN: each restore queued also queues
a delayed ready check there (glacierable.ready), and the answer's `notify` names the topic its message
will come on ("none" without them).
Planning lists the folder and reads no object (the function may not): where the
listing reports no restore states, the workers' requests and S3's answers settle them.
A refused request (invalid, or nothing to plan: RequestError, PlanError) queues nothing and is answered,
not raised: the answer is a RestoreRefusal (`{"error": {"kind": "refused", ...}}`, see
glacierable.restore_summary), so an operator's typo never trips the function's errors alarm. Real failures
(batches not queued, AWS errors, a broken environment) still raise and are FunctionErrors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error
from glacierable.batches import Batch, group_for_send
from glacierable.clients import s3_client, sqs_client
from glacierable.handlers.lazy import LazyClient
from glacierable.plan import PlanError
from glacierable.prefixes import PrefixError, key_prefix
from glacierable.ready import ReadyCheck, hop_delay
from glacierable.restore_flow import PreparedRestore, longest_hours, new_restore_id, prepare
from glacierable.restore_request import RequestError, RestoreRequest
from glacierable.restore_summary import NO_NOTIFICATION, RestoreRefusal, RestoreSummary
from glacierable.text import first_and_more

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient

SEND_ATTEMPTS = 4
"""SendMessageBatch rounds for entries SQS reported as failed (botocore retries whole calls itself)."""
SEND_RETRY_DELAY = 0.5
MAX_ERRORS_REPORTED = 5

logger = Logger()
metrics = Metrics()


class ConfigError(ValueError):
    """The function's environment is missing or malformed."""


class EnqueueError(RuntimeError):
    """Some batches could not be queued; raised after every other batch was queued."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The function's configuration, from its environment."""

    bucket: str
    queue_url: str
    prefix: str = ""
    ready_queue_url: str = ""
    """Where ready checks go; empty: the stack has no topic, and no notification is scheduled."""
    notify_topic: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        bucket = env.get("BUCKET", "").strip()
        queue_url = env.get("RESTORE_QUEUE_URL", "").strip()
        if not bucket:
            raise ConfigError("environment variable BUCKET is required (the bucket to restore from)")
        if not queue_url:
            raise ConfigError("environment variable RESTORE_QUEUE_URL is required (the workers' queue)")
        try:
            prefix = key_prefix(env.get("PREFIX", ""))
        except PrefixError as error:
            raise ConfigError(f"PREFIX {error}") from None
        ready_queue_url = env.get("READY_QUEUE_URL", "").strip()
        notify_topic = env.get("NOTIFY_TOPIC_ARN", "").strip()
        if bool(ready_queue_url) != bool(notify_topic):
            raise ConfigError(
                "environment variables READY_QUEUE_URL and NOTIFY_TOPIC_ARN go together (the ready checks' "
                "queue and the topic their messages go to): set both or neither"
            )
        return cls(
            bucket=bucket,
            queue_url=queue_url,
            prefix=prefix,
            ready_queue_url=ready_queue_url,
            notify_topic=notify_topic,
        )


s3 = LazyClient(s3_client)  # planning lists, one page after another
sqs = LazyClient(sqs_client)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, object]:
    """Plan the restore the event asks for and queue `to_restore` in batches; returns counts and an id, or a
    refusal for a request that cannot be planned as asked."""
    settings = Settings.from_env(os.environ)
    now = int(time.time())
    restore_id = new_restore_id(now)
    logger.append_keys(restore_id=restore_id)
    try:
        request = RestoreRequest.from_json(event, now=now, stack_prefix=settings.prefix)
        logger.info("restore requested", extra={"request": request.to_json(), "bucket": settings.bucket})
        prepared = prepare(s3(), settings.bucket, request, now=now, restore_id=restore_id)
    except (RequestError, PlanError) as error:
        refusal = RestoreRefusal(type(error).__name__, str(error), restore_id)
        logger.warning("restore refused", extra={"error": str(error), "error_type": refusal.error_type})
        metrics.add_metric(name="RestoreRefused", unit=MetricUnit.Count, value=1)
        return refusal.to_json()
    batches = prepared.batches()
    summary = replace(prepared.summary(), batches=len(batches), queued=0)
    metrics.add_metric(name="RestorePlanned", unit=MetricUnit.Count, value=len(prepared.keys))
    if request.dry_run:
        result = summary.to_json()
        logger.info("dry run: nothing queued", extra={"summary": result})
        return result
    failed = enqueue(sqs(), settings.queue_url, batches)
    queued = sum(len(b.keys) for b in batches) - sum(len(batches[i].keys) for i in failed)
    result = replace(summary, queued=queued).to_json()
    metrics.add_metric(name="RestoreQueued", unit=MetricUnit.Count, value=queued)
    if failed:
        errors = list(failed.values())
        lost = sum(len(batches[i].keys) for i in failed)
        logger.error("batches not queued", extra={"summary": result, "errors": errors[:MAX_ERRORS_REPORTED]})
        raise EnqueueError(
            f"restore {restore_id}: {len(failed)} of {len(batches)} batches ({lost} keys) could not be "
            f"queued ({first_and_more(errors, MAX_ERRORS_REPORTED, separator='; ')}); {queued} keys were "
            "queued. Rerun the "
            "same request to queue the rest: objects already restoring are not requested again"
        )
    summary = schedule_ready_check(sqs(), settings, prepared, replace(summary, queued=queued), now=now)
    result = summary.to_json()
    logger.info("restore queued", extra={"summary": result})
    return result


def schedule_ready_check(
    client: SQSClient, settings: Settings, prepared: PreparedRestore, summary: RestoreSummary, *, now: int
) -> RestoreSummary:
    """Queue the restore's first ready check; `summary` saying whether a message will come.

    A check that cannot be queued does not fail the restore (its requests are queued): the answer says no
    message will come, and why, so the user waits with `glacierable status` instead.
    """
    if not settings.ready_queue_url:
        return replace(summary, notify=NO_NOTIFICATION)
    check = ReadyCheck.first(
        prepared.restore_id,
        prepared.bucket,
        prepared.request,
        restore_time=prepared.restore_time,
        now=now,
        longest_hours=longest_hours(prepared.plan, prepared.request),
    )
    try:
        client.send_message(
            QueueUrl=settings.ready_queue_url, MessageBody=check.to_body(), DelaySeconds=hop_delay(check, now)
        )
    except (ClientError, BotoCoreError) as error:
        logger.error("ready check not queued", extra={"error": describe_error(error)})
        warning = (
            "no message will say when this restore is ready: its check could not be queued "
            f"({describe_error(error)}); follow it with glacierable status"
        )
        return replace(summary, notify=NO_NOTIFICATION, warnings=(*summary.warnings, warning))
    return replace(summary, notify=settings.notify_topic)


def enqueue(
    client: SQSClient,
    queue_url: str,
    batches: Sequence[Batch],
    *,
    attempts: int = SEND_ATTEMPTS,
    retry_delay: float = SEND_RETRY_DELAY,
) -> dict[int, str]:
    """Send every batch (SendMessageBatch, retrying failed entries); the ones that still failed, by index."""
    bodies = [batch.to_body() for batch in batches]
    pending = list(range(len(bodies)))
    errors: dict[int, str] = {}
    for attempt in range(attempts):
        if attempt:
            time.sleep(retry_delay * 2 ** (attempt - 1))
        errors = {}
        for group in group_for_send([bodies[i] for i in pending]):
            indexes = [pending[j] for j in group]
            entries = [{"Id": str(i), "MessageBody": bodies[i]} for i in indexes]
            try:
                response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as error:
                errors.update((i, describe_error(error)) for i in indexes)
                continue
            for entry in response.get("Failed", []):
                code, message = entry.get("Code", "Unknown"), entry.get("Message", "")
                errors[int(entry["Id"])] = f"{code}: {message}" if message else code
        if not errors:
            return {}
        pending = sorted(errors)
    return errors
