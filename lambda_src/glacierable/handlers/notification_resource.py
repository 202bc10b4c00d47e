"""Custom resource: route the bucket's Object Created events to the tagger, keeping the owner's notifications.

An `aws_cdk.custom_resources.Provider` on_event handler (as lifecycle_resource). Properties, all strings
as CloudFormation passes them: `BucketName`, `Prefix`, `Events` (`eventbridge` or `direct`) and, in direct
mode, `FunctionArn` (the tagger). The physical resource ID records what the deployment owns
(glacierable.notifications.Deployment), so Update undoes the previous one and Delete removes only ours.

Create and Update check the bucket's Region before any write: S3 rejects notification destinations in
another Region, and EventBridge delivers a bucket's events only to its own Region's bus. Delete does not
check: it removes only what a successful Create or Update wrote, which a Region mismatch rules out, and a
check there could only keep a stack from being deleted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from glacierable.bucket_config import check_bucket_region
from glacierable.clients import s3_client
from glacierable.handlers.custom_resource import dispatch, remove_from
from glacierable.handlers.lazy import LazyClient
from glacierable.notification_store import apply_notifications, remove_notifications
from glacierable.notifications import (
    EVENTS_DIRECT,
    EVENTS_EVENTBRIDGE,
    Desired,
    NotificationError,
    parse_physical_id,
    validate_events,
    validate_prefix,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

logger = Logger()
s3 = LazyClient(s3_client)


def parse_properties(properties: Mapping[str, Any]) -> Desired:
    """Validate ResourceProperties (`BucketName`, `Prefix`, `Events`, `FunctionArn`)."""
    bucket = properties.get("BucketName")
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        raise NotificationError(f"BucketName must be a bucket name; got {bucket!r}")
    mode = validate_events(properties.get("Events", EVENTS_EVENTBRIDGE), setting="Events")
    function_arn = properties.get("FunctionArn") or None
    if mode == EVENTS_DIRECT and not (isinstance(function_arn, str) and function_arn.startswith("arn:")):
        raise NotificationError(f"FunctionArn must be the tagger's ARN in direct mode; got {function_arn!r}")
    return Desired(
        bucket=bucket,
        prefix=validate_prefix(properties.get("Prefix", ""), setting="Prefix"),
        mode=mode,
        function_arn=function_arn if mode == EVENTS_DIRECT else None,
    )


def _apply(
    client: S3Client,
    event: Mapping[str, Any],
    region: str | None,
    sleep: Callable[[float], None] | None,
) -> dict[str, Any]:
    desired = parse_properties(event.get("ResourceProperties") or {})
    check_bucket_region(client, desired.bucket, region)
    # On Update, the old physical ID says what the running deployment owns (None on Create).
    updating = event.get("RequestType") == "Update"
    previous = parse_physical_id(event.get("PhysicalResourceId")) if updating else None
    deployment = apply_notifications(client, desired, previous, sleep=sleep)
    logger.info(
        "notifications applied",
        bucket=desired.bucket,
        prefix=desired.prefix,
        events=desired.mode,
        notification_id=deployment.notification_id,
        added_eventbridge=deployment.added_eventbridge,
    )
    return {
        "PhysicalResourceId": deployment.physical_id,
        "Data": {
            "Events": deployment.mode,
            "NotificationId": deployment.notification_id or "",
            "EventBridgeAddedByStack": "true" if deployment.added_eventbridge else "false",
        },
    }


def _delete(
    client: S3Client, event: Mapping[str, Any], sleep: Callable[[float], None] | None
) -> dict[str, Any]:
    old_id = str(event.get("PhysicalResourceId", ""))
    deployment = parse_physical_id(old_id)
    if deployment is None:
        # Only a failed Create leaves a physical ID that is not ours; it wrote nothing.
        logger.warning("delete of a deployment that wrote nothing", physical_resource_id=old_id)
        return {"PhysicalResourceId": old_id}
    return remove_from(
        logger,
        deployment.bucket,
        old_id,
        lambda: remove_notifications(client, deployment, sleep=sleep),
        what="notifications",
        events=deployment.mode,
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
    return dispatch(
        event,
        logger,
        kind="notification",
        apply=lambda: _apply(client, event, region, sleep),
        delete=lambda: _delete(client, event, sleep),
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the Provider framework's on_event."""
    # Lambda sets AWS_REGION to the Region the function (and so the stack) runs in.
    return on_event(event, s3(), region=os.environ.get("AWS_REGION"))
