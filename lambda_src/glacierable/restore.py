"""RestoreObject for many keys at once, with one outcome per key (S3 I/O).

https://docs.aws.amazon.com/AmazonS3/latest/API/API_RestoreObject.html: 202 a new restore, 200 already
restored (its expiry is extended), 409 RestoreAlreadyInProgress, 503 GlacierExpeditedRetrievalNotAvailable,
403 InvalidObjectState for an object that is not archived. Throttling and 5xx are retried by botocore's
`standard` mode (glacierable.clients); what still fails is reported with its key, never dropped.

These answers are also how a key's restore state is learnt where a listing does not report it, and why a
repeated request is harmless: S3 starts no second retrieval for a key it already accepted (409 while it
runs; 200 once restored, which only moves the copy's expiry), so nothing is HEADed first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import error_code, error_message
from glacierable.batches import Batch
from glacierable.fanout import bounded_map
from glacierable.pricing import Tier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 256

ProgressCallback = Callable[[int, int], None]


class Outcome(StrEnum):
    """What S3 said to one RestoreObject request."""

    REQUESTED = "requested"
    """202: a new restore started."""
    EXTENDED = "extended"
    """200: already restored; the copy's expiry was extended (no new retrieval)."""
    IN_PROGRESS = "in_progress"
    """409 RestoreAlreadyInProgress."""
    NOT_ARCHIVED = "not_archived"
    """403 InvalidObjectState: the object is not archived, so it is readable as it is."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class KeyFailure:
    """A key whose restore could not be requested, after botocore's retries."""

    key: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {"key": self.key, "code": self.code, "message": self.message}


@dataclass(slots=True)
class RestoreReport:
    """The outcome of every key of one or more restore runs."""

    requested: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    not_archived: list[str] = field(default_factory=list)
    failed: list[KeyFailure] = field(default_factory=list)
    fell_back: list[str] = field(default_factory=list)
    """Keys requested with Standard after Expedited capacity was not available."""

    @property
    def ok(self) -> bool:
        """No key failed."""
        return not self.failed

    @property
    def total(self) -> int:
        """Keys with an outcome."""
        return sum(self.counts().values())

    def counts(self) -> dict[str, int]:
        """Keys per outcome (every outcome present, zero or not)."""
        return {
            Outcome.REQUESTED.value: len(self.requested),
            Outcome.EXTENDED.value: len(self.extended),
            Outcome.IN_PROGRESS.value: len(self.in_progress),
            Outcome.NOT_ARCHIVED.value: len(self.not_archived),
            Outcome.FAILED.value: len(self.failed),
        }

    def add(self, key: str, outcome: Outcome, failure: KeyFailure | None = None) -> None:
        """Record one key's outcome."""
        if outcome is Outcome.FAILED:
            self.failed.append(failure or KeyFailure(key, "Unknown", ""))
            return
        {
            Outcome.REQUESTED: self.requested,
            Outcome.EXTENDED: self.extended,
            Outcome.IN_PROGRESS: self.in_progress,
            Outcome.NOT_ARCHIVED: self.not_archived,
        }[outcome].append(key)

    def merge(self, other: RestoreReport) -> None:
        """Add another report's outcomes to this one."""
        self.requested += other.requested
        self.extended += other.extended
        self.in_progress += other.in_progress
        self.not_archived += other.not_archived
        self.failed += other.failed
        self.fell_back += other.fell_back

    def to_json(self, *, max_failures: int | None = None) -> dict[str, object]:
        """Counts, and the failed keys with their errors (the first `max_failures` of them)."""
        failed = self.failed if max_failures is None else self.failed[:max_failures]
        return {
            "outcome_counts": self.counts(),
            "fell_back_count": len(self.fell_back),
            "failed_count": len(self.failed),
            "failed": [f.to_json() for f in failed],
        }


def request_restores(
    client: S3Client,
    bucket: str,
    keys: Sequence[str],
    *,
    tier: Tier,
    days: int,
    concurrency: int = DEFAULT_CONCURRENCY,
    expedited_fallback: bool = False,
    on_progress: ProgressCallback | None = None,
) -> RestoreReport:
    """Request a restore of every key, `concurrency` at a time; one outcome per key, failures included."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency}")
    report = RestoreReport()
    if not keys:
        return report

    def request_one(key: str) -> tuple[Outcome, KeyFailure | None, bool]:
        return _restore_one(client, bucket, key, tier, days, expedited_fallback)

    requests = bounded_map(request_one, keys, concurrency=min(concurrency, len(keys)), name="restore")
    for done, (key, (outcome, failure, fell_back)) in enumerate(requests, start=1):
        report.add(key, outcome, failure)
        if fell_back:
            report.fell_back.append(key)
        if on_progress is not None:
            on_progress(done, len(keys))
    return report


def restore_batch(
    client: S3Client,
    batch: Batch,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
) -> RestoreReport:
    """Carry out one batch: what the restore worker does per message, and the CLI's local mode per batch."""
    return request_restores(
        client,
        batch.bucket,
        batch.keys,
        tier=batch.tier,
        days=batch.days,
        concurrency=concurrency,
        expedited_fallback=batch.expedited_fallback,
        on_progress=on_progress,
    )


def _restore_one(
    client: S3Client, bucket: str, key: str, tier: Tier, days: int, expedited_fallback: bool
) -> tuple[Outcome, KeyFailure | None, bool]:
    fell_back = False
    try:
        try:
            return _request(client, bucket, key, tier, days), None, False
        except ClientError as error:
            unavailable = error_code(error) == "GlacierExpeditedRetrievalNotAvailable"
            if not (unavailable and expedited_fallback and tier is Tier.EXPEDITED):
                raise
        fell_back = True
        return _request(client, bucket, key, Tier.STANDARD, days), None, True
    except ClientError as error:
        code = error_code(error)
        outcome = _outcome_of_error(code)
        if outcome is not None:
            return outcome, None, fell_back
        message = error_message(error)
        return Outcome.FAILED, KeyFailure(key, code, message), fell_back
    except BotoCoreError as error:  # connection errors after retries, bad endpoints
        return Outcome.FAILED, KeyFailure(key, type(error).__name__, str(error)), fell_back


def _request(client: S3Client, bucket: str, key: str, tier: Tier, days: int) -> Outcome:
    response = client.restore_object(
        Bucket=bucket,
        Key=key,
        RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier.value}},
    )
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return Outcome.EXTENDED if status == 200 else Outcome.REQUESTED


def _outcome_of_error(code: str) -> Outcome | None:
    if code == "RestoreAlreadyInProgress":
        return Outcome.IN_PROGRESS
    if code == "InvalidObjectState":
        return Outcome.NOT_ARCHIVED
    return None
