"""One stack per bucket: tagger, reconciliation sweep, archive rule, restore fan-out and their alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.archive_rule import ExistingBucketArchiveRule, native_lifecycle_rules
from infra.grants import acknowledge_cdk_notifications_handler
from infra.monitoring import Monitoring
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
            code=code,
            layer=layer,
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

    def _acknowledge_findings(self) -> None:
        """Findings on constructs CDK adds to the stack itself; each of ours acknowledges its own."""
        acknowledge_cdk_notifications_handler(self)
