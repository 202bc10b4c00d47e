"""Custom resource for an existing bucket: add our lifecycle rules, and on delete remove only those.

An `aws_cdk.custom_resources.Provider` on_event handler: it returns the physical resource ID and the
framework reports to CloudFormation; an exception becomes a FAILED response with its message.
https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.custom_resources/README.html

Create and Update first check that the bucket is in the Region being deployed to (the stack's
notifications could not work elsewhere), before any write. Delete does not: it only ever removes our
rules, which works from any Region, and a stack must stay deletable wherever it was deployed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from glacierable.bucket_config import check_bucket_region
from glacierable.clients import s3_client
from glacierable.handlers.custom_resource import dispatch, remove_from
from glacierable.handlers.lazy import LazyClient
from glacierable.lifecycle import (
    ABORT_MPU_RULE_ID,
    ARCHIVE_RULE_ID,
    DEFAULT_DAYS,
    DEFAULT_STORAGE_CLASS,
    LifecycleError,
    validate_days,
    validate_prefix,
    validate_storage_class,
)
from glacierable.lifecycle_store import apply_rules, remove_our_rules

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

logger = Logger()
s3 = LazyClient(s3_client)

PHYSICAL_ID_SUFFIX = f"/{ARCHIVE_RULE_ID}"
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """The custom resource's properties, validated."""

    bucket: str
    prefix: str
    storage_class: str
    days: int

    @property
    def physical_id(self) -> str:
        """One physical resource per bucket: a new bucket means a new resource (and deletion of the old)."""
        return physical_id(self.bucket)


def physical_id(bucket: str) -> str:
    """The physical resource ID for our rules on `bucket`."""
    return f"{bucket}{PHYSICAL_ID_SUFFIX}"


def bucket_from_physical_id(value: str) -> str | None:
    """The bucket a physical ID of ours names, or None if it is not one of ours."""
    # Bucket names cannot contain '/', so the suffix is unambiguous.
    if value.endswith(PHYSICAL_ID_SUFFIX) and "/" not in value[: -len(PHYSICAL_ID_SUFFIX)]:
        return value[: -len(PHYSICAL_ID_SUFFIX)] or None
    return None


def _parse_days(value: object) -> int:
    # CloudFormation passes every property as a string ("1"); accept a real int too.
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise LifecycleError(f"TransitionDays must be a whole number of days; got {value!r}")
        value = int(value)
    return validate_days(value, setting="TransitionDays")


def parse_properties(properties: Mapping[str, Any]) -> RuleSettings:
    """Validate ResourceProperties (`BucketName`, `Prefix`, `StorageClass`, `TransitionDays`)."""
    bucket = properties.get("BucketName")
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        raise LifecycleError(f"BucketName must be a bucket name; got {bucket!r}")
    return RuleSettings(
        bucket=bucket,
        prefix=validate_prefix(properties.get("Prefix", ""), setting="Prefix"),
        storage_class=validate_storage_class(
            properties.get("StorageClass", DEFAULT_STORAGE_CLASS), setting="StorageClass"
        ),
        days=_parse_days(properties.get("TransitionDays", str(DEFAULT_DAYS))),
    )


def _apply(client: S3Client, settings: RuleSettings, sleep: Callable[[float], None] | None) -> dict[str, Any]:
    rules = apply_rules(
        client,
        settings.bucket,
        prefix=settings.prefix,
        storage_class=settings.storage_class,
        days=settings.days,
        sleep=sleep,
    )
    logger.info(
        "lifecycle rules applied",
        bucket=settings.bucket,
        prefix=settings.prefix,
        storage_class=settings.storage_class,
        days=settings.days,
        rule_count=len(rules),
    )
    return {
        "PhysicalResourceId": settings.physical_id,
        "Data": {"ArchiveRuleId": ARCHIVE_RULE_ID, "AbortMpuRuleId": ABORT_MPU_RULE_ID},
    }


def _delete(
    client: S3Client, event: Mapping[str, Any], sleep: Callable[[float], None] | None
) -> dict[str, Any]:
    old_id = str(event.get("PhysicalResourceId", ""))
    # After an Update that moved to another bucket, CloudFormation deletes the old resource: its
    # physical ID names the bucket the rules were written to.
    bucket = bucket_from_physical_id(old_id)
    if bucket is None:
        candidate = event.get("ResourceProperties", {}).get("BucketName")
        bucket = candidate if isinstance(candidate, str) and candidate and "/" not in candidate else None
    if bucket is None:
        # Only a failed Create leaves no bucket to name; it wrote nothing, so there is nothing to undo.
        logger.warning("delete without a bucket: nothing to remove", physical_resource_id=old_id)
        return {"PhysicalResourceId": old_id}
    return remove_from(
        logger, bucket, old_id, lambda: remove_our_rules(client, bucket, sleep=sleep), what="lifecycle rules"
    )


def on_event(
    event: Mapping[str, Any],
    client: S3Client,
    *,
    region: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Handle one Create, Update or Delete request with `client`, deployed to `region` (None: no check).

    `sleep` is the pause between attempts at a write that met another in progress (time.sleep).
    """

    def apply() -> dict[str, Any]:
        settings = parse_properties(event.get("ResourceProperties") or {})
        check_bucket_region(client, settings.bucket, region)
        return _apply(client, settings, sleep)

    return dispatch(
        event, logger, kind="lifecycle", apply=apply, delete=lambda: _delete(client, event, sleep)
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the Provider framework's on_event."""
    # Lambda sets AWS_REGION to the Region the function (and so the stack) runs in.
    return on_event(event, s3(), region=os.environ.get("AWS_REGION"))
