"""Typed entries of an S3 listing (ListObjectsV2 `Contents`), with restore state: parsing only, no calls.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html (Object, RestoreStatus) and
https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html (the `x-amz-restore` header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
"""Classes whose objects must be restored before GetObject (GLACIER_IR is read instantly)."""

_HEADER_ONGOING_RE = re.compile(r'ongoing-request\s*=\s*"(?P<value>true|false)"', re.IGNORECASE)
_HEADER_EXPIRY_RE = re.compile(r'expiry-date\s*=\s*"(?P<value>[^"]*)"', re.IGNORECASE)


class ListingError(ValueError):
    """A listing entry or restore header without the fields S3 always sends."""


@dataclass(frozen=True, slots=True)
class RestoreState:
    """A restore request's state: ongoing, or done with a temporary copy readable until `expiry`."""

    in_progress: bool
    expiry: datetime | None = None

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> RestoreState:
        """From ListObjectsV2's `RestoreStatus` (`IsRestoreInProgress`, `RestoreExpiryDate`)."""
        expiry = status.get("RestoreExpiryDate")
        if expiry is not None and not isinstance(expiry, datetime):
            raise ListingError(f"RestoreExpiryDate is not a datetime: {expiry!r}")
        return cls(in_progress=bool(status.get("IsRestoreInProgress", False)), expiry=expiry)

    @classmethod
    def from_header(cls, header: str) -> RestoreState:
        """From HeadObject's `Restore` value: `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 …"`."""
        ongoing = _HEADER_ONGOING_RE.search(header)
        if ongoing is None:
            raise ListingError(f"restore header without ongoing-request: {header!r}")
        expiry_match = _HEADER_EXPIRY_RE.search(header)
        expiry = None
        if expiry_match is not None:
            try:
                expiry = parsedate_to_datetime(expiry_match.group("value"))
            except (TypeError, ValueError) as error:
                raise ListingError(f"restore header with a bad expiry-date: {header!r}") from error
        return cls(in_progress=ongoing.group("value").lower() == "true", expiry=expiry)


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One listed object: what planning and status need, and nothing else (100,000s are held at once)."""

    key: str
    size: int
    storage_class: str
    restore: RestoreState | None = None

    @classmethod
    def from_contents(cls, item: Mapping[str, Any]) -> ListedObject:
        """From one ListObjectsV2 `Contents` entry (with `RestoreStatus` when it was asked for)."""
        try:
            key = item["Key"]
            size = item["Size"]
        except KeyError as error:
            raise ListingError(f"listing entry without {error.args[0]}: {dict(item)!r}") from error
        if not isinstance(key, str) or not isinstance(size, int):
            raise ListingError(f"listing entry with a bad Key or Size: {dict(item)!r}")
        # S3 omits StorageClass only in odd cases (some directory buckets); such objects are not archived.
        storage_class = str(item.get("StorageClass") or "STANDARD")
        status = item.get("RestoreStatus")
        restore = RestoreState.from_status(status) if status is not None else None
        return cls(key=key, size=size, storage_class=storage_class, restore=restore)

    @property
    def archived(self) -> bool:
        """In an archive class (GLACIER or DEEP_ARCHIVE), whether or not a restored copy exists."""
        return self.storage_class in ARCHIVED_CLASSES

    @property
    def restoring(self) -> bool:
        """Archived with a restore in progress."""
        return self.archived and self.restore is not None and self.restore.in_progress

    @property
    def readable(self) -> bool:
        """GetObject would succeed: not archived, or a restored copy is present."""
        return not self.archived or (self.restore is not None and not self.restore.in_progress)


def listed_objects(pages: Iterable[Mapping[str, Any]]) -> Iterator[ListedObject]:
    """Every entry of ListObjectsV2 response pages (a paginator's output), in listing order."""
    for page in pages:
        for item in page.get("Contents", ()):
            yield ListedObject.from_contents(item)
