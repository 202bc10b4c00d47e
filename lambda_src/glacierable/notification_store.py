"""Read and write a bucket's notification configuration, changing only what a deployment of ours owns.

Like lifecycle rules, the document has no conditional write: every change is a read-merge-write, and a
configuration another writer puts between our GET and our PUT would be lost. A 409 OperationAborted says
exactly that another write is in flight, so the whole cycle is retried (glacierable.bucket_config): the
merge is made again from what the other write left, never sent stale. The PUT is skipped when the merge
changes nothing, which keeps redeploys out of that window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from glacierable.bucket_config import retry_conflicts
from glacierable.notifications import (
    CONFIGURATION_KINDS,
    EVENTBRIDGE,
    Deployment,
    Desired,
    Document,
    normalized,
    plan_apply,
    plan_remove,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import NotificationConfigurationTypeDef

DOCUMENT_KEYS = (*CONFIGURATION_KINDS, EVENTBRIDGE)


def read_document(client: S3Client, bucket: str) -> Document:
    """The bucket's notification configuration (s3:GetBucketNotification); {} when it has none."""
    response: Mapping[str, Any] = client.get_bucket_notification_configuration(Bucket=bucket)
    return normalized({key: response[key] for key in DOCUMENT_KEYS if key in response})


def write_document(client: S3Client, bucket: str, document: Mapping[str, Any]) -> None:
    """Replace the bucket's notification configuration (s3:PutBucketNotification); {} removes it all."""
    configuration = cast("NotificationConfigurationTypeDef", dict(document))
    client.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)


def apply_notifications(
    client: S3Client,
    desired: Desired,
    previous: Deployment | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
) -> Deployment:
    """Make the bucket deliver events as `desired` asks, undoing `previous`; returns the new deployment.

    Raises glacierable.notifications.OverlapError before any write when direct delivery would overlap one
    of the owner's configurations.
    """

    def cycle() -> Deployment:
        before = read_document(client, desired.bucket)
        plan = plan_apply(before, desired, previous)
        if plan.document != before:
            write_document(client, desired.bucket, plan.document)
        return plan.deployment

    return retry_conflicts(cycle, what=_what(desired.bucket), sleep=sleep)


def remove_notifications(
    client: S3Client, deployment: Deployment, *, sleep: Callable[[float], None] | None = None
) -> bool:
    """Remove what `deployment` owns from its bucket's configuration; True if anything was there."""

    def cycle() -> bool:
        before = read_document(client, deployment.bucket)
        after = plan_remove(before, deployment)
        if after == before:
            return False
        write_document(client, deployment.bucket, after)
        return True

    return retry_conflicts(cycle, what=_what(deployment.bucket), sleep=sleep)


def _what(bucket: str) -> str:
    return f"PutBucketNotificationConfiguration on s3://{bucket}"
