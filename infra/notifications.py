"""The bucket's Object Created events for the tagger: EventBridge turned on, or one Lambda notification.

Our own custom resource, for new and existing buckets alike, instead of CDK's bucket-notification handler:
that one gives the owner's notifications new Ids on every update. Ours merges into the owner's
configuration and keeps it exactly (glacierable.notifications).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from glacierable.notifications import EVENTS_DIRECT, validate_events
from infra.powertools import PowertoolsFunction
from infra.providers import SERVICE_TIMEOUT, provider_for

RESOURCE_TYPE = "Custom::GlacierableNotifications"
HANDLER = "glacierable.handlers.notification_resource.handler"
HANDLER_ACTIONS = ("s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetBucketLocation")


class BucketNotifications(Construct):
    """Delivers the bucket's Object Created events under `prefix` to `function`, keeping the owner's own.

    `events`: `eventbridge` turns on the bucket's EventBridge delivery (the rule to the tagger is the
    tagger's); `direct` adds one Lambda notification. `after`: resources that write the same bucket's
    configuration, which this one must wait for (S3 refuses concurrent configuration writes).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        events: str,
        function: lambda_.IFunction,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        after: Sequence[IConstruct] = (),
    ) -> None:
        super().__init__(scope, id_)
        events = validate_events(events)
        self.handler = PowertoolsFunction(
            self,
            "Handler",
            code=code,
            layer=layer,
            handler=HANDLER,
            service="glacierable-notifications",
            description=f"Merges glacierable's event delivery into s3://{bucket.bucket_name}'s notifications",
            timeout=Duration.minutes(2),
        )
        # Read, merge and write back the whole document, after checking the bucket's Region: this bucket only.
        self.handler.add_to_role_policy(
            iam.PolicyStatement(actions=list(HANDLER_ACTIONS), resources=[bucket.bucket_arn])
        )
        self.provider = provider_for(self, self.handler)
        properties = {"BucketName": bucket.bucket_name, "Prefix": prefix, "Events": events}
        self.permission: lambda_.CfnPermission | None = None
        if events == EVENTS_DIRECT:
            properties["FunctionArn"] = function.function_arn
            # S3 checks that it may invoke the destination when the configuration is written.
            self.permission = lambda_.CfnPermission(
                self,
                "InvokeTagger",
                action="lambda:InvokeFunction",
                function_name=function.function_arn,
                principal="s3.amazonaws.com",
                source_arn=bucket.bucket_arn,
                source_account=Stack.of(self).account,
            )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties=properties,
            service_timeout=SERVICE_TIMEOUT,
        )
        if self.permission is not None:
            self.resource.node.add_dependency(self.permission)
        for writer in after:
            self.resource.node.add_dependency(writer)
