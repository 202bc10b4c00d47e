"""Fault injection: the tagger, backfill and restore through a proxy that throttles, fails and drops requests.

Shared helpers live here; they read and write moto directly (never through the proxy), so what they report
is the true state in S3.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote_plus

from glacierable.handlers import tagger
from glacierable_dev.fault_proxy import Fate, LatencyProxy, ProxySettings
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
R = TypeVar("R")

ISSUE_FAULTS = ProxySettings(
    latency=0.0,
    slowdown=0.10,
    internal_error=0.02,
    drop=0.01,  # closed before the request reached moto
    drop_response=0.01,  # closed after moto acted on it: the client cannot tell the two apart
    seed=20261126,
)
"""The issue's mix (10% SlowDown, 2% InternalError, 1% dropped), with as many drops again after forwarding."""

THREADS = 16


def in_parallel(function: Callable[[T], R], items: Iterable[T], threads: int = THREADS) -> list[R]:
    """`function` over `items`, `threads` at a time, results in order."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(function, items))


def put_objects(
    s3: S3Client, bucket: str, keys: Iterable[str], *, storage_class: str = "STANDARD", tagging: str = ""
) -> None:
    """Upload a small body for each key, straight to moto."""

    def put(key: str) -> None:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=b"duplicity",
            StorageClass=storage_class,  # type: ignore[arg-type]
            Tagging=tagging,
        )

    in_parallel(put, keys)


def tags_in_s3(s3: S3Client, bucket: str, keys: Iterable[str]) -> dict[str, dict[str, str]]:
    """Every key's tag set, read straight from moto."""
    keys = list(keys)

    def tags(key: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}

    return dict(zip(keys, in_parallel(tags, keys), strict=True))


def restore_headers(s3: S3Client, bucket: str, keys: Iterable[str]) -> dict[str, str | None]:
    """Every key's x-amz-restore header (None: no restore was ever accepted), read straight from moto."""
    keys = list(keys)

    def header(key: str) -> str | None:
        return s3.head_object(Bucket=bucket, Key=key).get("Restore")

    return dict(zip(keys, in_parallel(header, keys), strict=True))


def wrong(actual: Mapping[str, object], expected: Mapping[str, object]) -> set[str]:
    """Keys whose actual value differs from the expected one."""
    return {key for key, value in expected.items() if actual.get(key) != value}


def keys_of(paths: Iterable[str], bucket: str) -> set[str]:
    """Object keys from the proxy's decoded paths ("/bucket/key") in `bucket`."""
    prefix = f"/{bucket}/"
    return {path.removeprefix(prefix) for path in paths if path.startswith(prefix)}


def unanswered(proxy: LatencyProxy, bucket: str, operation: str) -> set[str]:
    """Keys for which moto carried out `operation` at least once but the client never heard back."""
    paths = (h.path for h in proxy.handled() if h.operation == operation and h.fate is Fate.DROPPED_RESPONSE)
    return keys_of(paths, bucket)


def backup_keys(count: int, folder: str) -> list[str]:
    """`count` keys of a duplicity history in `folder`: fulls of 30 volumes, daily incrementals of 3."""
    keys: list[str] = []
    moment = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)

    def stamp(when: datetime) -> str:
        return when.strftime("%Y%m%dT%H%M%SZ")

    while len(keys) < count:
        full = stamp(moment)
        keys += [f"{folder}duplicity-full.{full}.vol{n}.difftar.gpg" for n in range(1, 31)]
        keys += [f"{folder}duplicity-full.{full}.manifest.gpg"]
        keys += [f"{folder}duplicity-full-signatures.{full}.sigtar.gpg"]
        for _ in range(10):
            span = f"{stamp(moment)}.to.{stamp(moment + timedelta(days=1))}"
            keys += [f"{folder}duplicity-inc.{span}.vol{n}.difftar.gpg" for n in range(1, 4)]
            keys += [f"{folder}duplicity-inc.{span}.manifest.gpg"]
            keys += [f"{folder}duplicity-new-signatures.{span}.sigtar.gpg"]
            moment += timedelta(days=1)
    return keys[:count]


# --- the tagger Lambda, in execution environments of its own ---------------------------------------


def created_event(bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification with one record, its key URL-encoded as S3 sends it."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 9, "sequencer": "0055AED6DCD90281E5"}
    if version_id is not None:
        obj["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }
    return {"Records": [record]}


def _start_environment(endpoint_url: str) -> None:
    """Runs once in each execution environment (a process): the handler's client points at `endpoint_url`."""
    os.environ.update(
        ARCHIVE_UNKNOWN="false", POWERTOOLS_SERVICE_NAME="glacierable-tagger", AWS_ENDPOINT_URL=endpoint_url
    )
    os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    tagger.s3.reset()  # built from this environment on the first event, as Lambda's would be
    tagger.metrics.namespace = "Glacierable"
    quiet = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    setattr(tagger.logger.registered_handler, "stream", quiet)  # noqa: B010 (a StreamHandler, typed Handler)
    tagger.logger.setLevel("WARNING")  # thousands of "object processed" lines cost CPU the emulator needs
    sys.stdout = quiet  # the metrics' EMF lines


def invoke_tagger(event: dict[str, Any]) -> str | None:
    """One invocation; None when it returned, else the error it raised (Lambda would retry the event)."""
    try:
        tagger.handler(event, FakeLambdaContext())
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@contextmanager
def tagger_environments(endpoint_url: str, count: int) -> Iterator[ProcessPoolExecutor]:
    """`count` Lambda execution environments of the tagger, each a process handling one event at a time.

    Processes, not threads: Lambda never runs two invocations in one environment, and Powertools keeps its
    metrics in module state that concurrent threads would corrupt (one flush clearing another's metrics).
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.faults"])  # imports the handler: each fork starts warm
    with ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=_start_environment, initargs=(endpoint_url,)
    ) as pool:
        yield pool


def invoke_all(pool: ProcessPoolExecutor, events: Iterable[dict[str, Any]]) -> list[str | None]:
    """Each event once, spread over the environments; the errors, in event order."""
    return list(pool.map(invoke_tagger, events, chunksize=8))
