"""One stack per bucket: tagger, reconciliation sweep, archive rule, restore fan-out and their alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra.archive_rule import ExistingBucketArchiveRule, native_lifecycle_rules
from infra.monitoring import Monitoring
from infra.notifications import BucketNotifications
from infra.powertools import lambda_code, powertools_layer
from infra.reconciler import Reconciler
from infra.restore import RestoreFanOut
from infra.settings import Settings
from infra.tagger import Tagger


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
        self.monitoring = Monitoring(
            self,
            "Monitoring",
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
        self._acknowledge_findings()

    def _configuration_writers(self) -> list[IConstruct]:
        """What else writes the bucket's configuration: S3 refuses a write while another is in progress."""
        if self.archive_rule:
            return [self.archive_rule.resource]
        policy = self.bucket.policy if isinstance(self.bucket, s3.Bucket) else None
        return [policy] if policy else []

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

    def _acknowledge_findings(self) -> None:
        """Stack-wide cdk-nag findings accepted here; each construct acknowledges its own."""
        Validations.of(self).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]"
                ),
                reason="AWSLambdaBasicExecutionRole only lets each function write its own CloudWatch Logs.",
            )
        )
