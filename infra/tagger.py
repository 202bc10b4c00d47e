"""The tagger: S3 Object Created events become tags; events failing every retry go to a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.grants import TAGGING_ACTIONS, TAGGING_REASON, grant_objects_under_prefix
from infra.powertools import PowertoolsFunction, env_flag
from infra.queues import dead_letter_queue

TAGGER_HANDLER = "glacierable.handlers.tagger.handler"

ASYNC_RETRY_ATTEMPTS = 2


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
            environment={"ARCHIVE_UNKNOWN": env_flag(archive_unknown)},
        )
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        grant_objects_under_prefix(
            self.function, bucket, prefix, actions=TAGGING_ACTIONS, reason=TAGGING_REASON
        )
