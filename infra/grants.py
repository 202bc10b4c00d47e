"""S3 object grants under the configured prefix, and the cdk-nag findings we accept, each where it arises."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import IConstruct


def _nag_bucket_arn(bucket: s3.IBucket) -> str:
    """The bucket's ARN as cdk-nag renders it in finding IDs."""
    if isinstance(bucket, s3.Bucket):
        cfn_bucket = bucket.node.default_child
        if not isinstance(cfn_bucket, s3.CfnBucket):
            raise TypeError(f"expected the bucket's CfnBucket, got {cfn_bucket!r}")
        return f"<{Stack.of(bucket).get_logical_id(cfn_bucket)}.Arn>"
    return f"arn:<AWS::Partition>:s3:::{bucket.bucket_name}"


def grant_objects_under_prefix(
    function: lambda_.Function, bucket: s3.IBucket, prefix: str, *, actions: Sequence[str], reason: str
) -> None:
    """Allow `actions` on `BUCKET/PREFIX*` only, accepting cdk-nag's IAM5 for that wildcard with `reason`.

    The acknowledgement names the actions granted, so that it always says what the wildcard allows.
    """
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")])
    )
    # The finding arises on the role's policy; PowertoolsFunction's role is the function's sibling.
    Validations.of(function.role or function).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_nag_bucket_arn(bucket)}/{prefix}*]",
            reason=f"{', '.join(actions)} on objects under the configured prefix only. {reason}",
        )
    )


TAGGING_ACTIONS = [
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging",
]
"""Everything either function does to an object; neither ever reads object data."""
TAGGING_REASON = "Tags objects and never reads their data: duplicity's keys are not known in advance."


BASIC_EXECUTION_ROLE_FINDING = (
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
    "service-role/AWSLambdaBasicExecutionRole]"
)
BASIC_EXECUTION_ROLE_GRANTS = (
    "AWSLambdaBasicExecutionRole: logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents on every "
    "log group (Resource *), and nothing else"
)


def acknowledge_basic_execution_role(construct: IConstruct, *, function: str, other_grants: str) -> None:
    """Accept AWSLambdaBasicExecutionRole on one of CDK's own functions (under `construct`) and nowhere else.

    Our functions write only to their own log groups (infra.powertools.PowertoolsFunction); CDK creates its
    framework functions with that managed policy, and they run only while CloudFormation deploys.
    """
    Validations.of(construct).acknowledge(
        Acknowledgment(
            id=BASIC_EXECUTION_ROLE_FINDING,
            reason=f"{function} (CDK's code, not ours, run only during deploys) has "
            f"{BASIC_EXECUTION_ROLE_GRANTS}; {other_grants}.",
        )
    )


def acknowledge_provider_framework(provider: cr.Provider) -> None:
    """Accept AWSLambdaBasicExecutionRole on a custom-resource Provider's framework function only."""
    acknowledge_basic_execution_role(
        provider,
        function="CDK's custom-resource Provider framework function",
        other_grants="its only other grants are lambda:InvokeFunction and lambda:GetFunction on the "
        "provider's own handler",
    )
