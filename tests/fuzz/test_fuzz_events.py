"""The tagger's event parsing and handler over any JSON: a correct parse, or EventError and no call to S3."""

from __future__ import annotations

import copy
import importlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.handlers import VALID_BUCKET, VALID_S3_ARN
from hypothesis import event, given, settings
from hypothesis import strategies as st

from glacierable.events import EventError, S3Notification, parse_event
from glacierable_dev.lambdas import FakeLambdaContext
from tests.fuzz import ANY_TEXT, Call, OfflineService, error_xml, json_values

FUZZ = settings.get_profile("fuzz")

EVENT_KEYS = (
    "Records",
    "Event",
    "source",
    "eventSource",
    "eventName",
    "s3",
    "bucket",
    "object",
    "name",
    "key",
    "versionId",
    "sequencer",
    "detail-type",
    "detail",
    "version-id",
    "reason",
)
JSON = json_values(EVENT_KEYS)
CREATED_NAMES = ("ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy", "s3:ObjectCreated:Put")
OTHER_NAMES = ("ObjectRemoved:Delete", "ObjectTagging:Put", "ObjectRestore:Completed", "s3:ObjectRemoved:*")
VALID_KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1)


@dataclass(frozen=True)
class RecordModel:
    """What one record says, before S3 encodes it."""

    event_name: str
    bucket: str
    key: str
    version_id: str | None
    plus_for_space: bool

    @property
    def created(self) -> bool:
        return self.event_name.removeprefix("s3:").startswith("ObjectCreated:")

    def to_json(self) -> dict[str, Any]:
        encoded = quote_plus(self.key, safe="/") if self.plus_for_space else quote(self.key, safe="")
        obj: dict[str, Any] = {"key": encoded, "size": 7, "sequencer": "0055AED6DCD90281E5"}
        if self.version_id is not None:
            obj["versionId"] = self.version_id
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": self.event_name,
            "s3": {"bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"}, "object": obj},
        }


RECORDS = st.builds(
    RecordModel,
    event_name=st.sampled_from(CREATED_NAMES + OTHER_NAMES),
    bucket=st.sampled_from(["my-backups", "b.example-2024"]) | ANY_TEXT.filter(bool),
    key=VALID_KEYS,
    version_id=st.none() | ANY_TEXT,
    plus_for_space=st.booleans(),
)


def event_of(models: list[RecordModel]) -> dict[str, Any]:
    return {"Records": [m.to_json() for m in models]}


@dataclass(frozen=True)
class BridgeModel:
    """What one EventBridge event says, before S3 does or does not encode its key."""

    detail_type: str
    bucket: str
    key: str
    version_id: str | None
    encoded: bool

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"key": quote_plus(self.key) if self.encoded else self.key, "size": 7}
        if self.version_id is not None:
            obj["version-id"] = self.version_id
        return {
            "version": "0",
            "detail-type": self.detail_type,
            "source": "aws.s3",
            "detail": {"bucket": {"name": self.bucket}, "object": obj, "reason": "PutObject"},
        }


BRIDGE_EVENTS = st.builds(
    BridgeModel,
    detail_type=st.sampled_from(["Object Created", "Object Deleted", "Object Restore Completed"]),
    bucket=st.sampled_from(["my-backups", "b.example-2024"]) | ANY_TEXT.filter(bool),
    key=VALID_KEYS,
    version_id=st.none() | ANY_TEXT,
    encoded=st.booleans(),
)

VALID_EVENTS = st.lists(RECORDS, max_size=5).map(event_of) | BRIDGE_EVENTS.map(BridgeModel.to_json)


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for step, child in items:
        yield (*prefix, step)
        yield from paths(child, (*prefix, step))


@st.composite
def mutated_events(draw: st.DrawFn) -> object:
    """A valid event (either shape) with a few values deleted, replaced by any JSON, or changed in type."""
    raw: Any = draw(
        st.lists(RECORDS, min_size=1, max_size=5).map(event_of) | BRIDGE_EVENTS.map(BridgeModel.to_json)
    )
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        candidates = list(paths(raw))
        if not candidates:
            return raw
        *parent_path, last = draw(st.sampled_from(candidates))
        parent = raw
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["delete", "replace", "wrap", "stringify", "empty"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(JSON)
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif action == "stringify":
            parent[last] = str(parent[last])
        else:
            parent[last] = type(parent[last])() if isinstance(parent[last], dict | list | str) else None
    return raw


ANY_EVENT = st.one_of(JSON, mutated_events(), VALID_EVENTS)


def parse_or_error(raw: object) -> S3Notification | EventError:
    try:
        return parse_event(raw)
    except EventError as error:
        return error


def expected_calls(notification: S3Notification) -> list[Call]:
    """The GETs the handler makes when every object is gone: each key, then its fallback if it has one.

    A bucket name botocore refuses fails the first GET (no request sent), so its fallback is never tried.
    """
    calls = []
    for record in notification.created:
        sendable = bool(VALID_BUCKET.search(record.bucket) or VALID_S3_ARN.search(record.bucket))
        for key in (record.key, record.fallback_key if sendable else None):
            if key is None:
                continue
            params: dict[str, Any] = {"Bucket": record.bucket, "Key": key}
            if record.version_id is not None:
                params["VersionId"] = record.version_id
            calls.append(Call("GetObjectTagging", params))
    return calls


# --- parse_event ---


@FUZZ
@given(JSON)
def test_any_json_is_a_consistent_notification_or_an_event_error(raw: object) -> None:
    result = parse_or_error(raw)
    event("refused" if isinstance(result, EventError) else "parsed")
    if isinstance(result, EventError):
        assert str(result)
        return
    assert isinstance(raw, dict)
    if result.test_event:
        assert (result.created, result.ignored) == ((), ())
        return
    if result.eventbridge:
        assert len(result.created) + len(result.ignored) == 1
        return
    indexes = sorted([r.index for r in result.created] + [r.index for r in result.ignored])
    assert indexes == list(range(len(raw["Records"])))
    for record in result.created:
        record.key.encode("utf-8")  # a key boto3 can send
        assert record.bucket and record.key


@FUZZ
@given(st.lists(RECORDS, max_size=6))
def test_valid_events_parse_to_exactly_their_records(models: list[RecordModel]) -> None:
    result = parse_event(event_of(models))
    created = [(r.event_name, r.bucket, r.key, r.version_id or None) for r in result.created]
    assert created == [(m.event_name, m.bucket, m.key, m.version_id or None) for m in models if m.created]
    assert [r.event_name for r in result.ignored] == [m.event_name for m in models if not m.created]


@FUZZ
@given(mutated_events())
def test_mutated_events_parse_to_what_they_say_or_raise_event_error(raw: Any) -> None:
    result = parse_or_error(raw)
    event("refused" if isinstance(result, EventError) else "parsed")
    if isinstance(result, EventError):
        return
    if result.eventbridge:
        for record in result.created:
            detail = raw["detail"]
            assert record.bucket == detail["bucket"]["name"]
            assert detail["object"]["key"] in (record.key, record.fallback_key)
            assert record.version_id == (detail["object"].get("version-id") or None)
        return
    for record in result.created:
        source = raw["Records"][record.index]
        assert record.bucket == source["s3"]["bucket"]["name"]
        assert record.key == unquote_plus(source["s3"]["object"]["key"])
        assert record.version_id == (source["s3"]["object"].get("versionId") or None)


@FUZZ
@given(BRIDGE_EVENTS)
def test_valid_eventbridge_events_name_their_key_first_or_as_the_fallback(model: BridgeModel) -> None:
    result = parse_event(model.to_json())
    assert result.eventbridge
    if model.detail_type != "Object Created":
        assert [r.event_name for r in result.ignored] == [model.detail_type]
        return
    [record] = result.created
    assert (record.bucket, record.version_id) == (model.bucket, model.version_id or None)
    if model.encoded:
        assert record.key == model.key
    else:
        assert model.key in (record.key, record.fallback_key)
    assert record.fallback_key != record.key


# --- the handler: invalid events make no S3 call ---


def object_gone(operation: str, request: AWSPreparedRequest) -> tuple[int, bytes]:
    return 404, error_xml("NoSuchKey", "The specified key does not exist.")


@pytest.fixture(scope="module")
def offline_s3() -> OfflineService:
    return OfflineService("s3", object_gone)


@pytest.fixture(scope="module")
def tagger(offline_s3: OfflineService) -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARCHIVE_UNKNOWN", "false")
        patch.setenv("POWERTOOLS_SERVICE_NAME", "glacierable-tagger")
        module = importlib.import_module("glacierable.handlers.tagger")
        patch.setattr(module.metrics, "namespace", "Glacierable")
        patch.setattr(module.logger.registered_handler, "stream", io.StringIO())
        with module.s3.use(offline_s3.client()):
            yield module


@FUZZ
@given(ANY_EVENT)
def test_tagger_handler_calls_s3_only_for_the_records_of_a_valid_event(
    tagger: ModuleType, offline_s3: OfflineService, raw: object
) -> None:
    offline_s3.reset()
    tagger.logger.registered_handler.stream = io.StringIO()
    expected = parse_or_error(copy.deepcopy(raw))
    event("refused" if isinstance(expected, EventError) else f"{len(expected.created)} created")
    if isinstance(expected, EventError):
        with pytest.raises(EventError):
            tagger.handler(raw, FakeLambdaContext())
        assert offline_s3.calls == []
        assert offline_s3.sent == []
        return
    try:
        counts = tagger.handler(raw, FakeLambdaContext())
    except tagger.TaggingFailedError:
        pass  # botocore refused a bucket name S3 could never have sent; named in the error, no request
    else:
        # Every object answered NoSuchKey: gone since the event, skipped without a PUT.
        assert counts["Skipped"] == len(expected.ignored) + len(expected.created)
    assert offline_s3.calls == expected_calls(expected)
    event("sent" if offline_s3.sent else "nothing sent")
    assert len(offline_s3.sent) <= len(expected_calls(expected))
