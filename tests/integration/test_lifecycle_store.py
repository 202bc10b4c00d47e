"""Applying and removing our lifecycle rules on a bucket in a moto server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from glacierable.clients import s3_client
from glacierable.lifecycle import our_rules
from glacierable.lifecycle_store import (
    LifecycleConfig,
    apply_rules,
    read_config,
    read_rules,
    remove_our_rules,
    write_config,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EXPIRE_LOGS: Any = {
    "ID": "owner-expire-logs",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Expiration": {"Days": 30},
}
IA_REPORTS: Any = {
    "ID": "owner-reports-to-ia",
    "Filter": {"And": {"Prefix": "reports/", "Tags": [{"Key": "team", "Value": "x"}]}},
    "Status": "Disabled",
    "Transitions": [{"Days": 60, "StorageClass": "STANDARD_IA"}],
}


def put_owner_rules(s3: S3Client, bucket: str, *rules: Any) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def rule_ids(s3: S3Client, bucket: str) -> list[str]:
    return [rule["ID"] for rule in read_rules(s3, bucket)]


def has_lifecycle_config(s3: S3Client, bucket: str) -> bool:
    try:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
        return False
    return True


def test_moto_round_trips_the_filter_shapes_we_write(s3: S3Client, bucket: str) -> None:
    written = [*our_rules(prefix="backups/"), *[{**r, "ID": r["ID"] + "-2"} for r in our_rules()]]
    write_config(s3, bucket, LifecycleConfig(written))
    assert read_rules(s3, bucket) == written


def test_read_of_a_bucket_without_configuration_is_empty(s3: S3Client, bucket: str) -> None:
    assert read_config(s3, bucket) == LifecycleConfig([], None)


def test_read_of_a_missing_bucket_raises_no_such_bucket(s3: S3Client) -> None:
    with pytest.raises(ClientError) as raised:
        read_rules(s3, "glacierable-no-such-bucket")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"


def test_apply_on_a_bucket_without_configuration_writes_ours(s3: S3Client, bucket: str) -> None:
    written = apply_rules(s3, bucket, prefix="backups/", storage_class="DEEP_ARCHIVE", days=2)
    assert written == our_rules(prefix="backups/", storage_class="DEEP_ARCHIVE", days=2)
    assert read_rules(s3, bucket) == written


def test_apply_keeps_owner_rules_before_ours(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, EXPIRE_LOGS, IA_REPORTS)
    apply_rules(s3, bucket)
    assert read_rules(s3, bucket) == [EXPIRE_LOGS, IA_REPORTS, *our_rules()]


def test_reapply_with_new_settings_replaces_ours_in_place(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, EXPIRE_LOGS)
    apply_rules(s3, bucket)
    # An owner rule added after ours must stay after ours.
    put_owner_rules(s3, bucket, *read_rules(s3, bucket), IA_REPORTS)
    apply_rules(s3, bucket, prefix="host2_", storage_class="GLACIER_IR", days=30)
    new = our_rules(prefix="host2_", storage_class="GLACIER_IR", days=30)
    assert read_rules(s3, bucket) == [EXPIRE_LOGS, *new, IA_REPORTS]


def test_reapply_with_the_same_settings_changes_nothing(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, EXPIRE_LOGS)
    first = apply_rules(s3, bucket, days=3)
    assert apply_rules(s3, bucket, days=3) == first
    assert read_rules(s3, bucket) == first


def test_remove_keeps_owner_rules_in_order(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, EXPIRE_LOGS)
    apply_rules(s3, bucket)
    put_owner_rules(s3, bucket, *read_rules(s3, bucket), IA_REPORTS)
    assert remove_our_rules(s3, bucket) is True
    assert read_rules(s3, bucket) == [EXPIRE_LOGS, IA_REPORTS]


def test_remove_when_only_ours_leaves_no_lifecycle_configuration(s3: S3Client, bucket: str) -> None:
    apply_rules(s3, bucket)
    assert remove_our_rules(s3, bucket) is True
    assert not has_lifecycle_config(s3, bucket)


def test_remove_without_ours_writes_nothing_and_says_so(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, EXPIRE_LOGS)
    assert remove_our_rules(s3, bucket) is False
    assert read_rules(s3, bucket) == [EXPIRE_LOGS]


def test_remove_on_a_bucket_without_configuration_is_a_no_op(s3: S3Client, bucket: str) -> None:
    assert remove_our_rules(s3, bucket) is False
    assert not has_lifecycle_config(s3, bucket)


def test_apply_then_remove_restores_the_owner_configuration_exactly(s3: S3Client, bucket: str) -> None:
    put_owner_rules(s3, bucket, IA_REPORTS, EXPIRE_LOGS)
    before = read_config(s3, bucket)
    apply_rules(s3, bucket, prefix="p/")
    apply_rules(s3, bucket, prefix="q/", days=4)
    remove_our_rules(s3, bucket)
    assert read_config(s3, bucket) == before


def test_apply_passes_back_the_owners_transition_minimum_object_size() -> None:
    # moto 5.2.5 ignores this setting (GET always says all_storage_classes_128K), so stub S3 instead.
    client = s3_client(endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_response(
            "get_bucket_lifecycle_configuration",
            {"Rules": [EXPIRE_LOGS], "TransitionDefaultMinimumObjectSize": "varies_by_storage_class"},
            {"Bucket": "b"},
        )
        stub.add_response(
            "put_bucket_lifecycle_configuration",
            {},
            {
                "Bucket": "b",
                "LifecycleConfiguration": {"Rules": [EXPIRE_LOGS, *our_rules()]},
                "TransitionDefaultMinimumObjectSize": "varies_by_storage_class",
            },
        )
        apply_rules(client, "b")
        stub.assert_no_pending_responses()


def test_apply_on_a_missing_bucket_raises_no_such_bucket(s3: S3Client) -> None:
    with pytest.raises(ClientError) as raised:
        apply_rules(s3, "glacierable-no-such-bucket")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
