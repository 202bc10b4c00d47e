"""The tagger (S3 event → tags, failures to a dead-letter queue) and its scheduled reconciliation sweep."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.grants import grant_objects_under_prefix
from infra.powertools import PowertoolsFunction
from infra.queues import dead_letter_queue

TAGGER_HANDLER = "glacierable.handlers.tagger.handler"
RECONCILE_HANDLER = "glacierable.handlers.reconcile.handler"

TAGGING_ACTIONS = [
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging",
]
"""Everything either function does to an object; neither ever reads object data."""
TAGGING_REASON = "Object tagging under the configured prefix: duplicity's keys are not known in advance."
RECONCILE_LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions"]
"""The sweep's listings (ListObjectsV2, and ListObjectVersions in a versioned bucket), under the prefix."""

ASYNC_RETRY_ATTEMPTS = 2


def _flag(value: bool) -> str:
    return "true" if value else "false"


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
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
        self.dead_letter_queue = dead_letter_queue(self)
        Validations.of(self.dead_letter_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter destination of the tagger's async invocations.",
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
            timeout=Duration.seconds(30),
            memory_size=256,
            environment={"ARCHIVE_UNKNOWN": _flag(archive_unknown)},
        )
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        grant_objects_under_prefix(
            self.function, bucket, prefix, actions=TAGGING_ACTIONS, reason=TAGGING_REASON
        )
        filters = [s3.NotificationKeyFilter(prefix=prefix)] if prefix else []
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.function), *filters
        )


class Reconciler(Construct):
    """A scheduled sweep over recently modified objects, so a lost S3 event never leaves a volume hot."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        archive_unknown: bool,
        reconcile_days: int,
        schedule: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
        self.function = PowertoolsFunction(
            self,
            "Function",
            code=code,
            layer=layer,
            handler=RECONCILE_HANDLER,
            service="glacierable-reconcile",
            description=f"Re-tags objects modified in the last {reconcile_days} days in s3://{bucket.bucket_name}",
            timeout=Duration.minutes(15),
            memory_size=256,
            # No reserved concurrency: new accounts (limit 10) could not deploy it, and a daily 15-minute
            # sweep cannot overlap itself.
            environment={
                "BUCKET": bucket.bucket_name,
                "PREFIX": prefix,
                "RECONCILE_DAYS": str(reconcile_days),
                "ARCHIVE_UNKNOWN": _flag(archive_unknown),
            },
        )
        # The next scheduled run covers the same window, so one retry is plenty; the errors alarm reports it.
        self.function.configure_async_invoke(retry_attempts=1, max_event_age=Duration.hours(6))
        list_conditions = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None
        # ListBucketVersions: in a versioned bucket the sweep tags every version (the rule's noncurrent
        # transition moves only tagged ones); GetBucketVersioning tells it which listing to use.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=RECONCILE_LIST_ACTIONS, resources=[bucket.bucket_arn], conditions=list_conditions
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetBucketVersioning"], resources=[bucket.bucket_arn])
        )
        grant_objects_under_prefix(
            self.function, bucket, prefix, actions=TAGGING_ACTIONS, reason=TAGGING_REASON
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.expression(schedule),
            description=f"Scheduled glacierable reconciliation of s3://{bucket.bucket_name}/{prefix}",
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=Duration.hours(2))
            ],
        )
