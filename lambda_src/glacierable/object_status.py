"""Restore state of a backup's objects (S3 I/O): list once, plan, and HEAD only where the listing is silent.

ListObjectsV2 with `OptionalObjectAttributes=["RestoreStatus"]` reports the restore state of 1,000 objects
per call with s3:ListBucket alone, and on AWS an archived object without `RestoreStatus` has never been
restored (https://docs.aws.amazon.com/AmazonS3/latest/API/API_RestoreStatus.html). Other endpoints (moto,
some S3-compatible stores) never send it. Requesting restores needs no state beyond the listing
(`plan_from_listing`): S3's answer to each request says whether it started one (202), one was in progress
(409) or a copy was already there (200). Only `status` and waiting, which must know before anything is
requested, HEAD the archived objects the plan needs where the listing is silent (`load_plan`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import describe_error, http_status
from glacierable.fanout import map_in_order
from glacierable.listing import ListedObject, ListingError, RestoreState, listed_objects
from glacierable.names import DuplicityPrefixes, Kind, parse_name
from glacierable.plan import NoChainsError, RestorePlan, plan_restore
from glacierable.text import first_and_more

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PAGE_SIZE = 1000  # ListObjectsV2's maximum
DEFAULT_CONCURRENCY = 32
MAX_ERRORS_SHOWN = 5

_AWS_ENDPOINT_RE = re.compile(r"^https://[^/]+\.amazonaws\.com(\.cn)?(:443)?/?$", re.IGNORECASE)


class State(StrEnum):
    """Where a needed object stands on its way to being readable."""

    ARCHIVED = "archived"
    """Archived, no restore requested (or the restored copy expired)."""
    RESTORING = "restoring"
    RESTORED = "restored"
    """Archived with a temporary restored copy: readable until its expiry."""
    READABLE = "readable"
    """Not archived: readable as it is."""


class StatusError(RuntimeError):
    """The bucket could not be listed, or restore states could not be read."""


def state_of(obj: ListedObject) -> State:
    """The state of one listed object."""
    if not obj.archived:
        return State.READABLE
    if obj.restore is None:
        return State.ARCHIVED
    return State.RESTORING if obj.restore.in_progress else State.RESTORED


@dataclass(frozen=True, slots=True)
class ObjectStatus:
    """One needed object's state."""

    key: str
    size: int
    storage_class: str
    state: State
    expiry: datetime | None = None

    @classmethod
    def of(cls, obj: ListedObject) -> ObjectStatus:
        """From a listed object."""
        expiry = obj.restore.expiry if obj.restore is not None else None
        return cls(obj.key, obj.size, obj.storage_class, state_of(obj), expiry)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (expiry as ISO 8601, or null)."""
        return {
            "key": self.key,
            "size": self.size,
            "storage_class": self.storage_class,
            "state": self.state.value,
            "expiry": self.expiry.isoformat() if self.expiry is not None else None,
        }


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The state of every object a restore needs."""

    objects: tuple[ObjectStatus, ...]

    @classmethod
    def of(cls, plan: RestorePlan) -> StatusReport:
        """The states of the plan's needed objects, in the plan's order."""
        return cls(tuple(ObjectStatus.of(obj) for obj in plan.needed))

    def counts(self) -> dict[str, int]:
        """Objects per state (every state present, zero or not)."""
        counts = {state.value: 0 for state in State}
        for obj in self.objects:
            counts[obj.state.value] += 1
        return counts

    @property
    def readable_count(self) -> int:
        """Objects duplicity can read now (restored or never archived)."""
        return sum(obj.state in (State.RESTORED, State.READABLE) for obj in self.objects)

    @property
    def all_readable(self) -> bool:
        """duplicity can read every needed object."""
        return self.readable_count == len(self.objects)

    @property
    def earliest_expiry(self) -> datetime | None:
        """When the first restored copy expires: the restore must run before then."""
        expiries = [obj.expiry for obj in self.objects if obj.state is State.RESTORED and obj.expiry]
        return min(expiries) if expiries else None

    def to_json(self, *, per_object: bool = False) -> dict[str, object]:
        """Counts (and with `per_object`, every object's state)."""
        expiry = self.earliest_expiry
        result: dict[str, object] = {
            "needed_count": len(self.objects),
            "readable_count": self.readable_count,
            "state_counts": self.counts(),
            "all_readable": self.all_readable,
            "earliest_expiry": expiry.isoformat() if expiry is not None else None,
        }
        if per_object:
            result["objects"] = [obj.to_json() for obj in self.objects]
        return result


@dataclass(frozen=True, slots=True)
class FolderListing:
    """One folder's objects (sub-folders are not duplicity's) and the names of its sub-folders."""

    objects: list[ListedObject]
    subfolders: list[str]


def list_folder(client: S3Client, bucket: str, folder: str) -> list[ListedObject]:
    """Every object directly in `folder` (sub-folders are not duplicity's), with restore status asked for."""
    return list_folder_and_subfolders(client, bucket, folder).objects


def list_folder_and_subfolders(client: S3Client, bucket: str, folder: str) -> FolderListing:
    """`folder`'s objects and, from the same requests (the delimiter's CommonPrefixes), its sub-folders."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket,
        Prefix=folder,
        Delimiter="/",
        OptionalObjectAttributes=["RestoreStatus"],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    subfolders: list[str] = []

    def noting_subfolders() -> Iterable[Mapping[str, Any]]:
        for page in pages:
            subfolders.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()) if "Prefix" in p)
            yield page

    try:
        return FolderListing(list(listed_objects(noting_subfolders())), subfolders)
    except (ClientError, BotoCoreError) as error:
        raise StatusError(f"cannot list s3://{bucket}/{folder}: {describe_error(error)}") from error


def listing_reports_restores(client: S3Client, objects: Iterable[ListedObject]) -> bool:
    """Whether a listing without RestoreStatus means "never restored": on AWS, or when any entry had it."""
    endpoint = client.meta.endpoint_url or ""
    return bool(_AWS_ENDPOINT_RE.match(endpoint)) or any(obj.restore is not None for obj in objects)


def with_head_states(
    client: S3Client,
    bucket: str,
    objects: Sequence[ListedObject],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, ListedObject]:
    """HEAD each archived object without a known restore state; the updated objects by key."""
    targets = [obj for obj in objects if obj.archived and obj.restore is None]
    if not targets:
        return {}
    results = map_in_order(
        lambda obj: _head(client, bucket, obj),
        targets,
        concurrency=min(concurrency, len(targets)),
        name="head",
    )
    errors = [error for _, error in results if error is not None]
    if errors:
        shown = first_and_more(errors, MAX_ERRORS_SHOWN, separator="; ")
        raise StatusError(f"cannot read the restore state of {len(errors)} object(s): {shown}")
    return {obj.key: obj for obj, _ in results if obj is not None}


@dataclass(frozen=True, slots=True)
class ListedPlan:
    """A plan from one listing, and whether that listing reported restore states."""

    plan: RestorePlan
    objects: tuple[ListedObject, ...]
    """Everything listed in the folder (the plan's input)."""
    states_known: bool
    """True: an archived object without a restore state has none. False: its state is unknown, so
    `plan.to_restore` holds every archived needed object, restored, restoring or not."""

    @property
    def unknown_states(self) -> list[ListedObject]:
        """Needed archived objects whose restore state the listing did not say (none when states_known)."""
        return [] if self.states_known else self.plan.to_restore


def plan_from_listing(
    client: S3Client,
    bucket: str,
    folder: str,
    restore_time: int,
    prefixes: DuplicityPrefixes | None = None,
    *,
    trust_listing: bool | None = None,
) -> ListedPlan:
    """List `folder` (ListObjectsV2 only) and plan the restore at `restore_time` from what it reports.

    `trust_listing=None` decides by `listing_reports_restores`.
    """
    listing = list_folder_and_subfolders(client, bucket, folder)
    objects = listing.objects
    try:
        plan = plan_restore(objects, restore_time, prefixes, folder=folder)
    except NoChainsError as error:
        hint = _subfolder_hint(client, bucket, listing.subfolders)
        raise NoChainsError(f"{error}{hint}", error.other_prefixes) from None
    if trust_listing is None:
        trust_listing = listing_reports_restores(client, objects)
    return ListedPlan(plan, tuple(objects), trust_listing)


def load_plan(
    client: S3Client,
    bucket: str,
    folder: str,
    restore_time: int,
    prefixes: DuplicityPrefixes | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    trust_listing: bool | None = None,
) -> RestorePlan:
    """List `folder`, plan the restore at `restore_time`, and complete the needed objects' restore states.

    For status and waiting (operator credentials): where the listing is silent, each archived needed object
    is HEADed (s3:GetObject). `trust_listing=None` decides by `listing_reports_restores`; False always HEADs.
    """
    listed = plan_from_listing(client, bucket, folder, restore_time, prefixes, trust_listing=trust_listing)
    if listed.states_known:
        return listed.plan
    updated = with_head_states(client, bucket, listed.plan.needed, concurrency=concurrency)
    if not updated:
        return listed.plan
    # Re-planning is cheap and keeps one code path: restore states never change which objects are needed.
    objects = (updated.get(obj.key, obj) for obj in listed.objects)
    return plan_restore(objects, restore_time, prefixes, folder=folder)


MAX_SUBFOLDERS_CHECKED = 20


def _subfolder_hint(client: S3Client, bucket: str, subfolders: Sequence[str]) -> str:
    """ "; sub-folders that hold backups: --prefix a/b/ …" for the first few with a full backup."""
    try:
        found = [sub for sub in subfolders[:MAX_SUBFOLDERS_CHECKED] if _has_full_backup(client, bucket, sub)]
    except (ClientError, BotoCoreError):
        return ""  # only a hint: the error it adds to is the one to report
    if not found:
        return ""
    shown = " or ".join(f"--prefix {shlex.quote(sub)}" for sub in found)
    return f"; sub-folders that hold backups: {shown}"


def _has_full_backup(client: S3Client, bucket: str, folder: str) -> bool:
    # Any prefix counts: the hint names the folder; the prefix hint comes from that folder's own plan.
    page = client.list_objects_v2(Bucket=bucket, Prefix=folder, Delimiter="/", MaxKeys=1000)
    for item in page.get("Contents", []):
        name = parse_name(item.get("Key", ""))
        if name is not None and name.full and name.kind is Kind.MANIFEST:
            return True
    return False


def _head(client: S3Client, bucket: str, obj: ListedObject) -> tuple[ListedObject | None, str | None]:
    try:
        response: Any = client.head_object(Bucket=bucket, Key=obj.key)
    except ClientError as error:
        if http_status(error) == 404:
            return None, None  # deleted since the listing: its restore request will report it
        return None, f"{obj.key}: {describe_error(error)}"
    except BotoCoreError as error:
        return None, f"{obj.key}: {describe_error(error)}"
    header = response.get("Restore")
    try:
        restore = RestoreState.from_header(header) if header else None
    except ListingError as error:
        return None, f"{obj.key}: {error}"
    storage_class = str(response.get("StorageClass") or "STANDARD")
    return replace(obj, storage_class=storage_class, restore=restore), None
