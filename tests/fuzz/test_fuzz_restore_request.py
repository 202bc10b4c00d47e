"""The restore Lambda's request validation over any JSON: a correct request, or RequestError, no AWS call."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from glacierable.names import format_time
from glacierable.plan import NoChainsError
from glacierable.pricing import Tier
from glacierable.restore_request import FIELDS, RequestError, RestoreRequest
from glacierable.restore_summary import RestoreRefusal
from glacierable_dev.lambdas import FakeLambdaContext
from tests.fuzz import Call, OfflineService, error_xml, json_values

FUZZ = settings.get_profile("fuzz")

NOW = 1_700_000_000
DAY = 86_400
STACK_PREFIXES = st.sampled_from(["", "backups/"])
JSON = json_values(FIELDS)
NEAR_VALUES = st.sampled_from(
    ["now", "3D", "Bulk", "bulk", "Expedited", "", "/", "backups", "backups/host1", "a/b", 7, 0, 366, True]
)
# Known fields with near-valid or any values: most refusals here are about a value, not an unknown name.
FIELD_DICTS = st.dictionaries(st.sampled_from(FIELDS), NEAR_VALUES | NEAR_VALUES | JSON, max_size=6)


def validate(data: object, stack_prefix: str) -> RestoreRequest | RequestError:
    try:
        return RestoreRequest.from_json(data, now=NOW, stack_prefix=stack_prefix)
    except RequestError as error:
        return error


# --- RestoreRequest.from_json ---
@dataclass(frozen=True)
class Expected:
    """A valid request's JSON, and what it must become."""

    data: dict[str, object]
    folder: str
    restore_time: int
    tier: Tier
    days: int


FOLDER_PARTS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1)
TIMES = st.one_of(
    st.just(("now", NOW)),
    st.integers(1, 4_102_444_799).map(lambda t: (str(t), t)),
    st.integers(1, 4_102_444_799).map(lambda t: (format_time(t), t)),
    st.integers(0, 3650).map(lambda days: (f"{days}D", NOW - days * DAY)),
    st.integers(0, 500).map(lambda weeks: (f"{weeks}W", NOW - weeks * 7 * DAY)),
)
TIER_SPELLINGS = st.sampled_from(list(Tier)).flatmap(
    lambda tier: st.sampled_from([tier.value, tier.value.lower(), tier.value.upper()]).map(
        lambda spelling: (spelling, tier)
    )
)


@st.composite
def valid_requests(draw: st.DrawFn, stack_prefix: str) -> Expected:
    data: dict[str, object] = {}
    folder = stack_prefix
    if draw(st.booleans()):
        parts = draw(st.lists(FOLDER_PARTS, max_size=3))
        slashes = draw(st.sampled_from(["", "/"]))
        data["prefix"] = slashes + stack_prefix + "/".join(parts) + draw(st.sampled_from(["", "/", "//"]))
        folder = stack_prefix + "".join(part + "/" for part in parts)
    restore_time = NOW
    if draw(st.booleans()):
        data["time"], restore_time = draw(TIMES)
    tier = Tier.STANDARD
    if draw(st.booleans()):
        data["tier"], tier = draw(TIER_SPELLINGS)
    days = 7
    if draw(st.booleans()):
        data["days"] = days = draw(st.integers(1, 365))
    for name in ("dry_run", "expedited_fallback"):
        if draw(st.booleans()):
            data[name] = draw(st.booleans() | st.none())
    for name in ("file_prefix", "file_prefix_archive", "file_prefix_manifest", "file_prefix_signature"):
        if draw(st.booleans()):
            data[name] = draw(st.text(st.characters(exclude_characters="/")) | st.none())
    return Expected(data, folder, restore_time, tier, days)


@FUZZ
@given(st.data(), STACK_PREFIXES)
def test_valid_requests_mean_what_they_say(data: st.DataObject, stack_prefix: str) -> None:
    expected = data.draw(valid_requests(stack_prefix))
    request = RestoreRequest.from_json(expected.data, now=NOW, stack_prefix=stack_prefix)
    assert (request.folder, request.tier, request.days) == (expected.folder, expected.tier, expected.days)
    assert request.restore_time(now=NOW) == expected.restore_time
    assert request.dry_run is bool(expected.data.get("dry_run"))
    assert request.prefixes.file_prefix == (expected.data.get("file_prefix") or "")


@st.composite
def near_valid_requests(draw: st.DrawFn) -> dict[str, object]:
    """A valid request (for either stack prefix) with one field set to a near-valid or any value."""
    data = dict(draw(valid_requests(draw(STACK_PREFIXES))).data)
    data[draw(st.sampled_from(FIELDS))] = draw(NEAR_VALUES | JSON)
    return data


ANY_REQUEST = st.one_of(JSON, FIELD_DICTS, near_valid_requests())


@FUZZ
@given(ANY_REQUEST, STACK_PREFIXES)
def test_any_json_is_a_sound_request_or_a_request_error(data: object, stack_prefix: str) -> None:
    result = validate(data, stack_prefix)
    event("refused" if isinstance(result, RequestError) else "accepted")
    if isinstance(result, RequestError):
        assert str(result)
        return
    assert result.folder.startswith(stack_prefix)
    assert result.folder == "" or (result.folder.endswith("/") and not result.folder.startswith("/"))
    assert 1 <= result.days <= 365
    assert isinstance(result.restore_time(now=NOW), int)
    assert RestoreRequest.from_json(result.to_json(), now=NOW, stack_prefix=stack_prefix) == result


# --- the restore handler: a refused request makes no S3 or SQS call ---

BUCKET = "my-backups"
STACK_PREFIX = "backups/"
EMPTY_LISTING = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    f"<Name>{BUCKET}</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
    "<IsTruncated>false</IsTruncated></ListBucketResult>"
).encode()


def empty_bucket(operation: str, request: AWSPreparedRequest) -> tuple[int, bytes]:
    if operation == "ListObjectsV2":
        return 200, EMPTY_LISTING
    return 404, error_xml("NoSuchKey")


def no_queue(operation: str, request: AWSPreparedRequest) -> tuple[int, bytes]:
    return 400, b'{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "offline"}'


@pytest.fixture(scope="module")
def offline() -> dict[str, OfflineService]:
    return {"s3": OfflineService("s3", empty_bucket), "sqs": OfflineService("sqs", no_queue)}


@pytest.fixture(scope="module")
def restore_handler(offline: dict[str, OfflineService]) -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUCKET", BUCKET)
        patch.setenv("PREFIX", STACK_PREFIX)
        patch.setenv("RESTORE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/restores")
        patch.setenv("POWERTOOLS_SERVICE_NAME", "glacierable-restore")
        module = importlib.import_module("glacierable.handlers.restore")
        patch.setattr(module.metrics, "namespace", "Glacierable")
        patch.setattr(module.logger.registered_handler, "stream", io.StringIO())
        with module.s3.use(offline["s3"].client()), module.sqs.use(offline["sqs"].client()):
            yield module


@FUZZ
@given(ANY_REQUEST | valid_requests(STACK_PREFIX).map(lambda expected: expected.data))
def test_restore_handler_refuses_invalid_requests_without_any_call(
    restore_handler: ModuleType, offline: dict[str, OfflineService], data: object
) -> None:
    for service in offline.values():
        service.reset()
    restore_handler.logger.registered_handler.stream = io.StringIO()
    expected = validate(data, STACK_PREFIX)
    event("refused" if isinstance(expected, RequestError) else "accepted")
    answer = restore_handler.handler(data, FakeLambdaContext("glacierable-restore"))
    if isinstance(expected, RequestError):
        assert RestoreRefusal.from_json(answer).text == f"RequestError: {expected}"
        assert [(s.calls, s.sent) for s in offline.values()] == [([], []), ([], [])]
        return
    # A valid request lists its own folder, once; the bucket is empty, so planning refuses.
    # The empty bucket has no chains: a PlanError, answered under its own class name.
    assert RestoreRefusal.from_json(answer).error_type == NoChainsError.__name__
    listing: dict[str, Any] = {
        "Bucket": BUCKET,
        "Prefix": expected.folder,
        "Delimiter": "/",
        "OptionalObjectAttributes": ["RestoreStatus"],
        "MaxKeys": 1000,
    }
    assert offline["s3"].calls == [Call("ListObjectsV2", listing)]
    assert offline["sqs"].calls == []
