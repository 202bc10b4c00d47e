"""The deployed handlers, in the stack's order, against a moto bucket the owner already uses.

CloudFormation is played by `Stack`: Create runs the lifecycle resource, then the notification resource
(which depends on it); Update sends each resource whose properties changed an Update with its physical ID
and, where a new physical ID comes back, a clean-up Delete of the old one after every update; Delete runs
in reverse order. The owner's notification configuration (a Lambda and a real SQS queue) and lifecycle
rules are compared before and after every step, Ids included.

moto checks a destination ARN's service prefix and Region, not that the function exists or that S3 may
invoke it; it does not reject overlapping configurations, which is why the handler checks overlaps itself.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.awsrequest import AWSResponse

from glacierable.bucket_config import CONFLICT_ATTEMPTS, BucketRegionError, ConfigurationConflictError
from glacierable.clients import s3_client, sqs_client
from glacierable.handlers import lifecycle_resource, notification_resource
from glacierable.lifecycle import ARCHIVE_RULE_ID, our_rules
from glacierable.lifecycle_store import read_rules
from glacierable.notification_store import read_document
from glacierable.notifications import (
    EVENTBRIDGE,
    LAMBDAS,
    NOTIFICATION_ID_PREFIX,
    QUEUES,
    OverlapError,
    notification_id,
    tagger_configuration,
)
from tests.integration.test_lifecycle_resource import OWNER_RULE, SERVICE_TOKEN, context, event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TAGGER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:Glacierable-my-backups-TaggerFunctionCE5828A8"
OWNER_AUDIT: Any = {
    "Id": "owner-audit",
    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:audit-deletions",
    "Events": ["s3:ObjectRemoved:*"],
}
OWNER_ANTIVIRUS: Any = {
    "Id": "owner-antivirus",
    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:antivirus",
    "Events": ["s3:ObjectCreated:*"],
}
"""A bucket-wide scanner: it overlaps any direct delivery of ours."""


def owner_queue(queue_arn: str) -> Any:
    return {
        "Id": "owner-log-index",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "logs/"}]}},
    }


def put_notifications(s3: S3Client, bucket: str, document: Any) -> None:
    """The owner writing the bucket's notification configuration."""
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=document)


@pytest.fixture
def queue_arn(moto_server: Any) -> str:
    sqs = sqs_client()
    url = sqs.create_queue(QueueName=f"owner-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def owner_notifications(s3: S3Client, bucket: str, queue_arn: str) -> dict[str, Any]:
    """The owner's notification configuration and lifecycle rule, as read back from the bucket."""
    put_notifications(s3, bucket, {LAMBDAS: [OWNER_AUDIT], QUEUES: [owner_queue(queue_arn)]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [OWNER_RULE]})
    document = read_document(s3, bucket)
    assert document == {LAMBDAS: [OWNER_AUDIT], QUEUES: [owner_queue(queue_arn)]}
    return document


# --- CloudFormation, played ------------------------------------------------------------------------


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class Resource:
    logical_id: str
    resource_type: str
    handler: Handler
    properties: dict[str, str] = field(default_factory=dict)
    physical_id: str | None = None


@dataclass
class Stack:
    """One stack's two custom resources, driven as CloudFormation drives them (properties as strings)."""

    bucket: str
    function_arn: str = TAGGER_ARN
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lifecycle = Resource(
            "ArchiveRule2565143D", "Custom::GlacierableLifecycleRule", lifecycle_resource.handler
        )
        self.notifications = Resource(
            "Notifications87298708", "Custom::GlacierableNotifications", notification_resource.handler
        )

    @property
    def order(self) -> list[Resource]:
        return [self.lifecycle, self.notifications]  # the notification resource depends on the rule

    def desired(
        self, *, prefix: str, events: str, storage_class: str = "GLACIER"
    ) -> dict[str, dict[str, str]]:
        common = {"ServiceToken": SERVICE_TOKEN, "ServiceTimeout": "300", "BucketName": self.bucket}
        notifications = {**common, "Prefix": prefix, "Events": events}
        if events == "direct":
            notifications["FunctionArn"] = self.function_arn
        lifecycle = {**common, "Prefix": prefix, "StorageClass": storage_class, "TransitionDays": "1"}
        return {self.lifecycle.logical_id: lifecycle, self.notifications.logical_id: notifications}

    def _send(self, resource: Resource, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((request["RequestType"], resource.logical_id))
        request["LogicalResourceId"] = resource.logical_id
        request["ResourceType"] = resource.resource_type
        return resource.handler(request, context())

    def create(self, **settings: str) -> None:
        desired = self.desired(**settings)
        for resource in self.order:
            resource.properties = desired[resource.logical_id]
            result = self._send(resource, event("Create", resource.properties))
            resource.physical_id = result["PhysicalResourceId"]

    def update(self, **settings: str) -> None:
        desired = self.desired(**settings)
        replaced: list[tuple[Resource, str, dict[str, str]]] = []
        for resource in self.order:
            new = desired[resource.logical_id]
            if new == resource.properties:
                continue
            assert resource.physical_id is not None
            request = event(
                "Update",
                new,
                PhysicalResourceId=resource.physical_id,
                OldResourceProperties=resource.properties,
            )
            result = self._send(resource, request)
            if result["PhysicalResourceId"] != resource.physical_id:
                replaced.append((resource, resource.physical_id, resource.properties))
            resource.physical_id, resource.properties = result["PhysicalResourceId"], new
        # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the replaced physical resources are deleted, last.
        for resource, old_id, old_properties in replaced:
            self._send(resource, event("Delete", old_properties, PhysicalResourceId=old_id))

    def delete(self) -> None:
        for resource in reversed(self.order):
            assert resource.physical_id is not None
            self._send(
                resource, event("Delete", resource.properties, PhysicalResourceId=resource.physical_id)
            )


def ours(document: dict[str, Any]) -> list[Any]:
    return [c for c in document.get(LAMBDAS, []) if c["Id"].startswith(NOTIFICATION_ID_PREFIX)]


def owners(document: dict[str, Any]) -> dict[str, Any]:
    """The document without our Lambda configuration and without EventBridge (the owner had none)."""
    kept = copy.deepcopy({k: v for k, v in document.items() if k != EVENTBRIDGE})
    kept[LAMBDAS] = [c for c in kept.get(LAMBDAS, []) if not c["Id"].startswith(NOTIFICATION_ID_PREFIX)]
    return {k: v for k, v in kept.items() if v}


def owner_rules(s3: S3Client, bucket: str) -> list[Any]:
    return [r for r in read_rules(s3, bucket) if not r["ID"].startswith("glacierable-")]


def assert_delivery(s3: S3Client, bucket: str, owner: dict[str, Any], *, prefix: str, events: str) -> None:
    """The owner's configuration exactly as before, plus ours for `events` on `prefix`."""
    document = read_document(s3, bucket)
    assert owners(document) == owner
    if events == "direct":
        id_ = notification_id(bucket, prefix)
        assert ours(document) == [tagger_configuration(function_arn=TAGGER_ARN, prefix=prefix, id_=id_)]
        assert EVENTBRIDGE not in document
    else:
        assert ours(document) == []
        assert document[EVENTBRIDGE] == {}
    assert owner_rules(s3, bucket) == [OWNER_RULE]


# --- create, update, delete ------------------------------------------------------------------------


@pytest.mark.parametrize("events", ["direct", "eventbridge"])
def test_create_update_delete_keep_the_owners_configuration_exactly(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], events: str
) -> None:
    stack = Stack(bucket)
    stack.create(prefix="backups/", events=events)
    assert stack.calls == [("Create", "ArchiveRule2565143D"), ("Create", "Notifications87298708")]
    assert_delivery(s3, bucket, owner_notifications, prefix="backups/", events=events)
    assert read_rules(s3, bucket) == [OWNER_RULE, *our_rules(prefix="backups/")]

    stack.update(prefix="backups/host1/", events=events, storage_class="DEEP_ARCHIVE")
    assert_delivery(s3, bucket, owner_notifications, prefix="backups/host1/", events=events)
    assert read_rules(s3, bucket) == [
        OWNER_RULE,
        *our_rules(prefix="backups/host1/", storage_class="DEEP_ARCHIVE"),
    ]

    stack.delete()
    assert stack.calls[-2:] == [("Delete", "Notifications87298708"), ("Delete", "ArchiveRule2565143D")]
    assert read_document(s3, bucket) == owner_notifications
    assert read_rules(s3, bucket) == [OWNER_RULE]


@pytest.mark.parametrize(("first", "second"), [("direct", "eventbridge"), ("eventbridge", "direct")])
def test_a_mode_change_on_update_and_back(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], first: str, second: str
) -> None:
    stack = Stack(bucket)
    stack.create(prefix="backups/", events=first)
    stack.update(prefix="backups/", events=second)
    assert_delivery(s3, bucket, owner_notifications, prefix="backups/", events=second)
    stack.update(prefix="backups/", events=first)
    assert_delivery(s3, bucket, owner_notifications, prefix="backups/", events=first)
    stack.delete()
    assert read_document(s3, bucket) == owner_notifications  # EventBridge off again: we had turned it on


def test_an_owner_who_had_eventbridge_keeps_it_through_every_step(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any]
) -> None:
    with_eventbridge = {**owner_notifications, EVENTBRIDGE: {}}
    put_notifications(s3, bucket, with_eventbridge)
    stack = Stack(bucket)
    stack.create(prefix="", events="eventbridge")
    assert read_document(s3, bucket) == with_eventbridge
    stack.update(prefix="backups/", events="direct")
    assert read_document(s3, bucket)[EVENTBRIDGE] == {}
    stack.update(prefix="", events="eventbridge")
    stack.delete()
    assert read_document(s3, bucket) == with_eventbridge


def test_two_stacks_on_different_prefixes_of_one_bucket_coexist(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any]
) -> None:
    # Each stack has a tagger of its own.
    host1, host2 = Stack(bucket), Stack(bucket, function_arn=TAGGER_ARN.replace("my-backups", "host2"))
    host1.notifications.handler(
        event("Create", host1.desired(prefix="host1/", events="direct")["Notifications87298708"]), context()
    )
    result = host2.notifications.handler(
        event("Create", host2.desired(prefix="host2/", events="direct")["Notifications87298708"]), context()
    )
    document = read_document(s3, bucket)
    assert [c["Id"] for c in ours(document)] == [
        notification_id(bucket, "host1/"),
        notification_id(bucket, "host2/"),
    ]
    delete = event("Delete", {}, PhysicalResourceId=result["PhysicalResourceId"])
    host2.notifications.handler(delete, context())
    assert [c["Id"] for c in ours(read_document(s3, bucket))] == [notification_id(bucket, "host1/")]
    assert owners(read_document(s3, bucket)) == owner_notifications


# --- overlap ---------------------------------------------------------------------------------------


class Counting:
    """Counts the requests a client sends, by operation name."""

    def __init__(self, client: S3Client) -> None:
        self.sent: list[str] = []
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.sent.append(model.name)

    def writes(self) -> list[str]:
        return [name for name in self.sent if name.startswith(("Put", "Delete"))]


@pytest.fixture
def handler_client(endpoint_url: str) -> Iterator[tuple[S3Client, Counting]]:
    """The client both handlers use for the test, with a count of what it sent."""
    client = s3_client(endpoint_url=endpoint_url)
    counting = Counting(client)
    with lifecycle_resource.s3.use(client), notification_resource.s3.use(client):
        yield client, counting


def test_direct_mode_with_an_overlapping_owner_notification_fails_before_writing(
    s3: S3Client, bucket: str, queue_arn: str, handler_client: tuple[S3Client, Counting]
) -> None:
    owner = {LAMBDAS: [OWNER_ANTIVIRUS], QUEUES: [owner_queue(queue_arn)]}
    put_notifications(s3, bucket, owner)
    _, counting = handler_client
    stack = Stack(bucket)
    props = stack.desired(prefix="backups/", events="direct")["Notifications87298708"]
    with pytest.raises(OverlapError, match=r"Id 'owner-antivirus'.*`-c events=eventbridge`") as raised:
        notification_resource.handler(event("Create", props), context())
    assert [o.id for o in raised.value.overlaps] == ["owner-antivirus"]  # the queue's logs/ does not overlap
    assert counting.writes() == []
    assert read_document(s3, bucket) == owner


def test_eventbridge_mode_with_the_same_owner_notification_succeeds(
    s3: S3Client, bucket: str, queue_arn: str
) -> None:
    owner = {LAMBDAS: [OWNER_ANTIVIRUS], QUEUES: [owner_queue(queue_arn)]}
    put_notifications(s3, bucket, owner)
    stack = Stack(bucket)
    stack.create(prefix="backups/", events="eventbridge")
    assert read_document(s3, bucket) == {**owner, EVENTBRIDGE: {}}
    stack.delete()
    assert read_document(s3, bucket) == owner


# --- 409 OperationAborted --------------------------------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def abort_writes(
    client: S3Client, operation: str, times: int, meanwhile: Callable[[], None] | None = None
) -> list[int]:
    """Answer the next `times` `operation` requests with S3's 409 OperationAborted, unsent.

    The answer goes through botocore's parsing and retry policy like a real one. `meanwhile` runs before
    each refusal: the conflicting write S3 is reporting. Returns the list of refused attempts (for counts).
    """
    refused: list[int] = []
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>OperationAborted</Code><Message>A conflicting '
        b"conditional operation is currently in progress against this resource. Please try again.</Message>"
        b"<RequestId>X</RequestId></Error>"
    )

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        if len(refused) >= times:
            return None
        if meanwhile is not None:
            meanwhile()
        refused.append(len(refused) + 1)
        return AWSResponse(request.url, 409, {"Content-Type": "application/xml"}, _Body(body))  # type: ignore[arg-type]

    # botocore sends the first response a before-send handler returns instead of the request.
    client.meta.events.register(f"before-send.s3.{operation}", cast("Callable[..., None]", refuse))
    return refused


def test_the_notification_write_waits_out_a_conflict_and_keeps_what_the_other_wrote(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], endpoint_url: str
) -> None:
    client = s3_client(endpoint_url=endpoint_url)
    counting = Counting(client)
    changed_by_owner = {**owner_notifications, LAMBDAS: [OWNER_AUDIT, {**OWNER_AUDIT, "Id": "owner-new"}]}

    def owner_writes() -> None:
        put_notifications(s3, bucket, changed_by_owner)

    refused = abort_writes(client, "PutBucketNotificationConfiguration", 2, meanwhile=owner_writes)
    slept: list[float] = []
    props = Stack(bucket).desired(prefix="backups/", events="direct")["Notifications87298708"]
    notification_resource.on_event(event("Create", props), client, region="us-east-1", sleep=slept.append)
    assert refused == [1, 2]
    assert slept == [1.0, 2.0]
    # botocore's own retries left the 409 alone: one request per attempt.
    assert counting.sent.count("PutBucketNotificationConfiguration") == 3
    # Each attempt read the document again, so the owner's write made during the conflict survives.
    assert owners(read_document(s3, bucket)) == changed_by_owner


def test_the_notification_write_gives_up_after_every_attempt_conflicts(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], endpoint_url: str
) -> None:
    client = s3_client(endpoint_url=endpoint_url)
    abort_writes(client, "PutBucketNotificationConfiguration", CONFLICT_ATTEMPTS)
    slept: list[float] = []
    props = Stack(bucket).desired(prefix="backups/", events="eventbridge")["Notifications87298708"]
    with pytest.raises(
        ConfigurationConflictError,
        match=rf"on s3://{bucket}: .*OperationAborted.* {CONFLICT_ATTEMPTS} times",
    ):
        notification_resource.on_event(event("Create", props), client, region="us-east-1", sleep=slept.append)
    assert len(slept) == CONFLICT_ATTEMPTS - 1
    assert read_document(s3, bucket) == owner_notifications


def test_the_lifecycle_write_waits_out_a_conflict(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], endpoint_url: str
) -> None:
    client = s3_client(endpoint_url=endpoint_url)
    refused = abort_writes(client, "PutBucketLifecycleConfiguration", 3)
    slept: list[float] = []
    props = Stack(bucket).desired(prefix="backups/", events="eventbridge")["ArchiveRule2565143D"]
    lifecycle_resource.on_event(event("Create", props), client, region="us-east-1", sleep=slept.append)
    assert refused == [1, 2, 3]
    assert slept == [1.0, 2.0, 4.0]
    assert read_rules(s3, bucket) == [OWNER_RULE, *our_rules(prefix="backups/")]


def test_the_lifecycle_write_gives_up_after_every_attempt_conflicts(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], endpoint_url: str
) -> None:
    client = s3_client(endpoint_url=endpoint_url)
    abort_writes(client, "PutBucketLifecycleConfiguration", CONFLICT_ATTEMPTS)
    props = Stack(bucket).desired(prefix="backups/", events="eventbridge")["ArchiveRule2565143D"]
    with pytest.raises(ConfigurationConflictError, match=r"PutBucketLifecycleConfiguration on s3://"):
        lifecycle_resource.on_event(event("Create", props), client, region="us-east-1", sleep=lambda _: None)
    assert read_rules(s3, bucket) == [OWNER_RULE]


# --- Region ----------------------------------------------------------------------------------------


@pytest.fixture
def european_bucket(endpoint_url: str) -> str:
    """A bucket in eu-west-1 (moto wants the create request sent to the Region it names)."""
    name = f"test-eu-{uuid.uuid4().hex[:12]}"
    european = s3_client(endpoint_url=endpoint_url, region_name="eu-west-1")
    european.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    european.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [OWNER_RULE]})
    return name


@pytest.mark.parametrize("resource", ["ArchiveRule2565143D", "Notifications87298708"])
def test_a_bucket_in_another_region_fails_before_any_write(
    european_bucket: str,
    handler_client: tuple[S3Client, Counting],
    monkeypatch: pytest.MonkeyPatch,
    resource: str,
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # the Region Lambda runs the handler in
    client, counting = handler_client
    stack = Stack(european_bucket)
    handler = {r.logical_id: r.handler for r in stack.order}[resource]
    with pytest.raises(BucketRegionError) as raised:
        handler(event("Create", stack.desired(prefix="", events="direct")[resource]), context())
    message = str(raised.value)
    assert "is in eu-west-1" in message and "deployed to us-east-1" in message
    assert f"AWS_REGION=eu-west-1 npx aws-cdk deploy -c bucket={european_bucket}" in message
    assert counting.sent == ["GetBucketLocation"]
    assert read_rules(client, european_bucket) == [OWNER_RULE]


def test_a_region_mismatch_does_not_block_deleting_the_stack(
    european_bucket: str, handler_client: tuple[S3Client, Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stack deployed before the Region check wrote our rules into the bucket from another Region.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client, _ = handler_client
    rules: Any = [OWNER_RULE, *our_rules()]
    client.put_bucket_lifecycle_configuration(Bucket=european_bucket, LifecycleConfiguration={"Rules": rules})
    stack = Stack(european_bucket)
    props = stack.desired(prefix="", events="eventbridge")
    lifecycle_resource.handler(
        event(
            "Delete", props["ArchiveRule2565143D"], PhysicalResourceId=f"{european_bucket}/{ARCHIVE_RULE_ID}"
        ),
        context(),
    )
    assert read_rules(client, european_bucket) == [OWNER_RULE]
    notification_resource.handler(
        event(
            "Delete",
            props["Notifications87298708"],
            PhysicalResourceId=f"{european_bucket}/glacierable-eventbridge-added",
        ),
        context(),
    )
    assert read_document(client, european_bucket) == {}


# --- properties ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Events": "sqs"}, r"Events must be one of eventbridge, direct; got 'sqs'"),
        ({"Events": "direct", "FunctionArn": ""}, r"FunctionArn must be the tagger's ARN"),
        ({"BucketName": ""}, r"BucketName must be a bucket name"),
        ({"Prefix": "a" * 1025}, r"Prefix must be at most 1024 bytes"),
    ],
)
def test_bad_properties_fail_naming_the_property(
    s3: S3Client, bucket: str, owner_notifications: dict[str, Any], overrides: dict[str, str], message: str
) -> None:
    props = {**Stack(bucket).desired(prefix="", events="eventbridge")["Notifications87298708"], **overrides}
    with pytest.raises(ValueError, match=message):
        notification_resource.handler(event("Create", props), context())
    assert read_document(s3, bucket) == owner_notifications


def test_delete_after_a_failed_create_or_of_a_gone_bucket_succeeds(s3: S3Client) -> None:
    failed = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
    assert notification_resource.handler(event("Delete", {}, PhysicalResourceId=failed), context()) == {
        "PhysicalResourceId": failed
    }
    gone = f"test-gone-{uuid.uuid4().hex[:8]}/glacierable-eventbridge-added"
    assert notification_resource.handler(event("Delete", {}, PhysicalResourceId=gone), context()) == {
        "PhysicalResourceId": gone
    }
