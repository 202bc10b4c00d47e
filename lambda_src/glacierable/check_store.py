"""Gather what `check` reads from S3, then check: one listing, the lifecycle rules, and tags where needed.

Requests: ListObjectsV2 under the prefix (s3:ListBucket), GetBucketLifecycleConfiguration
(s3:GetLifecycleConfiguration), GetBucketNotificationConfiguration (s3:GetBucketNotification, skipped
when not allowed), and GetObjectTagging (s3:GetObjectTagging) for the duplicity files still in
STANDARD only (`check.needs_tag`): in a healthy bucket those are the manifests, the signatures and the
volumes of the last day, never the archived volumes. Only current versions are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from glacierable import TAG_KEY
from glacierable.aws_errors import describe_error
from glacierable.check import CheckedObject, CheckReport, check_backups, needs_tag
from glacierable.fanout import bounded_map
from glacierable.lifecycle_store import read_rules
from glacierable.listing import ListedObject, ListingError
from glacierable.names import DuplicityPrefixes
from glacierable.notification_store import read_document
from glacierable.notifications import notification_id, overlapping_configurations
from glacierable.tagging import is_gone
from glacierable.text import first_and_more

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 512
MAX_ERRORS_SHOWN = 5
_PAGE_SIZE = 1000  # ListObjectsV2's maximum

OverlapFinder = Callable[["S3Client", str, str], Sequence[str]]
"""(client, bucket, prefix) -> a description of each existing ObjectCreated notification that a `direct`
deployment's would overlap; [] when there is none or the configuration cannot be read."""


class CheckError(RuntimeError):
    """The bucket could not be listed, its lifecycle rules or some tags could not be read."""


def notification_overlaps(client: S3Client, bucket: str, prefix: str) -> list[str]:
    """The bucket's ObjectCreated notifications that an `events=direct` deployment on `prefix` would overlap.

    Needs s3:GetBucketNotification; without it (or on any read error) there is nothing to report: the
    check is advice before a deploy, and the deploy itself refuses an overlap before writing.
    """
    try:
        document = read_document(client, bucket)
    except (ClientError, BotoCoreError):
        return []
    # A direct deployment of ours on this prefix is not an overlap: the deploy replaces it in place.
    ours = {notification_id(bucket, prefix)}
    return [o.describe() for o in overlapping_configurations(document, prefix=prefix, ignore_ids=ours)]


def check_bucket(
    client: S3Client,
    bucket: str,
    prefix: str,
    *,
    now: int,
    prefixes: DuplicityPrefixes | None = None,
    days: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    endpoint_url: str | None = None,
    find_overlaps: OverlapFinder | None = notification_overlaps,
) -> CheckReport:
    """Check every backup under `prefix` (a key prefix, used as given) at `now` (epoch s).

    `endpoint_url` goes into the printed commands (None: the default endpoint); `find_overlaps` supplies
    notification-overlap problems (None: not looked for, as the deployed reconciler does).
    """
    listed = list_objects(client, bucket, prefix)
    try:
        rules = read_rules(client, bucket)
    except (ClientError, BotoCoreError) as error:
        raise CheckError(_cannot("read the lifecycle rules of", bucket, "", error)) from error
    objects = with_tags(client, bucket, listed, concurrency=concurrency)
    overlaps = find_overlaps(client, bucket, prefix) if find_overlaps is not None else ()
    return check_backups(
        objects,
        rules,
        bucket=bucket,
        prefix=prefix,
        now=now,
        prefixes=prefixes,
        days=days,
        endpoint_url=endpoint_url,
        notification_overlaps=overlaps,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A listed object and when it was last written (epoch s)."""

    listed: ListedObject
    last_modified: int


def list_objects(client: S3Client, bucket: str, prefix: str) -> list[Written]:
    """Every object under `prefix`, in every folder below it, with its LastModified."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": _PAGE_SIZE})
    try:
        return list(_written(pages))
    except (ClientError, BotoCoreError, ListingError) as error:
        raise CheckError(_cannot("list", bucket, prefix, error)) from error


def _written(pages: Any) -> Iterator[Written]:
    for page in pages:
        for item in page.get("Contents", ()):
            yield Written(ListedObject.from_contents(item), int(item["LastModified"].timestamp()))


@dataclass(frozen=True, slots=True)
class _TagRead:
    tag: str | None = None
    gone: bool = False
    error: str | None = None


def with_tags(
    client: S3Client, bucket: str, objects: Sequence[Written], *, concurrency: int = DEFAULT_CONCURRENCY
) -> list[CheckedObject]:
    """The objects with the glacierable tag of those `needs_tag` selects, read concurrently.

    An object deleted since the listing is left out, as the next listing would; any other failure to
    read a tag raises CheckError once every read has finished.
    """
    wanted = [obj for obj in objects if needs_tag(obj.listed)]
    reads: dict[str, _TagRead] = {}
    if wanted:
        for obj, read in bounded_map(
            lambda obj: _read_tag(client, bucket, obj.listed.key),
            wanted,
            concurrency=min(concurrency, len(wanted)),
            name="check-tags",
        ):
            reads[obj.listed.key] = read
    errors = sorted(read.error for read in reads.values() if read.error is not None)
    if errors:
        shown = first_and_more(errors, MAX_ERRORS_SHOWN, separator="; ")
        raise CheckError(f"cannot read the tags of {len(errors)} object(s) in s3://{bucket}: {shown}")
    checked: list[CheckedObject] = []
    for obj in objects:
        read = reads.get(obj.listed.key, _TagRead())
        if not read.gone:
            checked.append(CheckedObject(obj.listed, obj.last_modified, read.tag))
    return checked


def _read_tag(client: S3Client, bucket: str, key: str) -> _TagRead:
    try:
        tag_set = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    except ClientError as error:
        if is_gone(error):
            return _TagRead(gone=True)
        return _TagRead(error=f"{key}: {describe_error(error)}")
    except BotoCoreError as error:
        return _TagRead(error=f"{key}: {describe_error(error)}")
    return _TagRead(tag=next((tag["Value"] for tag in tag_set if tag["Key"] == TAG_KEY), None))


def _cannot(doing: str, bucket: str, prefix: str, error: BaseException) -> str:
    return f"cannot {doing} s3://{bucket}/{prefix}: {describe_error(error)}"
