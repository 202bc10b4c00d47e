"""RestoreObject for many keys against a moto server: one outcome per key, each key requested once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from glacierable.batches import Batch
from glacierable.listing import ARCHIVED_CLASSES, RestoreState
from glacierable.pricing import Tier
from glacierable.restore import KeyFailure, Outcome, request_restores, restore_batch

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from glacierable_dev.emulator import MotoServer

# Two chains in one folder: full T1 + inc T1→T2, then full T3 + inc T3→T4.
T1, T2, T3, T4 = "20231101T000000Z", "20231102T000000Z", "20231110T000000Z", "20231111T000000Z"
BETWEEN_CHAINS = "2023-11-05T00:00:00Z"


@dataclass(frozen=True)
class Backup:
    """Keys of a two-chain duplicity backup uploaded to moto."""

    folder: str
    old_chain: tuple[str, ...]
    new_chain: tuple[str, ...]
    metadata: tuple[str, ...]


def upload_two_chains(
    s3: S3Client, bucket: str, folder: str = "backups/host1/", *, storage_class: str = "GLACIER"
) -> Backup:
    """Volumes archived, manifests and signatures in STANDARD, as the tagger and lifecycle rule leave them."""

    def volumes(stem: str, count: int) -> list[str]:
        return [f"{folder}duplicity-{stem}.vol{n}.difftar.gpg" for n in range(1, count + 1)]

    old = [*volumes(f"full.{T1}", 2), *volumes(f"inc.{T1}.to.{T2}", 1)]
    new = [*volumes(f"full.{T3}", 2), *volumes(f"inc.{T3}.to.{T4}", 1)]
    metadata = [
        f"{folder}duplicity-full.{T1}.manifest.gpg",
        f"{folder}duplicity-inc.{T1}.to.{T2}.manifest.gpg",
        f"{folder}duplicity-full-signatures.{T1}.sigtar.gpg",
        f"{folder}duplicity-new-signatures.{T1}.to.{T2}.sigtar.gpg",
        f"{folder}duplicity-full.{T3}.manifest.gpg",
        f"{folder}duplicity-inc.{T3}.to.{T4}.manifest.gpg",
        f"{folder}duplicity-full-signatures.{T3}.sigtar.gpg",
        f"{folder}duplicity-new-signatures.{T3}.to.{T4}.sigtar.gpg",
    ]
    for key in [*old, *new]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"v" * 100, StorageClass=storage_class)  # type: ignore[arg-type]
    for key in metadata:
        s3.put_object(Bucket=bucket, Key=key, Body=b"m")
    return Backup(folder, tuple(old), tuple(new), tuple(metadata))


def count_restores(client: S3Client, calls: Counter[str] | None = None) -> Counter[str]:
    """RestoreObject calls per key made through `client` from now on (into `calls`, if given)."""
    calls = Counter() if calls is None else calls
    lock = threading.Lock()

    def on_call(params: dict[str, Any], **_: Any) -> None:
        with lock:  # requests run in many threads; `+=` on a Counter is not atomic
            calls[params["Key"]] += 1

    client.meta.events.register("before-parameter-build.s3.RestoreObject", on_call)
    return calls


def count_operations(client: S3Client, calls: Counter[str] | None = None) -> Counter[str]:
    """S3 API calls per operation (ListObjectsV2, HeadObject, RestoreObject…) through `client` from now on."""
    calls = Counter() if calls is None else calls
    lock = threading.Lock()

    def on_call(model: Any, **_: Any) -> None:
        with lock:
            calls[model.name] += 1

    # Before any hook that answers in S3's stead (before-parameter-build): that request counts as sent.
    client.meta.events.register("provide-client-params.s3", on_call)
    return calls


def list_restore_states_like_aws(client: S3Client, truth: S3Client) -> None:
    """`client`'s listings report RestoreStatus, as AWS's do and moto's do not; the states are moto's own
    (read through `truth`, a client without these hooks)."""

    def add_status(parsed: dict[str, Any], **_: Any) -> None:
        for item in parsed.get("Contents", []):
            if item.get("StorageClass") not in ARCHIVED_CLASSES:
                continue
            header = truth.head_object(Bucket=parsed["Name"], Key=item["Key"]).get("Restore")
            if header:
                state = RestoreState.from_header(header)
                status: dict[str, Any] = {"IsRestoreInProgress": state.in_progress}
                if state.expiry is not None:
                    status["RestoreExpiryDate"] = state.expiry
                item["RestoreStatus"] = status

    client.meta.events.register("after-call.s3.ListObjectsV2", add_status)


def refuse_restores_in_progress_like_aws(client: S3Client, truth: S3Client) -> None:
    """`client`'s RestoreObject of a key whose restore is ongoing fails 409 RestoreAlreadyInProgress, as on
    AWS (moto answers 200 and starts nothing); the state is moto's own, read through `truth`."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        header = truth.head_object(Bucket=params["Bucket"], Key=params["Key"]).get("Restore") or ""
        if 'ongoing-request="true"' in header:
            raise client_error("RestoreAlreadyInProgress", 409)

    client.meta.events.register("before-parameter-build.s3.RestoreObject", refuse)


def hold_restores_in_progress(
    moto_server: MotoServer, truth: S3Client, bucket: str, keys: Iterable[str]
) -> None:
    """Put the restores already requested of `keys` in progress, and keep them there until the test ends.

    moto counts reads of each key: with manual progression of N reads, a key's restore status goes from
    none to IN_PROGRESS after N reads and to RESTORED after N more (until then its header says done). One
    read at N=1 moves each key to IN_PROGRESS; a huge N then holds it there. The caller's fixture resets it.
    """
    moto_server.keep_restores_ongoing(1)
    for key in keys:
        header = ""
        for _ in range(3):  # the status moves on the read after the tick: at most two reads are needed
            header = truth.head_object(Bucket=bucket, Key=key).get("Restore") or ""
            if 'ongoing-request="true"' in header:
                break
        assert 'ongoing-request="true"' in header, f"{key}: no restore requested, or moto changed: {header!r}"
    moto_server.keep_restores_ongoing(1_000_000)


def fail_restores(
    client: S3Client, keys: Iterable[str], code: str = "InternalError", status: int = 500
) -> None:
    """RestoreObject on `keys` fails with `code`, as after botocore's retries."""
    chosen = set(keys)

    def raise_for_key(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] in chosen:
            raise client_error(code, status)

    client.meta.events.register("before-parameter-build.s3.RestoreObject", raise_for_key)


def client_error(code: str, status: int, operation: str = "RestoreObject") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def on_restore(client: S3Client, hook: Callable[[dict[str, Any]], None]) -> None:
    client.meta.events.register("before-parameter-build.s3.RestoreObject", lambda params, **_: hook(params))


@pytest.fixture
def archived(s3: S3Client, bucket: str) -> list[str]:
    keys = [f"a/vol{i}" for i in range(12)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", StorageClass="GLACIER")
    return keys


def test_every_archived_key_is_requested_once(s3: S3Client, bucket: str, archived: list[str]) -> None:
    calls = count_restores(s3)
    report = request_restores(s3, bucket, archived, tier=Tier.STANDARD, days=7, concurrency=4)
    assert sorted(report.requested) == sorted(archived)
    assert calls == Counter(dict.fromkeys(archived, 1))
    assert report.ok


def test_already_restored_key_is_extended(s3: S3Client, bucket: str, archived: list[str]) -> None:
    request_restores(s3, bucket, archived[:1], tier=Tier.STANDARD, days=7)
    report = request_restores(s3, bucket, archived[:1], tier=Tier.STANDARD, days=7)
    assert report.extended == archived[:1]


def test_key_that_is_not_archived_counts_as_not_archived(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="hot", Body=b"x")
    report = request_restores(s3, bucket, ["hot"], tier=Tier.STANDARD, days=7)
    assert report.not_archived == ["hot"]
    assert report.ok


def test_missing_key_is_a_failure_with_its_code(s3: S3Client, bucket: str) -> None:
    report = request_restores(s3, bucket, ["gone"], tier=Tier.STANDARD, days=7)
    assert [(f.key, f.code) for f in report.failed] == [("gone", "NoSuchKey")]
    assert not report.ok


def test_failed_keys_are_reported_and_the_others_requested(
    s3: S3Client, bucket: str, archived: list[str]
) -> None:
    fail_restores(s3, archived[:2])
    report = request_restores(s3, bucket, archived, tier=Tier.STANDARD, days=7)
    assert sorted(report.failed, key=lambda f: f.key) == [
        KeyFailure(key, "InternalError", "injected InternalError") for key in sorted(archived[:2])
    ]
    assert sorted(report.requested) == sorted(archived[2:])


def test_restore_already_in_progress_counts_as_in_progress(
    s3: S3Client, bucket: str, archived: list[str]
) -> None:
    fail_restores(s3, archived[:1], "RestoreAlreadyInProgress", 409)
    report = request_restores(s3, bucket, archived[:1], tier=Tier.STANDARD, days=7)
    assert report.in_progress == archived[:1]
    assert report.ok


def expedited_unavailable(s3: S3Client) -> list[str]:
    tiers: list[str] = []

    def hook(params: dict[str, Any]) -> None:
        tier = params["RestoreRequest"]["GlacierJobParameters"]["Tier"]
        tiers.append(tier)
        if tier == "Expedited":
            raise client_error("GlacierExpeditedRetrievalNotAvailable", 503)

    on_restore(s3, hook)
    return tiers


def test_expedited_unavailable_falls_back_to_standard_when_asked(
    s3: S3Client, bucket: str, archived: list[str]
) -> None:
    tiers = expedited_unavailable(s3)
    report = request_restores(s3, bucket, archived[:1], tier=Tier.EXPEDITED, days=1, expedited_fallback=True)
    assert (report.requested, report.fell_back, tiers) == (
        archived[:1],
        archived[:1],
        ["Expedited", "Standard"],
    )


def test_expedited_unavailable_fails_without_fallback(s3: S3Client, bucket: str, archived: list[str]) -> None:
    tiers = expedited_unavailable(s3)
    report = request_restores(s3, bucket, archived[:1], tier=Tier.EXPEDITED, days=1)
    assert [f.code for f in report.failed] == ["GlacierExpeditedRetrievalNotAvailable"]
    assert tiers == ["Expedited"]


def test_restore_batch_requests_with_the_batch_tier_and_days(
    s3: S3Client, bucket: str, archived: list[str]
) -> None:
    seen: list[dict[str, Any]] = []
    on_restore(s3, lambda params: seen.append(params["RestoreRequest"]))
    batch = Batch("r1", bucket, Tier.BULK, 3, False, tuple(archived[:2]))
    report = restore_batch(s3, batch, concurrency=2)
    assert sorted(report.requested) == sorted(archived[:2])
    assert seen == [{"Days": 3, "GlacierJobParameters": {"Tier": "Bulk"}}] * 2


def test_progress_is_reported_for_every_key(s3: S3Client, bucket: str, archived: list[str]) -> None:
    progress: list[tuple[int, int]] = []
    request_restores(
        s3, bucket, archived, tier=Tier.BULK, days=1, on_progress=lambda d, t: progress.append((d, t))
    )
    assert progress == [(n, len(archived)) for n in range(1, len(archived) + 1)]


def test_counts_cover_every_outcome(s3: S3Client, bucket: str, archived: list[str]) -> None:
    s3.put_object(Bucket=bucket, Key="hot", Body=b"x")
    report = request_restores(s3, bucket, [*archived[:3], "hot", "gone"], tier=Tier.BULK, days=1)
    assert report.counts() == {
        Outcome.REQUESTED: 3,
        Outcome.EXTENDED: 0,
        Outcome.IN_PROGRESS: 0,
        Outcome.NOT_ARCHIVED: 1,
        Outcome.FAILED: 1,
    }


def test_concurrency_outside_bounds_is_refused(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        request_restores(s3, bucket, ["a"], tier=Tier.BULK, days=1, concurrency=0)
