"""The lifecycle rules that move tagged volumes to the archive class, for new and existing buckets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, CustomResource, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from glacierable.lifecycle import our_rules
from infra.grants import acknowledge_provider_framework
from infra.powertools import PowertoolsFunction

RESOURCE_TYPE = "Custom::GlacierableLifecycleRule"
HANDLER = "glacierable.handlers.lifecycle_resource.handler"


def native_lifecycle_rules(*, prefix: str, storage_class: str, days: int) -> list[s3.LifecycleRule]:
    """L2 rules for a bucket this stack creates, translated from the documents the custom resource merges."""
    return [_l2_rule(rule) for rule in our_rules(prefix=prefix, storage_class=storage_class, days=days)]


def _l2_rule(rule: Mapping[str, Any]) -> s3.LifecycleRule:
    """Translate one S3 API LifecycleRule document into its CDK L2 equivalent."""
    filter_ = rule.get("Filter", {})
    conjunction = filter_.get("And", {})
    prefix = filter_.get("Prefix", conjunction.get("Prefix")) or None
    tags = [filter_["Tag"]] if "Tag" in filter_ else conjunction.get("Tags", [])
    abort = rule.get("AbortIncompleteMultipartUpload")
    return s3.LifecycleRule(
        id=rule["ID"],
        enabled=rule.get("Status", "Enabled") == "Enabled",
        prefix=prefix,
        tag_filters={tag["Key"]: tag["Value"] for tag in tags} or None,
        transitions=[
            s3.Transition(
                storage_class=s3.StorageClass(t["StorageClass"]), transition_after=Duration.days(t["Days"])
            )
            for t in rule.get("Transitions", [])
        ]
        or None,
        noncurrent_version_transitions=[
            s3.NoncurrentVersionTransition(
                storage_class=s3.StorageClass(t["StorageClass"]),
                transition_after=Duration.days(t["NoncurrentDays"]),
            )
            for t in rule.get("NoncurrentVersionTransitions", [])
        ]
        or None,
        abort_incomplete_multipart_upload_after=Duration.days(abort["DaysAfterInitiation"])
        if abort
        else None,
    )


class ExistingBucketArchiveRule(Construct):
    """Adds (and on delete removes) only glacierable's rules in an existing bucket's lifecycle rules."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        storage_class: str,
        days: int,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, id_)
        self.handler = PowertoolsFunction(
            self,
            "Handler",
            code=code,
            layer=layer,
            handler=HANDLER,
            service="glacierable-lifecycle",
            description=f"Merges glacierable's lifecycle rule into s3://{bucket.bucket_name}",
            timeout=Duration.minutes(2),
        )
        # The handler reads, merges and writes back the whole configuration: nothing else, this bucket only.
        self.handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"],
                resources=[bucket.bucket_arn],
            )
        )
        self.provider = cr.Provider(self, "Provider", on_event_handler=self.handler)
        acknowledge_provider_framework(self.provider)
        cfn_handler = self.handler.node.default_child
        if not isinstance(cfn_handler, lambda_.CfnFunction):
            raise TypeError(f"expected the handler's CfnFunction, got {cfn_handler!r}")
        handler_id = Stack.of(self).get_logical_id(cfn_handler)
        Validations.of(self.provider).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
                reason="CDK's Provider framework may invoke any version of this handler, and nothing else.",
            )
        )
        self.resource = CustomResource(
            self,
            "Rule",
            service_token=self.provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={
                "BucketName": bucket.bucket_name,
                "Prefix": prefix,
                "StorageClass": storage_class,
                "TransitionDays": days,
            },
        )
