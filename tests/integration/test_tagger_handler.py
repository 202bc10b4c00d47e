"""The tagger Lambda handler end to end against a moto S3 server: events in, tags, logs and metrics out."""

from __future__ import annotations

import importlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from glacierable import TAG_KEY
from glacierable.events import EventError, eventbridge_pattern
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NAMESPACE = "Glacierable"
VOLUME = "my backups/host1/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
VOLUME2 = "my backups/host1/duplicity-full.20231114T221320Z.vol2.difftar.gpg"
MANIFEST = "my backups/host1/duplicity-full.20231114T221320Z.manifest.gpg"


@dataclass
class Invoker:
    module: ModuleType
    log: io.StringIO
    capsys: pytest.CaptureFixture[str]

    def __call__(self, event: object) -> Any:
        return self.module.handler(event, FakeLambdaContext())

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]

    def metrics(self) -> dict[str, float]:
        """The values of the last EMF blob the handler printed."""
        blobs = [json.loads(line) for line in self.capsys.readouterr().out.splitlines() if '"_aws"' in line]
        assert blobs, "no metrics were published"
        blob = blobs[-1]
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
        names = [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        # Powertools v3 writes each value as a list of the values added in the invocation.
        return {name: sum(blob[name]) if isinstance(blob[name], list) else blob[name] for name in names}


@pytest.fixture
def tagger(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, capsys: pytest.CaptureFixture[str]
) -> Iterator[Invoker]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "glacierable-tagger")
    monkeypatch.setenv("ARCHIVE_UNKNOWN", "false")
    module = importlib.import_module("glacierable.handlers.tagger")
    # The namespace is read when Metrics() is built, which may have been before this fixture ran.
    monkeypatch.setattr(module.metrics, "namespace", NAMESPACE)
    log = io.StringIO()
    monkeypatch.setattr(module.logger.registered_handler, "stream", log)
    with module.s3.use(s3):
        yield Invoker(module, log, capsys)


def record(
    bucket: str, key: str, *, event_name: str = "ObjectCreated:Put", version_id: str | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 1, "sequencer": "0055AED6DCD90281E5"}
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def put(s3: S3Client, bucket: str, key: str, tagging: str = "") -> str | None:
    return s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging).get("VersionId")


def tags_of(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**kwargs)["TagSet"]}


def count_calls(client: S3Client) -> Counter[str]:
    calls: Counter[str] = Counter()

    def on_call(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.s3.*", on_call)
    return calls


def fail_get_tagging_for(client: S3Client, key: str) -> Callable[[], None]:
    """GetObjectTagging on `key` fails with a 500, as after botocore's retries; returns the undo."""

    def raise_for_key(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == key:
            response: Any = {
                "Error": {"Code": "InternalError", "Message": "We encountered an internal error."},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            }
            raise ClientError(response, "GetObjectTagging")

    event_name = "before-parameter-build.s3.GetObjectTagging"
    client.meta.events.register(event_name, raise_for_key)
    return lambda: client.meta.events.unregister(event_name, raise_for_key)


ZERO = {"TaggedTrue": 0, "TaggedFalse": 0, "Kept": 0, "Skipped": 0, "Failed": 0, "TooManyTags": 0}


def test_event_tags_volume_true_and_manifest_false(tagger: Invoker, s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    put(s3, bucket, MANIFEST)
    result = tagger(event(record(bucket, VOLUME), record(bucket, MANIFEST)))
    assert result == {**ZERO, "TaggedTrue": 1, "TaggedFalse": 1}
    assert tags_of(s3, bucket, VOLUME) == {TAG_KEY: "true"}
    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}


def test_metrics_are_published_in_the_namespace_with_every_count(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, VOLUME)
    tagger(event(record(bucket, VOLUME), record(bucket, MANIFEST)))
    assert tagger.metrics() == {**ZERO, "TaggedTrue": 1, "Skipped": 1}


def test_one_structured_log_line_per_object(tagger: Invoker, s3: S3Client, bucket: str) -> None:
    put(s3, bucket, VOLUME)
    put(s3, bucket, MANIFEST)
    tagger(event(record(bucket, VOLUME), record(bucket, MANIFEST)))
    lines = [line for line in tagger.log_lines() if "action" in line]
    # Powertools leaves out keys whose value is None, as version_id is in an unversioned bucket.
    assert [(x["key"], x.get("version_id"), x["decision"], x["action"]) for x in lines] == [
        (VOLUME, None, "true", "tagged"),
        (MANIFEST, None, "false", "tagged"),
    ]
    assert all(x["function_name"] == "glacierable-tagger" for x in lines)


def test_versioned_event_tags_the_record_version(
    tagger: Invoker, s3: S3Client, versioned_bucket: str
) -> None:
    old = put(s3, versioned_bucket, VOLUME)
    new = put(s3, versioned_bucket, VOLUME)
    tagger(event(record(versioned_bucket, VOLUME, version_id=old)))
    assert tags_of(s3, versioned_bucket, VOLUME, old) == {TAG_KEY: "true"}
    assert tags_of(s3, versioned_bucket, VOLUME, new) == {}


def test_redelivered_event_costs_one_get_per_object_and_no_put(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, VOLUME)
    put(s3, bucket, MANIFEST)
    redelivered = event(record(bucket, VOLUME), record(bucket, MANIFEST))
    tagger(redelivered)
    calls = count_calls(s3)
    assert tagger(redelivered) == {**ZERO, "Kept": 2}
    assert calls == Counter({"GetObjectTagging": 2})


def test_failed_record_raises_naming_its_key_after_tagging_the_others(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    for key in (VOLUME, VOLUME2, MANIFEST):
        put(s3, bucket, key)
    heal = fail_get_tagging_for(s3, VOLUME2)
    with pytest.raises(tagger.module.TaggingFailedError) as caught:
        tagger(event(record(bucket, VOLUME), record(bucket, VOLUME2), record(bucket, MANIFEST)))
    heal()
    assert str(caught.value) == f"1 of 3 objects could not be tagged: s3://{bucket}/{VOLUME2} (InternalError)"
    assert tags_of(s3, bucket, VOLUME) == {TAG_KEY: "true"}
    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}
    assert tags_of(s3, bucket, VOLUME2) == {}
    assert tagger.metrics() == {**ZERO, "TaggedTrue": 1, "TaggedFalse": 1, "Failed": 1}


def test_too_many_tags_is_logged_as_error_and_counted_not_raised(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, VOLUME, tagging="&".join(f"k{i}=v{i}" for i in range(10)))
    assert tagger(event(record(bucket, VOLUME))) == {**ZERO, "TooManyTags": 1}
    errors = [line for line in tagger.log_lines() if line["level"] == "ERROR"]
    assert [(x["key"], x["action"]) for x in errors] == [(VOLUME, "too_many_tags")]
    assert TAG_KEY not in tags_of(s3, bucket, VOLUME)


def test_gone_object_is_skipped(tagger: Invoker, bucket: str) -> None:
    assert tagger(event(record(bucket, VOLUME))) == {**ZERO, "Skipped": 1}
    assert [x["action"] for x in tagger.log_lines() if "action" in x] == ["gone"]


def test_test_event_makes_no_s3_call(tagger: Invoker, s3: S3Client, bucket: str) -> None:
    calls = count_calls(s3)
    assert tagger({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket}) == ZERO
    assert calls == Counter()


def test_object_removed_record_is_skipped_without_s3_calls(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    calls = count_calls(s3)
    assert tagger(event(record(bucket, VOLUME, event_name="ObjectRemoved:Delete"))) == {**ZERO, "Skipped": 1}
    assert calls == Counter()


def test_malformed_event_raises_event_error_naming_the_field(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    broken = record(bucket, VOLUME)
    del broken["s3"]["object"]["key"]
    calls = count_calls(s3)
    with pytest.raises(EventError, match=r"^Records\[0\]\.s3\.object\.key is missing$"):
        tagger(event(broken))
    assert calls == Counter()


def test_archive_unknown_true_archives_unknown_keys(
    tagger: Invoker, monkeypatch: pytest.MonkeyPatch, s3: S3Client, bucket: str
) -> None:
    monkeypatch.setenv("ARCHIVE_UNKNOWN", "true")
    put(s3, bucket, "notes/readme.txt")
    tagger(event(record(bucket, "notes/readme.txt")))
    assert tags_of(s3, bucket, "notes/readme.txt") == {TAG_KEY: "true"}


def test_unknown_keys_stay_hot_by_default(tagger: Invoker, s3: S3Client, bucket: str) -> None:
    put(s3, bucket, "notes/readme.txt")
    tagger(event(record(bucket, "notes/readme.txt")))
    assert tags_of(s3, bucket, "notes/readme.txt") == {TAG_KEY: "false"}


def test_bad_archive_unknown_setting_is_a_clear_error(
    tagger: Invoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVE_UNKNOWN", "yes")
    with pytest.raises(
        tagger.module.ConfigError, match=r"ARCHIVE_UNKNOWN must be 'true' or 'false', got 'yes'"
    ):
        tagger({"Records": []})


def test_notifications_from_moto_via_sqs_are_tagged(
    tagger: Invoker, s3: S3Client, bucket: str, endpoint_url: str
) -> None:
    # moto cannot invoke Lambdas without Docker, but it delivers the same S3 notification body to SQS.
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    put(s3, bucket, VOLUME)
    put(s3, bucket, MANIFEST)
    bodies: list[Any] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.extend(json.loads(m["Body"]) for m in messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    totals: Counter[str] = Counter()
    for body in bodies:
        totals.update(tagger(body))
    assert totals["TaggedTrue"] == 1
    assert totals["TaggedFalse"] == 1
    assert totals["Failed"] == 0
    assert tags_of(s3, bucket, VOLUME) == {TAG_KEY: "true"}
    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}


# --- EventBridge "Object Created" events, and keys whose encoding is uncertain ---

AWKWARD = "my backups/a b+c%20d/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
"""A volume in a folder with a space, a plus and a percent: decoded, its raw form names another object."""


def bridge_event(bucket: str, key: str, *, version_id: str | None = None) -> dict[str, Any]:
    """An EventBridge Object Created event as AWS's documentation shows it; `key` exactly as delivered."""
    obj: dict[str, Any] = {"key": key, "size": 1, "etag": "9dd4e461268c8034f5c8564e155c67a6"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj, "reason": "PutObject"},
    }


@pytest.mark.parametrize("delivered", [AWKWARD, quote_plus(AWKWARD, safe="/"), quote_plus(AWKWARD)])
def test_eventbridge_event_tags_the_object_whether_its_key_arrives_raw_or_encoded(
    tagger: Invoker, s3: S3Client, bucket: str, delivered: str
) -> None:
    put(s3, bucket, AWKWARD)
    assert tagger(bridge_event(bucket, delivered)) == {**ZERO, "TaggedTrue": 1}
    assert tags_of(s3, bucket, AWKWARD) == {TAG_KEY: "true"}


def test_raw_key_tried_after_the_decoded_one_is_missing_and_logged_as_such(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, AWKWARD)
    calls = count_calls(s3)
    tagger(bridge_event(bucket, AWKWARD))
    # The decoded key first (not there), then the key as delivered: one GET more, one PUT.
    assert calls == Counter({"GetObjectTagging": 2, "PutObjectTagging": 1})
    [line] = [x for x in tagger.log_lines() if "action" in x]
    assert (line["key"], line["decoded_key"], line["action"]) == (
        AWKWARD,
        "my backups/a b c d/duplicity-full.20231114T221320Z.vol1.difftar.gpg",
        "tagged",
    )


def test_notification_with_the_awkward_key_tags_it_with_no_extra_call(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    put(s3, bucket, AWKWARD)
    calls = count_calls(s3)
    assert tagger(event(record(bucket, AWKWARD))) == {**ZERO, "TaggedTrue": 1}
    assert calls == Counter({"GetObjectTagging": 1, "PutObjectTagging": 1})
    assert tags_of(s3, bucket, AWKWARD) == {TAG_KEY: "true"}


@pytest.mark.parametrize("delivered", [AWKWARD, quote_plus(AWKWARD)])
def test_eventbridge_object_gone_under_both_keys_is_skipped_as_gone(
    tagger: Invoker, s3: S3Client, bucket: str, delivered: str
) -> None:
    put(s3, bucket, "my backups/host1/unrelated.vol1.difftar.gpg")
    calls = count_calls(s3)
    assert tagger(bridge_event(bucket, delivered)) == {**ZERO, "Skipped": 1}
    assert calls == Counter({"GetObjectTagging": 2})
    assert [x["action"] for x in tagger.log_lines() if "action" in x] == ["gone"]


def test_eventbridge_version_is_tagged_under_the_raw_key(
    tagger: Invoker, s3: S3Client, versioned_bucket: str
) -> None:
    old = put(s3, versioned_bucket, AWKWARD)
    new = put(s3, versioned_bucket, AWKWARD)
    assert old is not None
    tagger(bridge_event(versioned_bucket, AWKWARD, version_id=old))
    assert tags_of(s3, versioned_bucket, AWKWARD, old) == {TAG_KEY: "true"}
    assert tags_of(s3, versioned_bucket, AWKWARD, new) == {}


def test_eventbridge_event_of_another_source_raises_event_error_without_s3_calls(
    tagger: Invoker, s3: S3Client, bucket: str
) -> None:
    calls = count_calls(s3)
    with pytest.raises(EventError, match=r"^event\.source is 'aws\.ec2', expected 'aws\.s3'"):
        tagger({**bridge_event(bucket, VOLUME), "source": "aws.ec2"})
    assert calls == Counter()


def drain(sqs: Any, queue_url: str) -> list[Any]:
    bodies: list[Any] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.extend(json.loads(m["Body"]) for m in messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return bodies


def test_s3_events_through_moto_eventbridge_rule_are_tagged(
    tagger: Invoker, s3: S3Client, bucket: str, endpoint_url: str
) -> None:
    # End to end in moto: S3 with EventBridge on, the stack's own rule pattern, a queue as the target
    # (moto cannot run the Lambda without Docker), then the queue's events into the handler.
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    bridge = boto3.client("events", endpoint_url=endpoint_url, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"{bucket}-bridge")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"{bucket}-created"
    pattern = eventbridge_pattern(bucket, "my backups/")
    bridge.put_rule(Name=rule, EventPattern=json.dumps(pattern.to_json()))
    bridge.put_targets(Rule=rule, Targets=[{"Id": "tagger", "Arn": queue_arn}])
    try:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        outside = "elsewhere/duplicity-full.20231114T221320Z.vol1.difftar.gpg"
        for key in (AWKWARD, MANIFEST, outside):
            put(s3, bucket, key)
        bodies = drain(sqs, queue_url)
        # What moto sends is the evidence for its encoding: the key as it is, not URL-encoded.
        assert sorted(b["detail"]["object"]["key"] for b in bodies) == sorted([AWKWARD, MANIFEST])
        totals: Counter[str] = Counter()
        for body in bodies:
            totals.update(tagger(body))
    finally:
        bridge.remove_targets(Rule=rule, Ids=["tagger"])
        bridge.delete_rule(Name=rule)
    assert (totals["TaggedTrue"], totals["TaggedFalse"], totals["Failed"]) == (1, 1, 0)
    assert tags_of(s3, bucket, AWKWARD) == {TAG_KEY: "true"}
    assert tags_of(s3, bucket, MANIFEST) == {TAG_KEY: "false"}
    assert tags_of(s3, bucket, outside) == {}
