"""One stack per bucket: tagger, reconciliation sweep, archive rule, restore fan-out and their alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from glacierable.lifecycle import ARCHIVE_RULE_ID
from infra.archive_rule import ExistingBucketArchiveRule, native_lifecycle_rules
from infra.monitoring import AlarmTopic, Monitoring
from infra.notifications import BucketNotifications
from infra.powertools import lambda_code, powertools_layer
from infra.ready import NotifyTopic, ReadyChecks
from infra.reconciler import Reconciler
from infra.restore import RestoreFanOut
from infra.settings import Settings
from infra.tagger import Tagger

MAXIMUM = cloudwatch.Stats.MAXIMUM
"""For a 0/1 metric published once a sweep: any 1 in the period is the alarm."""
RESTORE_QUEUE_MAX_AGE = Duration.hours(1)
"""The restore queue's oldest-message alarm. Workers drain a 100,000-volume restore (500 batches) in minutes;
a batch still queued an hour on has outlived a whole visibility timeout plus a worker's timeout (30 + 5
minutes, infra/restore.py) without being deleted, so workers are failing it or not running, well before
its fifth receive (2.5 hours) sends it to the dead-letter queue. Retried keys go back as new messages
delayed at most 15 minutes, so a retry alone never reaches an hour."""


class GlacierableStack(Stack):
    """Makes one bucket's duplicity volumes cost Glacier prices, and restores them in one request."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            scope,
            id_,
            description=f"glacierable: archives duplicity volumes in s3://{settings.bucket}/{settings.prefix}",
            **kwargs,
        )
        self.settings = settings
        code = lambda_code()
        layer = powertools_layer(self, "PowertoolsLayer")

        if settings.create_bucket:
            self.bucket: s3.IBucket = self._new_bucket(settings)
            self.archive_rule: ExistingBucketArchiveRule | None = None
        else:
            self.bucket = s3.Bucket.from_bucket_name(self, "Bucket", settings.bucket)
            self.archive_rule = ExistingBucketArchiveRule(
                self,
                "ArchiveRule",
                bucket=self.bucket,
                prefix=settings.prefix,
                storage_class=settings.storage_class,
                days=settings.days,
                code=code,
                layer=layer,
            )

        self.tagger = Tagger(
            self,
            "Tagger",
            bucket=self.bucket,
            prefix=settings.prefix,
            archive_unknown=settings.archive_unknown,
            events=settings.events,
            code=code,
            layer=layer,
        )
        self.notifications = BucketNotifications(
            self,
            "Notifications",
            bucket=self.bucket,
            prefix=settings.prefix,
            events=settings.events,
            function=self.tagger.function,
            code=code,
            layer=layer,
            after=self._configuration_writers(),
        )
        self.reconciler = Reconciler(
            self,
            "Reconciler",
            bucket=self.bucket,
            prefix=settings.prefix,
            archive_unknown=settings.archive_unknown,
            reconcile_days=settings.reconcile_days,
            schedule=settings.reconcile_schedule,
            storage_class=settings.storage_class,
            days=settings.days,
            code=code,
            layer=layer,
        )
        self.restore = RestoreFanOut(
            self, "Restore", bucket=self.bucket, prefix=settings.prefix, code=code, layer=layer
        )
        functions = {"Tagger": self.tagger.function, "Reconciler": self.reconciler.function}
        if self.archive_rule:
            functions["ArchiveRule"] = self.archive_rule.handler
        functions["Notifications"] = self.notifications.handler
        functions["Restore"] = self.restore.function
        functions["RestoreWorker"] = self.restore.worker
        self.alarm_topic = self._alarm_topic(settings)
        self.notify_topic = self._notify_topic(settings) or self.alarm_topic
        self.ready: ReadyChecks | None = None
        if self.notify_topic:  # no topic, no notification: the restore's answer says so
            self.ready = ReadyChecks(
                self,
                "Ready",
                bucket=self.bucket,
                prefix=settings.prefix,
                topic=self.notify_topic,
                planner=self.restore.function,
                code=code,
                layer=layer,
            )
            functions["RestoreReady"] = self.ready.function
        ready_dead_letters = (
            {
                "ReadyDeadLetterQueue": (
                    self.ready.dead_letter_queue,
                    "Ready checks the checker failed on after every attempt: no message will say when those "
                    "restores are ready; see the checker's log, and follow them with glacierable status",
                )
            }
            if self.ready
            else {}
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            alarm_topic=self.alarm_topic,
            dead_letter_queues={
                "DeadLetterQueue": (
                    self.tagger.dead_letter_queue,
                    "S3 events the tagger failed on after every retry: their objects are untagged until "
                    "the next reconciliation; inspect the messages and redrive them",
                ),
                "RestoreDeadLetterQueue": (
                    self.restore.dead_letter_queue,
                    "Restore batches the workers failed on after every attempt: those objects were not "
                    "requested; see the worker's log, then rerun the restore (nothing is requested twice)",
                ),
                "ReconcileDeadLetterQueue": (
                    self.reconciler.dead_letter_queue,
                    "Scheduled sweeps EventBridge could not start after its retries (throttled, or the "
                    "function missing): recent objects may be untagged; invoke the reconcile function",
                ),
                **ready_dead_letters,
            },
            functions=functions,
            metric_alarms={
                # Never retried (only an operator removing a tag helps), so it must page someone.
                "TooManyTags": (
                    self.tagger.function.metric_count("TooManyTags"),
                    "An object has 10 tags and no glacierable tag, so the tagger cannot tag it: "
                    "remove a tag, then run glacierable backfill",
                ),
                **self.tagger.delivery_failure_metrics,
                # The sweep checks it each run; a daily metric, so one datapoint is the whole story.
                "ArchiveRuleMissing": (
                    self.reconciler.function.metric_count("ArchiveRuleMissing").with_(statistic=MAXIMUM),
                    f"The lifecycle rule {ARCHIVE_RULE_ID!r} is gone, disabled or changed in "
                    f"s3://{settings.bucket} (another tool rewrote the lifecycle configuration): tagged "
                    "volumes are not archived; see the reconcile log, then redeploy the stack",
                ),
                "BackupCheckProblems": (
                    self.reconciler.function.metric_count("CheckProblems").with_(statistic=MAXIMUM),
                    f"The daily glacierable check found problems in s3://{settings.bucket}/{settings.prefix} "
                    "(a missing volume, manifest or signature, archived metadata, an untagged object, "
                    f"a missing rule): see the reconcile log, or run glacierable check --bucket "
                    f"{settings.bucket}" + (f" --prefix {settings.prefix}" if settings.prefix else ""),
                ),
                "ArchiveRuleUnchecked": (
                    self.reconciler.function.metric_count("ArchiveRuleUnchecked").with_(statistic=MAXIMUM),
                    f"The sweep could not read s3://{settings.bucket}'s lifecycle configuration to check "
                    f"the rule {ARCHIVE_RULE_ID!r} (access denied?): see the reconcile log",
                ),
            },
            queue_ages={
                "RestoreQueue": (
                    self.restore.queue,
                    RESTORE_QUEUE_MAX_AGE,
                    "A restore batch has waited over an hour: the workers are failing or not running "
                    "(throttled, disabled); see the worker's log. Its objects are not requested yet",
                ),
            },
        )

        CfnOutput(self, "TaggerFunctionName", value=self.tagger.function.function_name)
        CfnOutput(self, "ReconcileFunctionName", value=self.reconciler.function.function_name)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.tagger.dead_letter_queue.queue_url)
        CfnOutput(self, "DeadLetterQueueName", value=self.tagger.dead_letter_queue.queue_name)
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "RestoreFunctionName", value=self.restore.function.function_name)
        CfnOutput(self, "RestoreWorkerFunctionName", value=self.restore.worker.function_name)
        CfnOutput(self, "RestoreQueueUrl", value=self.restore.queue.queue_url)
        CfnOutput(self, "RestoreDeadLetterQueueUrl", value=self.restore.dead_letter_queue.queue_url)
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn
            if self.alarm_topic
            else "none: redeploy with -c alarm_email=ADDRESS or -c alarm_topic_arn=ARN to be notified",
            description="Where every alarm of this stack notifies (ALARM state only)",
        )
        CfnOutput(
            self,
            "NotifyTopicArn",
            value=self.notify_topic.topic_arn
            if self.notify_topic
            else "none: redeploy with -c notify_email=ADDRESS (or an alarm topic) to be told when a restore "
            "is ready",
            description="Where a message says that a restore is ready, late, or no longer checked",
        )

    def _configuration_writers(self) -> list[IConstruct]:
        """What else writes the bucket's configuration: S3 refuses a write while another is in progress."""
        if self.archive_rule:
            return [self.archive_rule.resource]
        policy = self.bucket.policy if isinstance(self.bucket, s3.Bucket) else None
        return [policy] if policy else []

    def _alarm_topic(self, settings: Settings) -> sns.ITopic | None:
        """The stack's own topic with an email subscription, the operator's topic, or none."""
        if settings.alarm_email:
            return AlarmTopic(self, "Alarms", email=settings.alarm_email).topic
        if settings.alarm_topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", settings.alarm_topic_arn)
        return None

    def _notify_topic(self, settings: Settings) -> sns.ITopic | None:
        """Restore notifications' own topic, when given (else they go to the alarm topic)."""
        if settings.notify_email:
            return NotifyTopic(self, "Notify", email=settings.notify_email).topic
        if settings.notify_topic_arn:
            return sns.Topic.from_topic_arn(self, "NotifyTopic", settings.notify_topic_arn)
        return None

    def _new_bucket(self, settings: Settings) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=settings.bucket,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            # Backups outlive the stack: deleting it must never delete them.
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=native_lifecycle_rules(
                prefix=settings.prefix, storage_class=settings.storage_class, days=settings.days
            ),
        )
        # The TLS-only policy (enforce_ssl) must outlive the stack with the bucket it protects: a retained
        # bucket without it would accept plain-HTTP requests.
        if bucket.policy is None:
            raise TypeError("expected enforce_ssl to have created the bucket's policy")
        bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason=(
                    "Access logs need a second bucket of the operator's choosing; this one is private, "
                    "TLS-only and encrypted. Enable logging or CloudTrail data events outside this stack."
                ),
            )
        )
        return bucket
