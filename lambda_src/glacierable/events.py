"""Pure parsing of S3 Object Created events into typed records: what to tag, what to ignore, what is wrong.

Two shapes, accepted whichever way the stack delivers events (`events=eventbridge` or `direct`):
- the S3 notification S3 sends straight to Lambda (`Records[]` with `eventSource` "aws:s3"),
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html, and the
  `s3:TestEvent` S3 sends when a notification is configured (no records);
- the EventBridge event S3 puts on the default bus (`source` "aws.s3", `detail-type` "Object Created",
  `detail.bucket.name`, `detail.object.key`, `detail.object["version-id"]`, `detail.reason`),
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html.
Anything else (SQS- or SNS-wrapped notifications, other sources) is an EventError naming what is wrong.

Key encoding. A notification's key is URL-encoded, as AWS documents ("red flower.jpg" becomes
"red+flower.jpg"). For EventBridge's `detail.object.key` AWS documents nothing: its examples use plain
keys ("example-key"); Powertools' `S3EventBridgeNotificationObject.key` (AWS-maintained) applies
`unquote_plus`, exactly as it does for notification keys; Powertools' own pydantic models decode neither
shape, so they are no evidence; moto 5.2.5 (`moto/s3/notifications.py`) sends `key.name` raw to
EventBridge while `quote_plus`-ing it for notifications. We follow Powertools (decode first) and carry the
key as delivered in `fallback_key` whenever the two differ, so the tagger tries it before calling the
object gone: right either way, at the cost of one more GetObjectTagging for a key holding '+' or '%' when
EventBridge turns out to send keys raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

OBJECT_CREATED = "ObjectCreated:"
"""Prefix of the notification event names the tagger acts on (Put, Post, Copy, CompleteMultipartUpload)."""

TEST_EVENT = "s3:TestEvent"
EVENT_SOURCE = "aws:s3"
"""`eventSource` of a notification record."""
EVENTBRIDGE_SOURCE = "aws.s3"
"""`source` of an EventBridge event from S3."""
OBJECT_CREATED_DETAIL_TYPE = "Object Created"
"""`detail-type` of the EventBridge events the tagger acts on (the rule selects only these)."""


class EventError(ValueError):
    """The event is not an S3 event we can read; the message names what is missing or wrong."""


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    """One created object version to tag, with its key decoded.

    `fallback_key` is the key exactly as the event carried it, when that differs from `key` and could be
    the real key (EventBridge's encoding is undocumented): tried before the object is called gone.
    """

    index: int
    event_name: str
    bucket: str
    key: str
    version_id: str | None
    sequencer: str | None
    fallback_key: str | None = None


@dataclass(frozen=True, slots=True)
class IgnoredRecord:
    """A well-formed record the tagger does not act on (ObjectRemoved, ObjectTagging, Restore, ...)."""

    index: int
    event_name: str


@dataclass(frozen=True, slots=True)
class S3Notification:
    """A parsed event: records to tag, records ignored, whether it was S3's test event or EventBridge's."""

    created: tuple[ObjectCreated, ...]
    ignored: tuple[IgnoredRecord, ...]
    test_event: bool = False
    eventbridge: bool = False


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


def _utf8(key: str, raw: str, where: str) -> str:
    try:
        # Lone surrogates (possible in JSON, impossible in a real S3 key) would only fail later in boto3.
        key.encode("utf-8")
    except UnicodeError as error:
        raise EventError(f"{where} {raw!r} is not a valid UTF-8 key: {error}") from None
    return key


def decode_key(raw: str, where: str = "key") -> str:
    """Decode an event's URL-encoded key ('+' is a space); EventError if it is not valid UTF-8."""
    try:
        key = unquote_plus(raw, errors="strict")
    except UnicodeError as error:
        raise EventError(f"{where} {raw!r} does not decode to a valid UTF-8 key: {error}") from None
    return _utf8(key, raw, where)


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
        # Documented as URL-encoded: the raw form is never the key, so there is no fallback.
        key=decode_key(_string(obj, "key", f"{where}.s3.object"), f"{where}.s3.object.key"),
        version_id=_optional_string(obj, "versionId", f"{where}.s3.object"),
        sequencer=_optional_string(obj, "sequencer", f"{where}.s3.object"),
    )


def _eventbridge_key(raw: str, where: str) -> tuple[str, str | None]:
    """The key to try first and, when it differs, the raw one to try next (see the module docstring)."""
    raw = _utf8(raw, raw, where)
    try:
        key = decode_key(raw, where)
    except EventError:
        # Not a valid encoding ("%FF", "%zz" stays as is): then it can only be the key itself.
        return raw, None
    return key, (raw if raw != key else None)


def _eventbridge(body: dict[str, object]) -> S3Notification:
    source = _field(body, "source", "event")
    if source != EVENTBRIDGE_SOURCE:
        raise EventError(
            f"event.source is {source!r}, expected {EVENTBRIDGE_SOURCE!r} "
            "(only S3's own EventBridge events are accepted)"
        )
    detail_type = _string(body, "detail-type", "event")
    if detail_type != OBJECT_CREATED_DETAIL_TYPE:
        # Well-formed but not ours (Object Deleted, Object Restore Completed...): as an ObjectRemoved record.
        return S3Notification(created=(), ignored=(IgnoredRecord(0, detail_type),), eventbridge=True)
    detail = _object(_field(body, "detail", "event"), "event.detail")
    bucket = _object(_field(detail, "bucket", "event.detail"), "event.detail.bucket")
    obj = _object(_field(detail, "object", "event.detail"), "event.detail.object")
    key, fallback = _eventbridge_key(_string(obj, "key", "event.detail.object"), "event.detail.object.key")
    reason = _optional_string(detail, "reason", "event.detail")
    created = ObjectCreated(
        index=0,
        event_name=f"{detail_type}:{reason}" if reason else detail_type,
        bucket=_string(bucket, "name", "event.detail.bucket"),
        key=key,
        version_id=_optional_string(obj, "version-id", "event.detail.object"),
        sequencer=_optional_string(obj, "sequencer", "event.detail.object"),
        fallback_key=fallback,
    )
    return S3Notification(created=(created,), ignored=(), eventbridge=True)


def _top_level_keys(body: dict[str, object]) -> str:
    return ", ".join(sorted(repr(k) for k in body)[:10]) or "none"


def parse_event(event: object) -> S3Notification:
    """Parse an S3 notification or EventBridge S3 event; anything else is an EventError naming the problem."""
    body = _object(event, "event")
    if body.get("Event") == TEST_EVENT:
        return S3Notification(created=(), ignored=(), test_event=True)
    if "Records" not in body:
        if "source" in body or "detail-type" in body:
            return _eventbridge(body)
        raise EventError(
            "event is neither an S3 notification (no Records), an EventBridge event (no source, "
            f"detail-type) nor an {TEST_EVENT} (top-level keys: {_top_level_keys(body)})"
        )
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


def key_prefix_forms(prefix: str) -> tuple[str, ...]:
    """`prefix` as an EventBridge event may carry it: raw, and URL-encoded as S3 encodes notification keys.

    S3 keeps '/' in notification keys; moto encodes it as %2F. Each distinct form once, raw first.
    """
    forms = (prefix, quote_plus(prefix, safe="/"), quote_plus(prefix, safe=""))
    return tuple(dict.fromkeys(forms))


@dataclass(frozen=True, slots=True)
class EventPattern:
    """An EventBridge event pattern: each field lists the values (or matchers) it accepts."""

    source: tuple[str, ...]
    detail_type: tuple[str, ...]
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The pattern as PutRule's EventPattern document."""
        return {"source": list(self.source), "detail-type": list(self.detail_type), "detail": self.detail}


def eventbridge_pattern(bucket: str, prefix: str) -> EventPattern:
    """The pattern that selects S3's Object Created events for `bucket` under `prefix`.

    The key's prefix is matched in each form `key_prefix_forms` gives (EventBridge ORs a list of
    matchers), so the rule selects the right events whether or not EventBridge encodes keys.
    """
    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
    if prefix:
        detail["object"] = {"key": [{"prefix": form} for form in key_prefix_forms(prefix)]}
    return EventPattern(
        source=(EVENTBRIDGE_SOURCE,), detail_type=(OBJECT_CREATED_DETAIL_TYPE,), detail=detail
    )
