"""The scheduled reconciliation sweep: re-tags recently modified objects, so a lost S3 event never leaves a
volume hot."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from glacierable.lifecycle import ARCHIVE_RULE_ID
from infra.grants import TAGGING_ACTIONS, TAGGING_REASON, grant_objects_under_prefix
from infra.powertools import PowertoolsFunction, env_flag
from infra.queues import dead_letter_queue

RECONCILE_HANDLER = "glacierable.handlers.reconcile.handler"

RECONCILE_LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions"]
"""The sweep's listings (ListObjectsV2, and ListObjectVersions in a versioned bucket), under the prefix."""

RECONCILE_TIMEOUT = Duration.minutes(15)
RECONCILE_MEMORY_MB = 1024
"""Memory is not what limits the sweep: it holds no state per listed key (two listing pages of 1,000 and
the objects being tagged; only failures are kept, ~0.5 KB each). Its peak resident set measured 65.1 MB
over 20,000 keys and 65.8 MB over 50,000 (listed and skipped), 69.1 MB tagging 20,000 (bench/
reconcile_memory.py). CPU is the limit, and Lambda grants it by memory (1,769 MB is one vCPU): listing and
skipping took 0.11 ms of CPU per key, tagging 6 ms per tagged key. At 1,024 MB (~0.58 vCPU) a million keys
list in ~3 minutes, leaving ~11 minutes to tag ~60,000 recent ones; at 256 MB the listing alone would take
~13 of the 15 minutes."""


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
        storage_class: str,
        days: int,
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
            timeout=RECONCILE_TIMEOUT,
            memory_size=RECONCILE_MEMORY_MB,
            # No reserved concurrency: new accounts (limit 10) could not deploy it, and a daily 15-minute
            # sweep cannot overlap itself.
            environment={
                "BUCKET": bucket.bucket_name,
                "PREFIX": prefix,
                "RECONCILE_DAYS": str(reconcile_days),
                "ARCHIVE_UNKNOWN": env_flag(archive_unknown),
                # The archive rule the stack deploys, which each sweep checks is still in place.
                "ARCHIVE_RULE_ID": ARCHIVE_RULE_ID,
                "ARCHIVE_STORAGE_CLASS": storage_class,
                "ARCHIVE_DAYS": str(days),
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
        # Read only: each sweep checks that the archive rule is still in place (another tool may rewrite it).
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetLifecycleConfiguration"], resources=[bucket.bucket_arn])
        )
        grant_objects_under_prefix(
            self.function, bucket, prefix, actions=TAGGING_ACTIONS, reason=TAGGING_REASON
        )
        # Schedule events EventBridge could not deliver after its retries: a sweep that never ran.
        self.dead_letter_queue = dead_letter_queue(self)
        Validations.of(self.dead_letter_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter destination of the sweep's schedule target.",
            )
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.expression(schedule),
            description=f"Scheduled glacierable reconciliation of s3://{bucket.bucket_name}/{prefix}",
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                    dead_letter_queue=self.dead_letter_queue,
                )
            ],
        )
