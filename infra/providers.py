"""The Provider framework behind each of our custom resources, and how long CloudFormation waits for one."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.grants import acknowledge_provider_framework

SERVICE_TIMEOUT = Duration.minutes(5)
"""How long CloudFormation waits for a custom resource's answer (its default is an hour). Our handlers run
at most 2 minutes, waiting out conflicting bucket writes included (~31 s), so a stuck deploy fails in
minutes."""


def provider_for(scope: Construct, handler: lambda_.Function) -> cr.Provider:
    """A Provider framework (`scope`/Provider) invoking `handler`, its one expected finding acknowledged."""
    provider = cr.Provider(scope, "Provider", on_event_handler=handler)
    acknowledge_provider_framework(provider)
    cfn_handler = handler.node.default_child
    if not isinstance(cfn_handler, lambda_.CfnFunction):
        raise TypeError(f"expected the handler's CfnFunction, got {cfn_handler!r}")
    handler_id = Stack.of(scope).get_logical_id(cfn_handler)
    Validations.of(provider).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            reason="CDK's Provider framework may invoke any version of this handler, and nothing else.",
        )
    )
    return provider
