"""Waiting out S3's 409 OperationAborted: back-off, the give-up error, and nothing else retried."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from glacierable.bucket_config import (
    CONFLICT_ATTEMPTS,
    ConfigurationConflictError,
    conflict_delays,
    retry_conflicts,
)
from glacierable.lifecycle import our_rules
from glacierable.lifecycle_store import LifecycleConfig, write_config

ABORTED = "A conflicting conditional operation is currently in progress against this resource."


def aborted(operation: str = "PutBucketLifecycleConfiguration") -> ClientError:
    response: Any = {
        "Error": {"Code": "OperationAborted", "Message": ABORTED},
        "ResponseMetadata": {"HTTPStatusCode": 409},
    }
    return ClientError(response, operation)


class Flaky:
    """A write that fails with `error` `failures` times, then succeeds."""

    def __init__(self, failures: int, error: ClientError | None = None) -> None:
        self.failures, self.error, self.calls = failures, error or aborted(), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "written"


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s before a retry that must not happen")


def test_delays_double_up_to_the_cap() -> None:
    assert conflict_delays(6) == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert conflict_delays(8) == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]
    assert conflict_delays(1) == []


def test_retries_after_operation_aborted_with_back_off() -> None:
    slept: list[float] = []
    write = Flaky(3)
    assert retry_conflicts(write, what="x", sleep=slept.append) == "written"
    assert write.calls == 4
    assert slept == [1.0, 2.0, 4.0]


def test_gives_up_after_the_last_attempt_naming_the_write() -> None:
    slept: list[float] = []
    write = Flaky(CONFLICT_ATTEMPTS)
    with pytest.raises(ConfigurationConflictError, match=r"PutX on s3://b: .*409 OperationAborted.* 6 times"):
        retry_conflicts(write, what="PutX on s3://b", sleep=slept.append)
    assert write.calls == CONFLICT_ATTEMPTS
    assert slept == conflict_delays(CONFLICT_ATTEMPTS)


def test_other_errors_are_not_retried() -> None:
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutBucketLifecycleConfiguration"
    )
    write = Flaky(1, denied)
    with pytest.raises(ClientError, match="AccessDenied"):
        retry_conflicts(write, what="x", sleep=never_sleep)
    assert write.calls == 1


def test_lifecycle_write_config_retries_through_a_real_client() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    rules: Any = our_rules()
    expected = {"Bucket": "b", "LifecycleConfiguration": {"Rules": rules}}
    slept: list[float] = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "put_bucket_lifecycle_configuration",
                service_error_code="OperationAborted",
                service_message=ABORTED,
                http_status_code=409,
                expected_params=expected,
            )
        stub.add_response("put_bucket_lifecycle_configuration", {}, expected)
        write_config(client, "b", LifecycleConfig(rules), sleep=slept.append)
        stub.assert_no_pending_responses()
    assert slept == [1.0, 2.0]
