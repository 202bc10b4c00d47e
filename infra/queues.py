"""SQS queues as every glacierable queue is built: SQS-managed encryption, TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
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


def accept_sends_only_from(queue: sqs.Queue, *functions: lambda_.Function, sid: str) -> None:
    """Deny sqs:SendMessage on `queue` to every principal but these functions' roles.

    Identity policies elsewhere in the account must not be enough to make these functions act (spend money
    on retrievals, publish). Receiving and deleting (the consumers' event source) are not affected.
    """
    roles = [function.role for function in functions]
    if any(role is None for role in roles):
        raise TypeError(f"every function that sends to {queue.node.path} needs a role")
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            # aws:PrincipalArn is the role's ARN for a Lambda function's assumed-role session.
            conditions={"ArnNotEquals": {"aws:PrincipalArn": [role.role_arn for role in roles if role]}},
        )
    )
