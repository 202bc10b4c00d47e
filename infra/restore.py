"""The restore fan-out: a planner queues batches of keys; workers issue their RestoreObject requests."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.grants import grant_objects_under_prefix
from infra.powertools import PowertoolsFunction
from infra.queues import accept_sends_only_from, dead_letter_queue, encrypted_queue

RESTORE_HANDLER = "glacierable.handlers.restore.handler"
WORKER_HANDLER = "glacierable.handlers.restore_worker.handler"

REQUESTS_PER_SECOND_PER_THREAD = 10
"""One blocking RestoreObject call takes ~100 ms, so one worker thread sends about ten a second."""
WORKER_THREADS = 18
WORKER_MAX_CONCURRENCY = 5
# 5 workers x 18 threads x ~10 requests/s = ~900 restore requests/s: within 10% of S3's 1,000/s per account
# and Region, so a 100,000-volume restore is queued in about 2 minutes, with a tenth left for other restores
# (the CLI's local mode, a second stack); botocore's standard retries absorb a SlowDown if threads run faster
# than estimated. `make bench` reports this design rate beside S3's limit.
WORKER_BATCH_SIZE = 5
"""Messages per invocation; each holds up to 200 keys, so ~1,000 requests: ~6 s at 18 threads."""
WORKER_TIMEOUT = Duration.minutes(5)
VISIBILITY_TIMEOUT = Duration.minutes(6 * 5)
"""Six times the worker's timeout (AWS guidance): a batch being worked on is not given to another worker."""
MAX_RECEIVE_COUNT = 5

PLANNER_TIMEOUT = Duration.minutes(15)
PLANNER_MEMORY_MB = 1024
"""A 100,000-object listing and its plan fit with room, and the CPU share comes with the memory."""
WORKER_MEMORY_MB = 1024
"""Signing and parsing 180 requests/s keeps about half a vCPU busy; Lambda grants CPU by memory."""


class RestoreFanOut(Construct):
    """A planner invoked on demand, a queue of key batches, workers restoring them within S3's rate limit."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
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
            handler=RESTORE_HANDLER,
            service="glacierable-restore",
            description=f"Plans a duplicity restore from s3://{bucket.bucket_name}/{prefix} and queues it",
            timeout=PLANNER_TIMEOUT,
            memory_size=PLANNER_MEMORY_MB,
            environment={
                "BUCKET": bucket.bucket_name,
                "PREFIX": prefix,
                "RESTORE_QUEUE_URL": self.queue.queue_url,
            },
        )
        # The operator invokes it and reads the answer; a silent retry of an asynchronous call would only
        # queue the same keys again.
        self.function.configure_async_invoke(retry_attempts=0)
        list_conditions = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions=list_conditions
            )
        )
        # Nothing else in S3: the listing's RestoreStatus needs only s3:ListBucket, and where a listing lacks
        # it the workers' RestoreObject answers (202, 409, 200) tell the states apart. No object is readable.
        self.queue.grant_send_messages(self.function)

        self.worker = PowertoolsFunction(
            self,
            "Worker",
            code=code,
            layer=layer,
            handler=WORKER_HANDLER,
            service="glacierable-restore-worker",
            description=f"Requests restores of queued keys in s3://{bucket.bucket_name}/{prefix}",
            timeout=WORKER_TIMEOUT,
            memory_size=WORKER_MEMORY_MB,
            environment={
                # The worker refuses batches for any other bucket (its guard reads BUCKET).
                "BUCKET": bucket.bucket_name,
                "RESTORE_QUEUE_URL": self.queue.queue_url,
                "CONCURRENCY": str(WORKER_THREADS),
            },
        )
        # RestoreObject only: a redelivered batch is requested again and S3's answers (409 in progress,
        # 200 already restored) keep it from starting anything twice, so the worker never reads an object.
        grant_objects_under_prefix(
            self.worker,
            bucket,
            prefix,
            actions=["s3:RestoreObject"],
            reason="Requests restores, and reads nothing: duplicity's keys are not known until a restore "
            "is planned.",
        )
        # Failed keys go back to the queue as a new, delayed message.
        self.queue.grant_send_messages(self.worker)
        self.worker.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=WORKER_BATCH_SIZE,
                max_concurrency=WORKER_MAX_CONCURRENCY,
                report_batch_item_failures=True,
            )
        )
        # Whoever can enqueue a batch spends money on retrievals.
        accept_sends_only_from(self.queue, self.function, self.worker, sid="SendOnlyFromRestoreFunctions")
