"""What our custom resources (lifecycle_resource, notification_resource) share as Provider on_event handlers:
CloudFormation's three request types, and a Delete that finds the bucket already gone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from glacierable.aws_errors import error_code

Answer = dict[str, Any]


def dispatch(
    event: Mapping[str, Any],
    logger: Logger,
    *,
    kind: str,
    apply: Callable[[], Answer],
    delete: Callable[[], Answer],
) -> Answer:
    """Log the request, then `apply` a Create or Update, or `delete`; any other RequestType is an error."""
    request_type = event.get("RequestType")
    logger.info(
        f"{kind} custom resource request",
        request_type=request_type,
        physical_resource_id=event.get("PhysicalResourceId"),
        properties=event.get("ResourceProperties"),
    )
    if request_type in ("Create", "Update"):
        return apply()
    if request_type == "Delete":
        return delete()
    raise ValueError(f"unknown RequestType {request_type!r}; expected Create, Update or Delete")


def remove_from(
    logger: Logger, bucket: str, physical_id: str, remove: Callable[[], bool], *, what: str, **extra: Any
) -> Answer:
    """Run `remove` (True when it changed something); a bucket deleted before the stack needs nothing."""
    try:
        removed = remove()
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucket":
            raise
        logger.info("bucket is gone: nothing to remove", bucket=bucket)
        return {"PhysicalResourceId": physical_id}
    logger.info(f"{what} removed", bucket=bucket, removed=removed, **extra)
    return {"PhysicalResourceId": physical_id}
