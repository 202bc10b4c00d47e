"""Pure parsing of S3 event notifications into typed records: what to tag, what to ignore, what is wrong.

Accepted: the S3 notification that S3 sends straight to Lambda (`Records[]` with `eventSource` "aws:s3"),
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html, and the
`s3:TestEvent` S3 sends when a notification is configured (no records). Not accepted, with a clear
EventError: SQS- or SNS-wrapped notifications and EventBridge "Object Created" events (the stack wires
S3 to the tagger directly, and EventBridge's key encoding is not documented well enough to decode safely).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

OBJECT_CREATED = "ObjectCreated:"
"""Prefix of the event names the tagger acts on (Put, Post, Copy, CompleteMultipartUpload)."""

TEST_EVENT = "s3:TestEvent"
EVENT_SOURCE = "aws:s3"


class EventError(ValueError):
    """The event is not an S3 notification we can read; the message names what is missing or wrong."""


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    """One ObjectCreated record: the object version to tag, with its key already URL-decoded."""

    index: int
    event_name: str
    bucket: str
    key: str
    version_id: str | None
    sequencer: str | None


@dataclass(frozen=True, slots=True)
class IgnoredRecord:
    """A well-formed record the tagger does not act on (ObjectRemoved, ObjectTagging, Restore, ...)."""

    index: int
    event_name: str


@dataclass(frozen=True, slots=True)
class S3Notification:
    """A parsed notification: records to tag, records ignored, and whether it was S3's test event."""

    created: tuple[ObjectCreated, ...]
    ignored: tuple[IgnoredRecord, ...]
    test_event: bool = False


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise EventError(f"{where} is {_json_type(value)}, expected an object")
    return value


def _field(parent: dict[str, object], name: str, where: str) -> object:
    if name not in parent:
        raise EventError(f"{where}.{name} is missing")
    return parent[name]


def _string(parent: dict[str, object], name: str, where: str) -> str:
    value = _field(parent, name, where)
    if not isinstance(value, str) or not value:
        shown = "an empty string" if value == "" else _json_type(value)
        raise EventError(f"{where}.{name} is {shown}, expected a non-empty string")
    return value


def _optional_string(parent: dict[str, object], name: str, where: str) -> str | None:
    value = parent.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventError(f"{where}.{name} is {_json_type(value)}, expected a string")
    return value


def decode_key(raw: str, where: str = "key") -> str:
    """Decode an event's URL-encoded key ('+' is a space); EventError if it is not valid UTF-8."""
    try:
        key = unquote_plus(raw, errors="strict")
        # Lone surrogates (possible in JSON, impossible in a real S3 key) would only fail later in boto3.
        key.encode("utf-8")
    except UnicodeError as error:
        raise EventError(f"{where} {raw!r} does not decode to a valid UTF-8 key: {error}") from None
    return key


def _record(index: int, raw: object) -> ObjectCreated | IgnoredRecord:
    where = f"Records[{index}]"
    record = _object(raw, where)
    source = _field(record, "eventSource", where)
    if source != EVENT_SOURCE:
        raise EventError(
            f"{where}.eventSource is {source!r}, expected {EVENT_SOURCE!r} "
            "(only S3 notifications sent straight to Lambda are accepted, not SQS/SNS-wrapped ones)"
        )
    event_name = _string(record, "eventName", where)
    # S3 sends "ObjectCreated:Put"; configurations and some emulators spell it "s3:ObjectCreated:Put".
    name = event_name.removeprefix("s3:")
    if not name.startswith(OBJECT_CREATED):
        return IgnoredRecord(index, event_name)
    s3 = _object(_field(record, "s3", where), f"{where}.s3")
    bucket = _object(_field(s3, "bucket", f"{where}.s3"), f"{where}.s3.bucket")
    obj = _object(_field(s3, "object", f"{where}.s3"), f"{where}.s3.object")
    return ObjectCreated(
        index=index,
        event_name=event_name,
        bucket=_string(bucket, "name", f"{where}.s3.bucket"),
        key=decode_key(_string(obj, "key", f"{where}.s3.object"), f"{where}.s3.object.key"),
        version_id=_optional_string(obj, "versionId", f"{where}.s3.object"),
        sequencer=_optional_string(obj, "sequencer", f"{where}.s3.object"),
    )


def parse_event(event: object) -> S3Notification:
    """Parse an S3 notification; raises EventError naming what is missing or wrong, for any other value."""
    body = _object(event, "event")
    if body.get("Event") == TEST_EVENT:
        return S3Notification(created=(), ignored=(), test_event=True)
    if "Records" not in body:
        if body.get("source") == "aws.s3":
            raise EventError("event is an EventBridge event; the tagger accepts S3 notifications only")
        keys = ", ".join(sorted(repr(k) for k in body)[:10]) or "none"
        raise EventError(f"event.Records is missing and this is not an {TEST_EVENT} (top-level keys: {keys})")
    records = body["Records"]
    if not isinstance(records, list):
        raise EventError(f"event.Records is {_json_type(records)}, expected an array")
    created: list[ObjectCreated] = []
    ignored: list[IgnoredRecord] = []
    for index, raw in enumerate(records):
        parsed = _record(index, raw)
        if isinstance(parsed, ObjectCreated):
            created.append(parsed)
        else:
            ignored.append(parsed)
    return S3Notification(created=tuple(created), ignored=tuple(ignored))
