"""S3 object grants under the configured prefix, with the one cdk-nag finding they always raise accepted."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3


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
    """Allow `actions` on `BUCKET/PREFIX*` only, accepting cdk-nag's IAM5 for that wildcard with `reason`."""
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")])
    )
    Validations.of(function).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_nag_bucket_arn(bucket)}/{prefix}*]",
            reason=reason,
        )
    )


TAGGING_ACTIONS = [
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging",
]
"""Everything either function does to an object; neither ever reads object data."""
TAGGING_REASON = "Object tagging under the configured prefix: duplicity's keys are not known in advance."
