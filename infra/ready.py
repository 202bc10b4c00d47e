"""Told when a restore is ready: a queue of delayed ready checks, the checker that re-plans each restore from
a listing, and the topic its messages go to (the alarm topic, or one of the restore notifications' own)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.powertools import PowertoolsFunction
from infra.queues import accept_sends_only_from, dead_letter_queue, encrypted_queue

READY_HANDLER = "glacierable.handlers.restore_ready.handler"
CHECKER_TIMEOUT = Duration.minutes(5)
"""A check lists the restore's folder: 100,000 objects are 100 ListObjectsV2 pages, well under a minute."""
CHECKER_MEMORY_MB = 512
VISIBILITY_TIMEOUT = Duration.minutes(6 * 5)
"""Six times the checker's timeout (AWS guidance)."""
MAX_RECEIVE_COUNT = 5
CHECKER_BATCH_SIZE = 10
CHECKER_MAX_CONCURRENCY = 2
"""SQS event sources' minimum: checks are a few an hour per restore, never urgent."""


class NotifyTopic(Construct):
    """A topic for restore notifications with an email subscription, encrypted with a key of its own."""

    def __init__(self, scope: Construct, id_: str, *, email: str) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {stack.stack_name}'s restore notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"glacierable restores ({stack.stack_name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(email))


class ReadyChecks(Construct):
    """The check queue (the restore planner queues a restore's first check; the checker re-sends it,
    delayed, until the restore is ready, late past its cap), and the checker."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        topic: sns.ITopic,
        planner: lambda_.Function,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
        self.topic = topic
        self.dead_letter_queue = dead_letter_queue(self)
        self.queue = encrypted_queue(
            self,
            "Queue",
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        self.function = PowertoolsFunction(
            self,
            "Function",
            code=code,
            layer=layer,
            handler=READY_HANDLER,
            service="glacierable-restore-ready",
            description=f"Tells when a restore from s3://{bucket.bucket_name}/{prefix} is readable",
            timeout=CHECKER_TIMEOUT,
            memory_size=CHECKER_MEMORY_MB,
            environment={
                "BUCKET": bucket.bucket_name,
                "PREFIX": prefix,
                "READY_QUEUE_URL": self.queue.queue_url,
                "NOTIFY_TOPIC_ARN": topic.topic_arn,
            },
        )
        # A check plans from the listing's RestoreStatus (s3:ListBucket); it reads no object.
        list_conditions = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions=list_conditions
            )
        )
        topic.grant_publish(self.function)
        if topic.master_key is not None:
            # grant_publish adds kms:Decrypt and kms:GenerateDataKey* on the topic's key, as SNS needs.
            Validations.of(self.function.role or self.function).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    reason="kms:GenerateDataKey* (and kms:Decrypt) on the notification topic's own key only: "
                    "publishing to an encrypted topic needs them.",
                )
            )
        self.queue.grant_send_messages(self.function)
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=CHECKER_BATCH_SIZE,
                max_concurrency=CHECKER_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        self.queue.grant_send_messages(planner)
        planner.add_environment("READY_QUEUE_URL", self.queue.queue_url)
        planner.add_environment("NOTIFY_TOPIC_ARN", topic.topic_arn)
        # Whoever queues a check makes the checker list the bucket and publish: only these two may.
        accept_sends_only_from(self.queue, planner, self.function, sid="SendOnlyFromRestoreAndChecker")
