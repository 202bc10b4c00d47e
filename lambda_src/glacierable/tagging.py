"""S3 I/O: give one object (or one version of it) its glacierable tag, merged into its other tags."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from glacierable.aws_errors import error_code, http_status
from glacierable.classify import classify
from glacierable.tags import TooManyTagsError, merge_glacierable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import TagTypeDef


class Action(StrEnum):
    """What tag_object did to the object."""

    TAGGED = "tagged"
    KEPT = "kept"  # already had a glacierable tag: no PUT
    GONE = "gone"  # NoSuchKey / NoSuchVersion: deleted since the event or listing
    TOO_MANY_TAGS = "too_many_tags"  # 10 tags and no glacierable one: nothing written


@dataclass(frozen=True, slots=True)
class TagResult:
    """The outcome for one object; `glacierable` is the classification, not necessarily the stored tag."""

    key: str
    version_id: str | None
    glacierable: bool
    action: Action


# Deliberately not InvalidObjectState: AWS serves GetObjectTagging on archived objects, so that error
# means something we do not understand (or moto's quirk on unrestored archived objects); it propagates
# and gets reported as a failure rather than silently counted as KEPT or GONE.
_GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def is_gone(error: ClientError) -> bool:
    """True when the error says the object or version no longer exists (but not that the bucket is gone)."""
    code = error_code(error, default="")
    if code in _GONE_CODES:
        return True
    # A missing bucket is a configuration error, never a quietly skipped object.
    return http_status(error) == 404 and code != "NoSuchBucket"


def tag_object(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
    archive_unknown: bool = False,
    fallback_key: str | None = None,
) -> TagResult:
    """One GetObjectTagging, then PutObjectTagging only if the glacierable tag is missing.

    When `key` (or its version) is gone and `fallback_key` differs from it, the same is tried on
    `fallback_key` before the object is called gone: an event whose key encoding is uncertain names one
    of the two. The result names the key that was acted on.
    """
    result = _tag_one(client, bucket, key, version_id, archive_unknown)
    if result.action is Action.GONE and fallback_key is not None and fallback_key != key:
        fallback = _tag_one(client, bucket, fallback_key, version_id, archive_unknown)
        if fallback.action is not Action.GONE:
            return fallback
    return result


def _tag_one(
    client: S3Client, bucket: str, key: str, version_id: str | None, archive_unknown: bool
) -> TagResult:
    glacierable = classify(key, archive_unknown=archive_unknown).glacierable
    target: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        target["VersionId"] = version_id
    try:
        tag_set = client.get_object_tagging(**target)["TagSet"]
        try:
            merged = merge_glacierable(cast("list[dict[str, str]]", tag_set), glacierable)
        except TooManyTagsError:
            return TagResult(key, version_id, glacierable, Action.TOO_MANY_TAGS)
        if merged is None:
            return TagResult(key, version_id, glacierable, Action.KEPT)
        # Not atomic with the GET (S3 has no conditional tagging); a tag written in between is lost,
        # which only matters if an operator retags within milliseconds of the upload.
        client.put_object_tagging(**target, Tagging={"TagSet": cast("list[TagTypeDef]", merged)})
    except ClientError as error:
        if is_gone(error):
            return TagResult(key, version_id, glacierable, Action.GONE)
        raise
    return TagResult(key, version_id, glacierable, Action.TAGGED)
