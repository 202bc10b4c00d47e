"""The tagger: S3 Object Created events become tags; events failing every retry go to a dead-letter queue.

Events arrive one of two ways (`events` setting). `eventbridge` (the default): S3 sends every event of the
bucket to the default event bus, and a rule of ours selects the bucket's Object Created events under the
prefix; it cannot collide with the owner's bucket notifications. `direct`: a bucket notification invokes
the function. Either way Lambda is invoked asynchronously, so the function's own async-invoke retries and
on-failure destination apply to both; EventBridge adds its own retries for failures to invoke at all.
Turning EventBridge on for the bucket, or writing the direct notification, is infra.notifications' job.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events_
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from glacierable.events import eventbridge_pattern
from infra.grants import TAGGING_ACTIONS, TAGGING_REASON, grant_objects_under_prefix
from infra.powertools import PowertoolsFunction, env_flag
from infra.queues import dead_letter_queue
from infra.settings import EVENT_DELIVERIES, EVENTS_EVENTBRIDGE

TAGGER_HANDLER = "glacierable.handlers.tagger.handler"

TIMEOUT = Duration.seconds(30)
"""The handler's S3 client gives up within it (glacierable.handlers.tagger S3_* budget)."""
ASYNC_RETRY_ATTEMPTS = 2
"""Lambda's retries of an invocation that raised (both modes invoke asynchronously)."""
RULE_RETRY_ATTEMPTS = 8
"""EventBridge's retries when it cannot invoke the function at all (throttled, function missing)."""
MAX_EVENT_AGE = Duration.hours(6)
"""After this, an event still failing goes to the dead-letter queue; the reconciler's sweep is the rest."""
METRIC_PERIOD = Duration.minutes(5)


class Tagger(Construct):
    """Tags every object created under the prefix; events failing every retry land in a dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        archive_unknown: bool,
        events: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
        if events not in EVENT_DELIVERIES:
            raise ValueError(f"events: {events!r} is not one of {', '.join(EVENT_DELIVERIES)}")
        self.events = events
        self.dead_letter_queue = dead_letter_queue(self)
        Validations.of(self.dead_letter_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason=(
                    "This queue is itself the dead-letter destination of the tagger's async invocations "
                    "and of its EventBridge rule's target."
                ),
            )
        )
        self.function = PowertoolsFunction(
            self,
            "Function",
            code=code,
            layer=layer,
            handler=TAGGER_HANDLER,
            service="glacierable-tagger",
            description=f"Tags duplicity objects in s3://{bucket.bucket_name}/{prefix} for archiving",
            timeout=TIMEOUT,
            memory_size=256,
            environment={"ARCHIVE_UNKNOWN": env_flag(archive_unknown)},
        )
        # Both S3 (direct) and EventBridge invoke asynchronously: a function error is retried by Lambda
        # and then recorded here, in either mode.
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        grant_objects_under_prefix(
            self.function, bucket, prefix, actions=TAGGING_ACTIONS, reason=TAGGING_REASON
        )
        # In direct mode the bucket side (S3's permission to invoke, the notification) belongs to
        # infra/notifications.py, which writes it into the owner's configuration.
        self.rule: events_.Rule | None = self._rule(bucket, prefix) if events == EVENTS_EVENTBRIDGE else None

    def _rule(self, bucket: s3.IBucket, prefix: str) -> events_.Rule:
        pattern = eventbridge_pattern(bucket.bucket_name, prefix)
        rule = events_.Rule(
            self,
            "ObjectCreatedRule",
            description=f"S3 Object Created events of s3://{bucket.bucket_name}/{prefix} to the tagger",
            event_pattern=events_.EventPattern(
                source=list(pattern.source), detail_type=list(pattern.detail_type), detail=pattern.detail
            ),
        )
        # The target adds the Lambda permission (scoped to the rule) and the queue policy letting
        # events.amazonaws.com send to the dead-letter queue for this rule only.
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                retry_attempts=RULE_RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letter_queue,
            )
        )
        return rule

    @property
    def delivery_failure_metrics(self) -> dict[str, tuple[cloudwatch.IMetric, str]]:
        """Alarm name → (metric, meaning) for events that failed to reach the function or the DLQ."""
        metrics: dict[str, tuple[cloudwatch.IMetric, str]] = {
            "TaggerDestinationDeliveryFailures": (
                self.function.metric(
                    "DestinationDeliveryFailures", period=METRIC_PERIOD, statistic=cloudwatch.Stats.SUM
                ),
                "Lambda could not record a failed tagger event in the dead-letter queue: the event is "
                "lost; the objects it named stay untagged until the next reconciliation (or run "
                "glacierable backfill)",
            )
        }
        if self.rule is not None:
            dimensions = {"RuleName": self.rule.rule_name}
            metrics["TaggerRuleFailedInvocations"] = (
                cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="FailedInvocations",
                    dimensions_map=dimensions,
                    period=METRIC_PERIOD,
                    statistic=cloudwatch.Stats.SUM,
                ),
                "EventBridge could not invoke the tagger after every retry: those S3 events went to the "
                "dead-letter queue (or are lost if that failed too); check the function still exists and "
                "its concurrency, then redrive",
            )
            metrics["TaggerRuleDeadLetterFailures"] = (
                cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="InvocationsFailedToBeSentToDlq",
                    dimensions_map=dimensions,
                    period=METRIC_PERIOD,
                    statistic=cloudwatch.Stats.SUM,
                ),
                "EventBridge could not put undeliverable S3 events in the tagger's dead-letter queue: "
                "they are lost; check the queue's policy, then run glacierable backfill",
            )
        return metrics
