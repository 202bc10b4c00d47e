"""Tag every existing object under a prefix, concurrently: `glacierable backfill` and the reconcile Lambda.

In a bucket that has ever had versioning (Enabled or Suspended), every version is tagged, not only the
current one: the archive rule's noncurrent transition moves only tagged versions. Delete markers are skipped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from botocore.exceptions import BotoCoreError, ClientError

from glacierable import TAG_KEY
from glacierable.aws_errors import describe_error
from glacierable.classify import Decision, classify
from glacierable.clients import EndpointUnreachableError
from glacierable.fanout import bounded_map
from glacierable.tagging import Action, TagResult, tag_object
from glacierable.tags import MAX_TAGS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_CONCURRENCY = 512
DEFAULT_CONCURRENCY = 32
# Work queued beyond the running tasks: enough that a worker never waits for the main thread,
# few enough that a bucket of millions never sits in memory.
_QUEUED_PER_WORKER = 2
# Listing pages fetched ahead of the tagging.
_PAGES_AHEAD = 2
_PAGE_SIZE = 1000  # S3's maximum

ProgressCallback = Callable[[int, int], None]


class Failure(NamedTuple):
    """An object (or one version of it) that could not be tagged, and why."""

    key: str
    error: str
    version_id: str | None = None

    def sort_key(self) -> tuple[str, str, str]:
        return (self.key, self.version_id or "", self.error)


class Listed(NamedTuple):
    """One listed object, or one version of it in a versioned bucket (delete markers are never listed)."""

    key: str
    last_modified: datetime
    version_id: str | None = None  # None: the bucket never had versioning; tag the object itself
    current: bool = True


class BackfillError(RuntimeError):
    """The listing itself failed (no such bucket, access denied, no endpoint): the run is incomplete."""

    def __init__(self, message: str, summary: BackfillSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class BackfillSummary:
    """What a backfill saw and did; `ok` is False when any object could not be tagged."""

    bucket: str
    prefix: str = ""
    dry_run: bool = False
    versioning: str | None = None  # S3's versioning status, "Enabled" or "Suspended"; None if never enabled
    listed: int = 0  # objects, or versions when `versioning` is set (delete markers not included)
    noncurrent: int = 0  # listed versions that are not their key's current version
    delete_markers: int = 0  # listed delete markers: they have no tags, and are skipped
    skipped: int = 0  # listed, but last modified before `modified_since`
    actions: dict[Action, int] = field(default_factory=lambda: dict.fromkeys(Action, 0))
    decisions: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    tagged_by_decision: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    failed: list[Failure] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def versioned(self) -> bool:
        """Whether versions were listed (and tagged) one by one."""
        return self.versioning is not None

    @property
    def processed(self) -> int:
        """Objects (or versions) classified (dry run) or sent to the tagger, including failures."""
        return self.listed - self.skipped

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for `--json` and structured logs."""
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "dry_run": self.dry_run,
            "versioning": self.versioning,
            "listed": self.listed,
            "noncurrent_count": self.noncurrent,
            "delete_marker_count": self.delete_markers,
            "skipped": self.skipped,
            "processed": self.processed,
            "actions": {action.value: count for action, count in self.actions.items()},
            "glacierable": {"true": self.decisions[True], "false": self.decisions[False]},
            "tagged": {"true": self.tagged_by_decision[True], "false": self.tagged_by_decision[False]},
            "failed_count": len(self.failed),
            "failed": [{"key": f.key, "version_id": f.version_id, "error": f.error} for f in self.failed],
            "elapsed_seconds": round(self.elapsed, 3),
            "ok": self.ok,
        }

    def record(self, outcome: TagResult | Decision) -> None:
        """Count one object's outcome; an object left untagged becomes a failure."""
        if isinstance(outcome, Decision):  # dry run: classified, nothing written
            self.decisions[outcome.glacierable] += 1
            return
        self.actions[outcome.action] += 1
        if outcome.action is Action.TOO_MANY_TAGS:
            # Untagged means it stays in Standard forever: the operator must free a tag slot.
            self.failed.append(
                Failure(
                    outcome.key,
                    f"already has {MAX_TAGS} tags and no {TAG_KEY!r} tag: remove one and rerun",
                    outcome.version_id,
                )
            )
        elif outcome.action is not Action.GONE:
            self.decisions[outcome.glacierable] += 1
            if outcome.action is Action.TAGGED:
                self.tagged_by_decision[outcome.glacierable] += 1


class BackfillInterrupted(KeyboardInterrupt):
    """Ctrl-C during a backfill; `summary` counts what was done before it."""

    def __init__(self, summary: BackfillSummary) -> None:
        super().__init__(f"{self.completed_of(summary)} objects done before the interruption")
        self.summary = summary

    @staticmethod
    def completed_of(summary: BackfillSummary) -> int:
        """Objects whose outcome is known: tagged, kept, gone, failed (or classified, in a dry run)."""
        if summary.dry_run:
            return sum(summary.decisions.values())
        return sum(summary.actions.values()) + len(summary.failed)


def backfill(
    client: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    archive_unknown: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    modified_since: datetime | None = None,
    on_progress: ProgressCallback | None = None,
) -> BackfillSummary:
    """Tag every object under `prefix`, every version of it in a versioned bucket (modified since, if given).

    `prefix` is used as given (callers read it with glacierable.prefixes.key_prefix). One GetBucketVersioning
    chooses the listing: ListObjectsV2, or ListObjectVersions once the bucket has had versioning. Listing runs
    ahead in its own thread while up to `concurrency` objects are tagged at once. A failure on one object is
    recorded in the summary and never stops the others; a failed listing raises BackfillError (carrying the
    partial summary) once the objects already started have finished.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    if modified_since is not None and modified_since.tzinfo is None:
        raise ValueError("modified_since must be timezone-aware (S3's LastModified is UTC)")
    # botocore fills in every Config option, but its stubs do not declare this one.
    pool_size: int = getattr(client.meta.config, "max_pool_connections", concurrency)
    if not dry_run and pool_size < concurrency:
        # More threads than pooled connections just queue on the pool (and urllib3 discards sockets).
        raise ValueError(
            f"client has max_pool_connections={pool_size}, fewer than concurrency={concurrency}; "
            "build it with s3_client(max_pool_connections=concurrency)"
        )

    summary = BackfillSummary(bucket=bucket, prefix=prefix, dry_run=dry_run)
    started = time.monotonic()
    try:
        summary.versioning = _versioning(client, summary)
        if dry_run:
            _classify_all(client, summary, archive_unknown, modified_since, on_progress)
        else:
            _tag_all(client, summary, archive_unknown, concurrency, modified_since, on_progress)
    except KeyboardInterrupt:
        # What was tagged stays tagged (a rerun skips it): say how far the run got.
        raise BackfillInterrupted(summary) from None
    finally:
        summary.elapsed = time.monotonic() - started
    return summary


def _classify_all(
    client: S3Client,
    summary: BackfillSummary,
    archive_unknown: bool,
    modified_since: datetime | None,
    on_progress: ProgressCallback | None,
) -> None:
    for done, listed in enumerate(_selected(client, summary, modified_since), start=1):
        summary.record(classify(listed.key, archive_unknown=archive_unknown))
        if on_progress:
            on_progress(done, summary.processed)


class _Outcome(NamedTuple):
    listed: Listed
    result: TagResult | None
    error: BaseException | None


def _tag_all(
    client: S3Client,
    summary: BackfillSummary,
    archive_unknown: bool,
    concurrency: int,
    modified_since: datetime | None,
    on_progress: ProgressCallback | None,
) -> None:
    def tag_one(listed: Listed) -> _Outcome:
        try:
            result = tag_object(
                client,
                summary.bucket,
                listed.key,
                version_id=listed.version_id,
                archive_unknown=archive_unknown,
            )
            return _Outcome(listed, result, None)
        except Exception as error:  # any error on one object is that object's failure, not the run's
            return _Outcome(listed, None, error)

    collected = 0
    listing = _selected(client, summary, modified_since)
    try:
        # A listing that fails part-way raises here once the objects handed out are tagged and counted.
        for _, outcome in bounded_map(
            tag_one, listing, concurrency=concurrency, backlog=_QUEUED_PER_WORKER, name="backfill"
        ):
            collected += 1
            if outcome.result is not None:
                summary.record(outcome.result)
            else:
                assert outcome.error is not None
                listed = outcome.listed
                summary.failed.append(Failure(listed.key, describe_error(outcome.error), listed.version_id))
            if on_progress:
                on_progress(collected, summary.processed)
    finally:
        # Completion order is arbitrary; sorted, reruns and reports compare.
        summary.failed.sort(key=Failure.sort_key)
    if on_progress and collected == 0:
        on_progress(0, 0)


def _versioning(client: S3Client, summary: BackfillSummary) -> str | None:
    """The bucket's versioning status ("Enabled", "Suspended"), or None if it never had versioning."""
    try:
        status = client.get_bucket_versioning(Bucket=summary.bucket).get("Status")
    except (ClientError, BotoCoreError) as error:
        raise BackfillError(_failed("read the versioning state of", summary, error), summary) from error
    return str(status) if status else None


def _failed(doing: str, summary: BackfillSummary, error: BaseException) -> str:
    if isinstance(error, EndpointUnreachableError):  # names the endpoint and the cause already
        return str(error)
    return f"cannot {doing} s3://{summary.bucket}/{summary.prefix}: {describe_error(error)}"


def _selected(
    client: S3Client, summary: BackfillSummary, modified_since: datetime | None
) -> Iterator[Listed]:
    """Objects (or versions) to process, counting every listed one (and those skipped as too old)."""
    with _PageStream(client, summary) as pages:
        try:
            for page in pages:
                summary.delete_markers += page.delete_markers
                for listed in page.entries:
                    summary.listed += 1
                    if not listed.current:
                        summary.noncurrent += 1
                    if modified_since is not None and listed.last_modified < modified_since:
                        summary.skipped += 1
                        continue
                    yield listed
        except (ClientError, BotoCoreError) as error:
            raise BackfillError(_failed("list", summary, error), summary) from error


class _Page(NamedTuple):
    entries: list[Listed]
    delete_markers: int = 0


_DONE = object()


class _PageStream:
    """Listing pages fetched in a background thread, at most `_PAGES_AHEAD` ahead of the reader."""

    def __init__(self, client: S3Client, summary: BackfillSummary) -> None:
        self._client = client
        self._bucket = summary.bucket
        self._prefix = summary.prefix
        self._versioned = summary.versioned
        self._pages: queue.Queue[object] = queue.Queue(maxsize=_PAGES_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._list, name="backfill-list", daemon=True)

    def __enter__(self) -> Iterator[_Page]:
        self._thread.start()
        return self._read()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _read(self) -> Iterator[_Page]:
        while True:
            item = self._pages.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast("_Page", item)

    def _list(self) -> None:
        try:
            pages = self._version_pages() if self._versioned else self._object_pages()
            for page in pages:
                if not self._put(page):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the reader, which raises it in the caller's thread
            self._put(error)

    def _object_pages(self) -> Iterator[_Page]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=self._bucket, Prefix=self._prefix, PaginationConfig={"PageSize": _PAGE_SIZE}
        ):
            yield _Page([Listed(obj["Key"], obj["LastModified"]) for obj in page.get("Contents", [])])

    def _version_pages(self) -> Iterator[_Page]:
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(
            Bucket=self._bucket, Prefix=self._prefix, PaginationConfig={"PageSize": _PAGE_SIZE}
        ):
            # Every version is its own object to S3's lifecycle: "null" (written before versioning was
            # enabled, or while suspended) is a version id like any other.
            entries = [
                Listed(v["Key"], v["LastModified"], v["VersionId"], bool(v.get("IsLatest")))
                for v in page.get("Versions", [])
            ]
            yield _Page(entries, len(page.get("DeleteMarkers", [])))

    def _put(self, item: object) -> bool:
        # Polls so that a reader that gave up (interrupt, error) never leaves this thread blocked.
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
