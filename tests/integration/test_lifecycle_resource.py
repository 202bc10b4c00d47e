"""The existing-bucket lifecycle custom resource, driven by hand-built Provider framework events."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from glacierable.handlers import lifecycle_resource
from glacierable.lifecycle import ARCHIVE_RULE_ID, LifecycleError, our_rules
from glacierable.lifecycle_store import read_rules

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:Glacierable-ProviderframeworkonEvent"
OWNER_RULE: Any = {
    "ID": "owner-expire-tmp",
    "Filter": {"Prefix": "tmp/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def properties(bucket: str, **overrides: str) -> dict[str, str]:
    # CloudFormation turns every property value into a string.
    return {
        "ServiceToken": SERVICE_TOKEN,
        "BucketName": bucket,
        "Prefix": "",
        "StorageClass": "GLACIER",
        "TransitionDays": "1",
        **overrides,
    }


def event(request_type: str, props: dict[str, str], **extra: Any) -> dict[str, Any]:
    """An event as the Provider framework passes it to on_event."""
    return {
        "RequestType": request_type,
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/glacierable-b/1",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "ArchiveRuleLifecycleRules1A2B3C4D",
        "ResourceType": "Custom::GlacierableLifecycleRules",
        "ResourceProperties": props,
        **extra,
    }


def context() -> Any:
    return SimpleNamespace(
        function_name="glacierable-lifecycle",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:glacierable-lifecycle",
        aws_request_id=str(uuid.uuid4()),
    )


def put_owner_rule(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [OWNER_RULE]})


def test_create_adds_our_rules_after_the_owners_and_names_the_resource(s3: S3Client, bucket: str) -> None:
    put_owner_rule(s3, bucket)
    result = lifecycle_resource.handler(event("Create", properties(bucket, Prefix="backups/")), context())
    assert result["PhysicalResourceId"] == f"{bucket}/{ARCHIVE_RULE_ID}"
    assert read_rules(s3, bucket) == [OWNER_RULE, *our_rules(prefix="backups/")]


def test_create_reads_the_prefix_as_duplicity_reads_its_url(s3: S3Client, bucket: str) -> None:
    lifecycle_resource.handler(event("Create", properties(bucket, Prefix="/backups//host1/")), context())
    assert read_rules(s3, bucket) == our_rules(prefix="backups/host1/")


def test_create_parses_string_properties(s3: S3Client, bucket: str) -> None:
    props = properties(bucket, StorageClass="DEEP_ARCHIVE", TransitionDays="14")
    lifecycle_resource.handler(event("Create", props), context())
    assert read_rules(s3, bucket) == our_rules(storage_class="DEEP_ARCHIVE", days=14)


def test_create_without_optional_properties_uses_defaults(s3: S3Client, bucket: str) -> None:
    props = {"ServiceToken": SERVICE_TOKEN, "BucketName": bucket}
    lifecycle_resource.handler(event("Create", props), context())
    assert read_rules(s3, bucket) == our_rules()


def test_update_replaces_our_rules_in_place_and_keeps_the_physical_id(s3: S3Client, bucket: str) -> None:
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    rules: Any = read_rules(s3, bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*rules, OWNER_RULE]}
    )
    update = event(
        "Update",
        properties(bucket, StorageClass="GLACIER_IR", TransitionDays="30"),
        PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}",
        OldResourceProperties=properties(bucket),
    )
    result = lifecycle_resource.handler(update, context())
    assert result["PhysicalResourceId"] == f"{bucket}/{ARCHIVE_RULE_ID}"
    assert read_rules(s3, bucket) == [*our_rules(storage_class="GLACIER_IR", days=30), OWNER_RULE]


def test_update_to_another_bucket_returns_a_new_physical_id(s3: S3Client, bucket: str) -> None:
    other = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=other)
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    update = event(
        "Update",
        properties(other),
        PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}",
        OldResourceProperties=properties(bucket),
    )
    result = lifecycle_resource.handler(update, context())
    assert result["PhysicalResourceId"] == f"{other}/{ARCHIVE_RULE_ID}"
    assert read_rules(s3, other) == our_rules()


def test_delete_after_a_bucket_change_removes_rules_from_the_old_bucket(s3: S3Client, bucket: str) -> None:
    other = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=other)
    put_owner_rule(s3, bucket)
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    lifecycle_resource.handler(event("Create", properties(other)), context())
    # CloudFormation's clean-up Delete of the replaced resource: its old physical ID names the old bucket.
    cleanup = event("Delete", properties(bucket), PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}")
    lifecycle_resource.handler(cleanup, context())
    assert read_rules(s3, bucket) == [OWNER_RULE]
    assert read_rules(s3, other) == our_rules()


def test_delete_removes_only_our_rules(s3: S3Client, bucket: str) -> None:
    put_owner_rule(s3, bucket)
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    delete = event("Delete", properties(bucket), PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}")
    result = lifecycle_resource.handler(delete, context())
    assert result["PhysicalResourceId"] == f"{bucket}/{ARCHIVE_RULE_ID}"
    assert read_rules(s3, bucket) == [OWNER_RULE]


def test_delete_when_only_ours_leaves_no_configuration(s3: S3Client, bucket: str) -> None:
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    delete = event("Delete", properties(bucket), PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}")
    lifecycle_resource.handler(delete, context())
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_delete_succeeds_when_the_bucket_is_gone(s3: S3Client) -> None:
    gone = f"test-gone-{uuid.uuid4().hex[:8]}"
    delete = event("Delete", properties(gone), PhysicalResourceId=f"{gone}/{ARCHIVE_RULE_ID}")
    result = lifecycle_resource.handler(delete, context())
    assert result == {"PhysicalResourceId": f"{gone}/{ARCHIVE_RULE_ID}"}


def test_delete_after_a_failed_create_touches_nothing(s3: S3Client, bucket: str) -> None:
    put_owner_rule(s3, bucket)
    failed_id = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
    delete = event("Delete", properties(""), PhysicalResourceId=failed_id)
    assert lifecycle_resource.handler(delete, context()) == {"PhysicalResourceId": failed_id}
    assert read_rules(s3, bucket) == [OWNER_RULE]


def test_delete_is_idempotent(s3: S3Client, bucket: str) -> None:
    put_owner_rule(s3, bucket)
    lifecycle_resource.handler(event("Create", properties(bucket)), context())
    delete = event("Delete", properties(bucket), PhysicalResourceId=f"{bucket}/{ARCHIVE_RULE_ID}")
    lifecycle_resource.handler(delete, context())
    lifecycle_resource.handler(delete, context())
    assert read_rules(s3, bucket) == [OWNER_RULE]


def test_create_on_a_missing_bucket_fails_with_no_such_bucket(s3: S3Client) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        lifecycle_resource.handler(event("Create", properties("glacierable-no-such-bucket")), context())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"StorageClass": "STANDARD_IA"}, r"StorageClass must be one of GLACIER, DEEP_ARCHIVE, GLACIER_IR"),
        ({"TransitionDays": "1.5"}, r"TransitionDays must be a whole number"),
        ({"TransitionDays": "0"}, r"TransitionDays must be a whole number from 1 to 3650"),
        ({"TransitionDays": ""}, r"TransitionDays must be a whole number"),
        ({"Prefix": "a" * 1025}, r"Prefix must be at most 1024 bytes"),
        ({"BucketName": ""}, r"BucketName must be a bucket name"),
    ],
)
def test_bad_properties_fail_with_a_message_naming_the_property(
    s3: S3Client, bucket: str, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(LifecycleError, match=message):
        lifecycle_resource.handler(event("Create", properties(bucket, **overrides)), context())
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_unknown_request_type_is_rejected(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ValueError, match="unknown RequestType 'Replace'"):
        lifecycle_resource.handler(event("Replace", properties(bucket)), context())


@pytest.mark.parametrize(
    ("physical_id", "bucket"),
    [
        (f"my-backups/{ARCHIVE_RULE_ID}", "my-backups"),
        (f"/{ARCHIVE_RULE_ID}", None),
        (f"a/b/{ARCHIVE_RULE_ID}", None),
        ("AWSCDK::CustomResourceProviderFramework::CREATE_FAILED", None),
    ],
)
def test_bucket_from_physical_id(physical_id: str, bucket: str | None) -> None:
    assert lifecycle_resource.bucket_from_physical_id(physical_id) == bucket
