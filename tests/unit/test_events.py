"""parse_event: S3 notifications as S3 really sends them, the test event, and every malformed shape."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierable.events import (
    EventError,
    IgnoredRecord,
    ObjectCreated,
    eventbridge_pattern,
    key_prefix_forms,
    parse_event,
)

VOLUME = "duplicity-full.20231114T221320Z.vol1.difftar.gpg"


def s3_record(
    key: str,
    *,
    event_name: str = "ObjectCreated:Put",
    bucket: str = "my-backups",
    version_id: str | None = None,
    sequencer: str | None = "0055AED6DCD90281E5",
) -> dict[str, Any]:
    """A record shaped like the AWS documentation's example; `key` is given already URL-encoded."""
    obj: dict[str, Any] = {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e"}
    if version_id is not None:
        obj["versionId"] = version_id
    if sequencer is not None:
        obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2023-11-14T22:13:20.000Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "glacierable-tagger",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2023-11-14T22:13:20.000Z",
    "Bucket": "my-backups",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def only_created(raw: object) -> ObjectCreated:
    parsed = parse_event(raw)
    assert parsed.ignored == ()
    assert len(parsed.created) == 1
    return parsed.created[0]


# --- what is accepted ---


def test_put_record_gives_bucket_key_and_event_name() -> None:
    record = only_created(event(s3_record(f"backups/{VOLUME}")))
    assert (record.bucket, record.key, record.event_name, record.index) == (
        "my-backups",
        f"backups/{VOLUME}",
        "ObjectCreated:Put",
        0,
    )


@pytest.mark.parametrize("name", ["Put", "Post", "Copy", "CompleteMultipartUpload"])
def test_every_object_created_variant_is_to_be_tagged(name: str) -> None:
    assert only_created(event(s3_record(VOLUME, event_name=f"ObjectCreated:{name}"))).key == VOLUME


def test_event_name_with_s3_prefix_is_accepted() -> None:
    assert only_created(event(s3_record(VOLUME, event_name="s3:ObjectCreated:Put"))).key == VOLUME


def test_plus_in_key_decodes_to_space() -> None:
    assert only_created(event(s3_record("my+backups/host+2/" + VOLUME))).key == f"my backups/host 2/{VOLUME}"


def test_encoded_plus_decodes_to_plus() -> None:
    assert only_created(event(s3_record("c%2B%2B/" + VOLUME))).key == f"c++/{VOLUME}"


def test_encoded_slash_decodes_to_slash() -> None:
    # moto (and some S3 paths) encode '/' as %2F.
    assert only_created(event(s3_record("backups%2Fhost1%2F" + VOLUME))).key == f"backups/host1/{VOLUME}"


def test_unicode_percent_encoding_decodes_to_utf8() -> None:
    assert (
        only_created(event(s3_record("caf%C3%A9+%E6%97%A5%E6%9C%AC/" + VOLUME))).key == f"café 日本/{VOLUME}"
    )


def test_version_id_and_sequencer_are_carried() -> None:
    record = only_created(
        event(s3_record(VOLUME, version_id="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd", sequencer="0A1B"))
    )
    assert (record.version_id, record.sequencer) == ("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd", "0A1B")


def test_unversioned_record_has_no_version_id() -> None:
    record = only_created(event(s3_record(VOLUME, sequencer=None)))
    assert (record.version_id, record.sequencer) == (None, None)


def test_test_event_has_no_records() -> None:
    parsed = parse_event(TEST_EVENT)
    assert (parsed.created, parsed.ignored, parsed.test_event) == ((), (), True)


@pytest.mark.parametrize(
    "name",
    ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated", "ObjectTagging:Put", "ObjectRestore:Post"],
)
def test_non_object_created_records_are_ignored_not_errors(name: str) -> None:
    parsed = parse_event(event(s3_record(VOLUME, event_name=name)))
    assert parsed.created == ()
    assert parsed.ignored == (IgnoredRecord(index=0, event_name=name),)


def test_ignored_records_are_not_validated_beyond_their_event_name() -> None:
    parsed = parse_event(event({"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete"}))
    assert parsed.ignored == (IgnoredRecord(0, "ObjectRemoved:Delete"),)


def test_mixed_records_keep_their_indexes() -> None:
    parsed = parse_event(
        event(
            s3_record("a"),
            s3_record("b", event_name="ObjectRemoved:Delete"),
            s3_record("c", event_name="ObjectCreated:Copy"),
        )
    )
    assert [(r.index, r.key) for r in parsed.created] == [(0, "a"), (2, "c")]
    assert [r.index for r in parsed.ignored] == [1]


def test_empty_records_list_is_nothing_to_do() -> None:
    parsed = parse_event({"Records": []})
    assert (parsed.created, parsed.ignored, parsed.test_event) == ((), (), False)


def test_event_that_went_through_json_round_trip_parses_the_same() -> None:
    raw = event(s3_record("a+b%2Fc", version_id="v1"))
    assert parse_event(json.loads(json.dumps(raw))) == parse_event(raw)


# --- malformed input: EventError naming what is wrong and where ---


def set_path(raw: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(raw)
    target: Any = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


def del_path(raw: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    mutated = copy.deepcopy(raw)
    target: Any = mutated
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return mutated


GOOD = event(s3_record("ok"), s3_record(VOLUME))
NEITHER = (
    "event is neither an S3 notification (no Records), an EventBridge event (no source, detail-type) "
    "nor an s3:TestEvent"
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([GOOD], "event is array, expected an object"),
        ("Records", "event is string, expected an object"),
        (None, "event is null, expected an object"),
        ({}, f"{NEITHER} (top-level keys: none)"),
        ({"Event": "s3:Other"}, f"{NEITHER} (top-level keys: 'Event')"),
        ({"Records": {"0": {}}}, "event.Records is object, expected an array"),
        ({"Records": None}, "event.Records is null, expected an array"),
        (event(s3_record("ok"), "oops"), "Records[1] is string, expected an object"),  # type: ignore[arg-type]
        (del_path(GOOD, ("Records", 1, "eventSource")), "Records[1].eventSource is missing"),
        (del_path(GOOD, ("Records", 1, "eventName")), "Records[1].eventName is missing"),
        (
            set_path(GOOD, ("Records", 1, "eventName"), 7),
            "Records[1].eventName is number, expected a non-empty string",
        ),
        (del_path(GOOD, ("Records", 1, "s3")), "Records[1].s3 is missing"),
        (set_path(GOOD, ("Records", 1, "s3"), []), "Records[1].s3 is array, expected an object"),
        (del_path(GOOD, ("Records", 1, "s3", "bucket")), "Records[1].s3.bucket is missing"),
        (del_path(GOOD, ("Records", 1, "s3", "bucket", "name")), "Records[1].s3.bucket.name is missing"),
        (
            set_path(GOOD, ("Records", 1, "s3", "bucket", "name"), ""),
            "Records[1].s3.bucket.name is an empty string, expected a non-empty string",
        ),
        (del_path(GOOD, ("Records", 1, "s3", "object")), "Records[1].s3.object is missing"),
        (del_path(GOOD, ("Records", 1, "s3", "object", "key")), "Records[1].s3.object.key is missing"),
        (
            set_path(GOOD, ("Records", 1, "s3", "object", "key"), 42),
            "Records[1].s3.object.key is number, expected a non-empty string",
        ),
        (
            set_path(GOOD, ("Records", 1, "s3", "object", "key"), None),
            "Records[1].s3.object.key is null, expected a non-empty string",
        ),
        (
            set_path(GOOD, ("Records", 1, "s3", "object", "versionId"), ["v1"]),
            "Records[1].s3.object.versionId is array, expected a string",
        ),
        (
            set_path(GOOD, ("Records", 1, "s3", "object", "sequencer"), True),
            "Records[1].s3.object.sequencer is boolean, expected a string",
        ),
    ],
)
def test_malformed_event_error_names_what_and_where(raw: Any, message: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(raw)
    assert str(caught.value) == message


def test_sqs_wrapped_notification_is_rejected_with_the_reason() -> None:
    sqs = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(event(s3_record(VOLUME)))}]}
    with pytest.raises(EventError, match=r"Records\[0\]\.eventSource is 'aws:sqs', expected 'aws:s3'.*SQS"):
        parse_event(sqs)


def test_key_that_is_not_utf8_after_decoding_is_an_error_naming_the_record() -> None:
    with pytest.raises(EventError, match=r"Records\[0\]\.s3\.object\.key 'bad%FF' does not decode"):
        parse_event(event(s3_record("bad%FF")))


def test_event_error_is_a_value_error() -> None:
    assert issubclass(EventError, ValueError)


# --- totality ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


def parse_or_event_error(raw: object) -> None:
    with contextlib.suppress(EventError):
        parse_event(raw)


@given(json_values)
def test_any_json_value_parses_or_raises_event_error(raw: object) -> None:
    parse_or_event_error(raw)


@given(
    st.dictionaries(
        st.sampled_from(["Records", "Event", "source", "detail-type", "detail"]), json_values, max_size=4
    )
)
def test_any_top_level_shape_parses_or_raises_event_error(raw: object) -> None:
    parse_or_event_error(raw)


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for step, child in items:
        found.append((*prefix, step))
        found.extend(paths(child, (*prefix, step)))
    return found


VALID = event(
    s3_record("a+b%2Fc", version_id="v1"),
    s3_record("x", event_name="ObjectRemoved:Delete"),
    s3_record("caf%C3%A9", event_name="ObjectCreated:CompleteMultipartUpload"),
)


@given(st.data())
def test_mutated_valid_event_parses_or_raises_event_error(data: st.DataObject) -> None:
    raw = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        candidates = paths(raw)
        if not candidates:
            break
        path = data.draw(st.sampled_from(candidates))
        raw = del_path(raw, path) if data.draw(st.booleans()) else set_path(raw, path, data.draw(json_values))
    parse_or_event_error(raw)


@given(st.text(min_size=1).filter(lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_any_key_survives_s3_url_encoding(key: str) -> None:
    assert only_created(event(s3_record(quote_plus(key)))).key == key


# --- EventBridge "Object Created" events ---


def bridge_event(
    key: str,
    *,
    bucket: str = "my-backups",
    version_id: str | None = "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    reason: str | None = "PutObject",
    detail_type: str = "Object Created",
) -> dict[str, Any]:
    """Shaped like the example in AWS's EventBridge event message structure page; `key` as delivered."""
    obj: dict[str, Any] = {
        "key": key,
        "size": 5,
        "etag": "b1946ac92492d2347c6235b4d2611184",
        "sequencer": "617f08299329d189",
    }
    if version_id is not None:
        obj["version-id"] = version_id
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
    }
    if reason is not None:
        detail["reason"] = reason
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2021-11-12T00:00:00Z",
        "region": "ca-central-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }


AWKWARD = "a b+c%20d.vol1.difftar.gpg"
"""A space, a plus and a percent: every decoding question at once."""


def test_eventbridge_event_gives_bucket_key_version_and_reason() -> None:
    parsed = parse_event(bridge_event(f"backups/{VOLUME}"))
    assert parsed.eventbridge
    assert parsed.created == (
        ObjectCreated(
            index=0,
            event_name="Object Created:PutObject",
            bucket="my-backups",
            key=f"backups/{VOLUME}",
            version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            sequencer="617f08299329d189",
            fallback_key=None,
        ),
    )


def test_eventbridge_event_without_version_or_reason() -> None:
    record = only_created(bridge_event(VOLUME, version_id=None, reason=None))
    assert (record.event_name, record.version_id) == ("Object Created", None)


def test_raw_eventbridge_key_is_decoded_first_and_kept_as_the_fallback() -> None:
    record = only_created(bridge_event(AWKWARD))
    assert (record.key, record.fallback_key) == ("a b c d.vol1.difftar.gpg", AWKWARD)


def test_encoded_eventbridge_key_decodes_to_the_key_with_the_encoding_as_fallback() -> None:
    record = only_created(bridge_event(quote_plus(AWKWARD)))
    assert (record.key, record.fallback_key) == (AWKWARD, quote_plus(AWKWARD))


def test_eventbridge_key_that_no_decoding_changes_has_no_fallback() -> None:
    assert only_created(bridge_event(f"backups/{VOLUME}")).fallback_key is None


@pytest.mark.parametrize("raw", ["bad%FF.gpg", "100%.gpg", "%zz"])
def test_eventbridge_key_that_is_no_valid_encoding_is_the_key_itself(raw: str) -> None:
    # As a notification key "bad%FF" is an error (it must be an encoding); from EventBridge it may be raw.
    record = only_created(bridge_event(raw))
    assert (record.key, record.fallback_key) == (raw, None)


@pytest.mark.parametrize(
    "detail_type",
    ["Object Deleted", "Object Restore Completed", "Object Tags Added", "Object Restore Expired"],
)
def test_other_s3_eventbridge_events_are_ignored_not_errors(detail_type: str) -> None:
    parsed = parse_event(bridge_event(VOLUME, detail_type=detail_type))
    assert (parsed.created, parsed.ignored, parsed.eventbridge) == (
        (),
        (IgnoredRecord(0, detail_type),),
        True,
    )


BRIDGE = bridge_event(VOLUME)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            set_path(BRIDGE, ("source",), "aws.ec2"),
            "event.source is 'aws.ec2', expected 'aws.s3' (only S3's own EventBridge events are accepted)",
        ),
        (del_path(BRIDGE, ("source",)), "event.source is missing"),
        (del_path(BRIDGE, ("detail-type",)), "event.detail-type is missing"),
        (set_path(BRIDGE, ("detail-type",), 3), "event.detail-type is number, expected a non-empty string"),
        (del_path(BRIDGE, ("detail",)), "event.detail is missing"),
        (set_path(BRIDGE, ("detail",), "{}"), "event.detail is string, expected an object"),
        (del_path(BRIDGE, ("detail", "bucket")), "event.detail.bucket is missing"),
        (del_path(BRIDGE, ("detail", "bucket", "name")), "event.detail.bucket.name is missing"),
        (del_path(BRIDGE, ("detail", "object")), "event.detail.object is missing"),
        (del_path(BRIDGE, ("detail", "object", "key")), "event.detail.object.key is missing"),
        (
            set_path(BRIDGE, ("detail", "object", "key"), ""),
            "event.detail.object.key is an empty string, expected a non-empty string",
        ),
        (
            set_path(BRIDGE, ("detail", "object", "key"), "\ud800"),
            "event.detail.object.key '\\ud800' is not a valid UTF-8 key: "
            "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed",
        ),
        (
            set_path(BRIDGE, ("detail", "object", "version-id"), 7),
            "event.detail.object.version-id is number, expected a string",
        ),
        (
            set_path(BRIDGE, ("detail", "reason"), ["PutObject"]),
            "event.detail.reason is array, expected a string",
        ),
    ],
)
def test_malformed_eventbridge_event_error_names_what_and_where(raw: Any, message: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(raw)
    assert str(caught.value) == message


def test_notification_wrapped_in_eventbridge_shape_is_not_mistaken_for_records() -> None:
    # An SQS-style "Records" wins over a stray "source": the records are validated as notification records.
    with pytest.raises(EventError, match=r"Records\[0\]\.eventSource is missing"):
        parse_event({"source": "aws.s3", "Records": [{}]})


@given(st.text(min_size=1).filter(lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_any_eventbridge_key_is_found_whether_or_not_it_was_encoded(key: str) -> None:
    encoded = only_created(bridge_event(quote_plus(key)))
    assert encoded.key == key
    raw = only_created(bridge_event(key))
    assert key in (raw.key, raw.fallback_key)


# --- the rule's pattern ---


def test_pattern_selects_object_created_events_of_the_bucket() -> None:
    assert eventbridge_pattern("my-backups", "").to_json() == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["my-backups"]}},
    }


def test_pattern_matches_the_prefix_raw_and_encoded() -> None:
    assert eventbridge_pattern("b", "my backups/").detail["object"] == {
        "key": [{"prefix": "my backups/"}, {"prefix": "my+backups/"}, {"prefix": "my+backups%2F"}]
    }


@pytest.mark.parametrize(
    ("prefix", "forms"),
    [
        ("backups", ("backups",)),
        ("backups/host-1_a.b~/", ("backups/host-1_a.b~/", "backups%2Fhost-1_a.b~%2F")),
        ("c++/", ("c++/", "c%2B%2B/", "c%2B%2B%2F")),
    ],
)
def test_prefix_forms_are_distinct_and_raw_first(prefix: str, forms: tuple[str, ...]) -> None:
    assert key_prefix_forms(prefix) == forms


@given(st.text(min_size=1).filter(lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_every_key_under_the_prefix_starts_with_one_of_its_forms_as_s3_or_moto_would_encode_it(
    key: str,
) -> None:
    prefix = "my backups/c++ 100%/"
    full = prefix + key
    forms = key_prefix_forms(prefix)
    for delivered in (full, quote_plus(full, safe="/"), quote_plus(full, safe="")):
        assert any(delivered.startswith(form) for form in forms)
