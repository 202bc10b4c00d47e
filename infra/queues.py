"""SQS queues as every glacierable queue is built: SQS-managed encryption, TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DEAD_LETTER_RETENTION = Duration.days(14)
"""SQS's maximum: time for an operator to see the alarm, read the messages and redrive them."""


def encrypted_queue(
    scope: Construct,
    id_: str,
    *,
    retention_period: Duration | None = None,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """A queue with SQS-managed encryption that refuses plain-HTTP access."""
    return sqs.Queue(
        scope,
        id_,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention_period,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
    )


def dead_letter_queue(scope: Construct, id_: str = "DeadLetterQueue") -> sqs.Queue:
    """An encrypted queue keeping its messages for 14 days."""
    return encrypted_queue(scope, id_, retention_period=DEAD_LETTER_RETENTION)
