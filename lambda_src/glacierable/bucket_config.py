"""What every writer of a bucket's configuration shares: where the bucket is, and waiting out a conflict.

S3 answers a configuration write that meets another one in progress on the same bucket (lifecycle,
notifications, tags, policy…) with 409 `OperationAborted`, "A conflicting conditional operation is
currently in progress against this resource". botocore's standard retry mode does not retry it, so each
writer wraps its write in `retry_conflicts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ClientError

from glacierable.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

OPERATION_ABORTED = "OperationAborted"
CONFLICT_ATTEMPTS = 6
"""Attempts in all, the first included: with the delays below, about 31 s of waiting at most."""
CONFLICT_FIRST_DELAY = 1.0  # seconds before the second attempt, doubled before each one after it
CONFLICT_MAX_DELAY = 16.0

US_EAST_1 = "us-east-1"
_LEGACY_LOCATIONS = {"": US_EAST_1, "EU": "eu-west-1"}
"""GetBucketLocation's answers that are no Region name: none for us-east-1, `EU` for old eu-west-1 buckets."""


class ConfigurationConflictError(RuntimeError):
    """Every attempt at a configuration write met another write in progress (409 OperationAborted)."""


class BucketRegionError(RuntimeError):
    """The bucket is in another Region than the one this code runs in; nothing was written."""

    def __init__(self, bucket: str, bucket_region: str, deployed_region: str) -> None:
        self.bucket, self.bucket_region, self.deployed_region = bucket, bucket_region, deployed_region
        super().__init__(
            f"s3://{bucket} is in {bucket_region}, but this stack is being deployed to {deployed_region}; "
            "S3 delivers a bucket's events only within its own Region, so nothing was changed. Deploy the "
            f"stack in {bucket_region} (CDK bootstrapped there): "
            f"AWS_REGION={bucket_region} npx aws-cdk deploy -c bucket={bucket} (and your other -c settings)"
        )


def conflict_delays(
    attempts: int = CONFLICT_ATTEMPTS,
    first: float = CONFLICT_FIRST_DELAY,
    longest: float = CONFLICT_MAX_DELAY,
) -> list[float]:
    """The pauses between `attempts` attempts: doubling from `first`, none longer than `longest`."""
    return [min(longest, first * 2**n) for n in range(max(0, attempts - 1))]


def retry_conflicts(
    write: Callable[[], T],
    *,
    what: str,
    attempts: int = CONFLICT_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """`write()`, tried again after each 409 OperationAborted with back-off; other errors pass at once.

    `what` names the write in the error after the last attempt ("PutBucketLifecycleConfiguration on
    s3://b"). `sleep` (time.sleep by default) lets tests wait without waiting.
    """
    pause = sleep if sleep is not None else time.sleep
    delays = conflict_delays(attempts)
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except ClientError as exc:
            if error_code(exc) != OPERATION_ABORTED:
                raise
            if attempt == attempts:
                raise ConfigurationConflictError(
                    f"{what}: S3 answered 409 OperationAborted (another change to the bucket's "
                    f"configuration was in progress) {attempts} times over {sum(delays):g} s; nothing of "
                    "ours was written. Retry once the other change has finished"
                ) from exc
            pause(delays[attempt - 1])
    raise AssertionError("unreachable: the last attempt returns or raises")


def region_of_location(location: str | None) -> str:
    """The Region a GetBucketLocation LocationConstraint names."""
    return _LEGACY_LOCATIONS.get(location or "", location or US_EAST_1)


def bucket_region(client: S3Client, bucket: str) -> str:
    """The bucket's Region, from GetBucketLocation (s3:GetBucketLocation)."""
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return region_of_location(location)


def check_bucket_region(client: S3Client, bucket: str, deployed_region: str | None) -> str:
    """The bucket's Region; BucketRegionError if it is not `deployed_region` (None: no check)."""
    region = bucket_region(client, bucket)
    if deployed_region and region != deployed_region:
        raise BucketRegionError(bucket, region, deployed_region)
    return region
