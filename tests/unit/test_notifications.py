"""The notification merge, the overlap rule and the deployment's physical ID (pure, no S3)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from glacierable.bucket_config import region_of_location
from glacierable.notifications import (
    EVENTBRIDGE,
    EVENTS_DIRECT,
    EVENTS_EVENTBRIDGE,
    LAMBDAS,
    QUEUES,
    TOPICS,
    Deployment,
    Desired,
    NotificationError,
    OverlapError,
    events_overlap,
    filters_overlap,
    notification_id,
    overlapping_configurations,
    parse_physical_id,
    plan_apply,
    plan_remove,
    tagger_configuration,
)

BUCKET = "my-backups"
TAGGER = "arn:aws:lambda:us-east-1:123456789012:function:Glacierable-Tagger"
OTHER_TAGGER = "arn:aws:lambda:us-east-1:123456789012:function:Glacierable-Other"


def rule(name: str, value: str) -> dict[str, str]:
    return {"Name": name, "Value": value}


def lambda_config(id_: str, events: list[str], *rules: dict[str, str], arn: str = "") -> dict[str, Any]:
    config: dict[str, Any] = {
        "Id": id_,
        "LambdaFunctionArn": arn or f"arn:aws:lambda:us-east-1:123456789012:function:{id_}",
        "Events": events,
    }
    if rules:
        config["Filter"] = {"Key": {"FilterRules": list(rules)}}
    return config


OWNER: dict[str, Any] = {
    LAMBDAS: [
        lambda_config("owner-thumbnails", ["s3:ObjectCreated:Put"], rule("prefix", "images/")),
        lambda_config("owner-audit", ["s3:ObjectRemoved:*"]),
    ],
    QUEUES: [
        {
            "Id": "owner-index",
            "QueueArn": "arn:aws:sqs:us-east-1:123456789012:index",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [rule("Prefix", "logs/"), rule("Suffix", ".gz")]}},
        }
    ],
}


AUDIT_ONLY: dict[str, Any] = {LAMBDAS: [OWNER[LAMBDAS][1]]}
"""An owner's configuration no Object Created one can overlap."""


def direct(prefix: str = "backups/", arn: str = TAGGER, bucket: str = BUCKET) -> Desired:
    return Desired(bucket=bucket, prefix=prefix, mode=EVENTS_DIRECT, function_arn=arn)


def eventbridge(prefix: str = "backups/", bucket: str = BUCKET) -> Desired:
    return Desired(bucket=bucket, prefix=prefix, mode=EVENTS_EVENTBRIDGE)


def owners_part(document: dict[str, Any]) -> dict[str, Any]:
    """The document without our Lambda configurations and without EventBridge."""
    kept = {k: v for k, v in document.items() if k != EVENTBRIDGE}
    lambdas = [c for c in kept.get(LAMBDAS, []) if not c["Id"].startswith("glacierable-tagger-")]
    return {**kept, LAMBDAS: lambdas} if lambdas else {k: v for k, v in kept.items() if k != LAMBDAS}


# --- Id --------------------------------------------------------------------------------------------


def test_notification_id_is_stable_and_distinct_per_bucket_and_prefix() -> None:
    assert notification_id(BUCKET, "a/") == notification_id(BUCKET, "a/")
    ids = {notification_id(b, p) for b in (BUCKET, "other") for p in ("", "a/", "b/")}
    assert len(ids) == 6
    assert all(i.startswith("glacierable-tagger-") and len(i) == len("glacierable-tagger-") + 12 for i in ids)


def test_tagger_configuration_for_the_whole_bucket_has_no_filter() -> None:
    # S3 rejects a filter rule with an empty value.
    assert tagger_configuration(function_arn=TAGGER, prefix="", id_="x") == {
        "Id": "x",
        "LambdaFunctionArn": TAGGER,
        "Events": ["s3:ObjectCreated:*"],
    }


# --- overlap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (["s3:ObjectCreated:*"], ["s3:ObjectCreated:*"], True),
        (["s3:ObjectCreated:*"], ["s3:ObjectCreated:Put"], True),
        (["s3:ObjectCreated:Copy"], ["s3:ObjectCreated:*"], True),
        (["s3:ObjectCreated:Put"], ["s3:ObjectCreated:Copy"], False),
        (["s3:ObjectCreated:*"], ["s3:ObjectRemoved:*", "s3:ObjectRestore:Completed"], False),
        (["s3:ObjectCreated:*"], ["s3:ObjectRemoved:*", "s3:ObjectCreated:CompleteMultipartUpload"], True),
    ],
)
def test_events_overlap(first: list[str], second: list[str], expected: bool) -> None:
    assert events_overlap(first, second) is expected
    assert events_overlap(second, first) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (("", ""), ("", ""), True),
        (("backups/", ""), ("", ""), True),
        (("backups/", ""), ("backups/host1/", ""), True),
        (("backups/", ""), ("logs/", ""), False),
        (("backups", ""), ("backups-old/", ""), True),  # 'backups' matches 'backups-old/x'
        (("", ".gz"), ("", "tar.gz"), True),
        (("", ".gz"), ("", ".zip"), False),
        (("backups/", ""), ("", ".gpg"), True),  # backups/x.gpg matches both
        (("backups/", ".gz"), ("logs/", ".gz"), False),
    ],
)
def test_filters_overlap(first: tuple[str, str], second: tuple[str, str], expected: bool) -> None:
    assert filters_overlap(first, second) is expected
    assert filters_overlap(second, first) is expected


def test_overlapping_configurations_names_each_by_id_and_kind() -> None:
    document = {
        **OWNER,
        TOPICS: [
            {"Id": "owner-all", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectCreated:Post"]}
        ],
    }
    overlaps = overlapping_configurations(document, prefix="logs/")
    assert [(o.id, o.kind) for o in overlaps] == [("owner-all", TOPICS), ("owner-index", QUEUES)]
    queue = overlaps[1]
    # Rule names are read case-insensitively: S3 returns them capitalized.
    assert (queue.prefix, queue.suffix, queue.events) == ("logs/", ".gz", ("s3:ObjectCreated:*",))
    assert overlapping_configurations(document, prefix="backups/") == [overlaps[0]]
    assert overlapping_configurations(document, prefix="logs/", ignore_ids={"owner-all"}) == [queue]


def test_eventbridge_never_overlaps() -> None:
    assert overlapping_configurations({EVENTBRIDGE: {}}, prefix="") == []


# --- direct ----------------------------------------------------------------------------------------


def test_direct_create_appends_ours_and_keeps_the_owners_exactly() -> None:
    before = copy.deepcopy(OWNER)
    plan = plan_apply(OWNER, direct())
    assert before == OWNER  # the input is not modified
    id_ = notification_id(BUCKET, "backups/")
    assert plan.document[LAMBDAS] == [
        *OWNER[LAMBDAS],
        tagger_configuration(function_arn=TAGGER, prefix="backups/", id_=id_),
    ]
    assert owners_part(plan.document) == OWNER
    assert plan.deployment == Deployment(BUCKET, EVENTS_DIRECT, notification_id=id_)
    assert plan.deployment.physical_id == f"{BUCKET}/{id_}"


def test_direct_update_replaces_ours_in_place() -> None:
    id_ = notification_id(BUCKET, "backups/")
    stale = tagger_configuration(function_arn=OTHER_TAGGER, prefix="backups/", id_=id_)
    document = {**OWNER, LAMBDAS: [OWNER[LAMBDAS][0], stale, OWNER[LAMBDAS][1]]}
    plan = plan_apply(document, direct(), Deployment(BUCKET, EVENTS_DIRECT, notification_id=id_))
    assert [c["Id"] for c in plan.document[LAMBDAS]] == ["owner-thumbnails", id_, "owner-audit"]
    assert plan.document[LAMBDAS][1]["LambdaFunctionArn"] == TAGGER


def test_direct_prefix_change_removes_the_old_entry_in_the_same_write() -> None:
    created = plan_apply(AUDIT_ONLY, direct(prefix=""))
    # The old entry (every key) overlaps the new one (backups/): both at once would be rejected by S3.
    plan = plan_apply(created.document, direct(prefix="backups/"), created.deployment)
    ours = [c for c in plan.document[LAMBDAS] if c["Id"].startswith("glacierable-tagger-")]
    assert [c["Id"] for c in ours] == [notification_id(BUCKET, "backups/")]
    assert owners_part(plan.document) == AUDIT_ONLY


def test_direct_takes_over_a_configuration_invoking_our_tagger_under_another_id() -> None:
    # What CDK's own handler (used before) left: our function, an Id of CDK's making.
    cdk_made = lambda_config("arn:aws:cloudformation:stack-1234", ["s3:ObjectCreated:*"], arn=TAGGER)
    plan = plan_apply({LAMBDAS: [cdk_made, *AUDIT_ONLY[LAMBDAS]]}, direct(prefix=""))
    assert [c["Id"] for c in plan.document[LAMBDAS]] == [notification_id(BUCKET, ""), "owner-audit"]


def test_direct_fails_naming_the_overlapping_owner_configuration() -> None:
    with pytest.raises(OverlapError, match=r"Id 'owner-index'.*-c events=eventbridge") as raised:
        plan_apply(OWNER, direct(prefix="logs/"))
    assert [o.id for o in raised.value.overlaps] == ["owner-index"]


def test_direct_needs_the_function_arn() -> None:
    with pytest.raises(NotificationError, match="FunctionArn"):
        plan_apply(OWNER, Desired(bucket=BUCKET, prefix="", mode=EVENTS_DIRECT))


def test_direct_delete_removes_only_ours() -> None:
    plan = plan_apply(OWNER, direct())
    assert plan_remove(plan.document, plan.deployment) == OWNER
    assert plan_remove({}, plan.deployment) == {}


# --- eventbridge -----------------------------------------------------------------------------------


def test_eventbridge_create_turns_it_on_and_remembers_it_was_off() -> None:
    plan = plan_apply(OWNER, eventbridge())
    assert plan.document == {**OWNER, EVENTBRIDGE: {}}
    assert plan.deployment == Deployment(BUCKET, EVENTS_EVENTBRIDGE, added_eventbridge=True)
    assert plan_remove(plan.document, plan.deployment) == OWNER


def test_eventbridge_already_on_is_left_on_at_delete() -> None:
    document = {**OWNER, EVENTBRIDGE: {}}
    plan = plan_apply(document, eventbridge())
    assert plan.document == document
    assert plan.deployment.added_eventbridge is False
    assert plan_remove(plan.document, plan.deployment) == document


def test_eventbridge_update_keeps_what_create_recorded() -> None:
    created = plan_apply(OWNER, eventbridge(prefix=""))
    # EventBridge is on now because of us; a prefix change must not take it for the owner's.
    updated = plan_apply(created.document, eventbridge(prefix="backups/"), created.deployment)
    assert updated.deployment == created.deployment
    assert updated.deployment.physical_id == created.deployment.physical_id


def test_direct_to_eventbridge_and_back() -> None:
    first = plan_apply(OWNER, direct())
    second = plan_apply(first.document, eventbridge(), first.deployment)
    assert second.document == {**OWNER, EVENTBRIDGE: {}}
    assert second.deployment.added_eventbridge is True
    third = plan_apply(second.document, direct(), second.deployment)
    assert third.document == first.document  # EventBridge off again: we had turned it on
    assert third.deployment == first.deployment


def test_eventbridge_to_direct_keeps_the_owners_eventbridge() -> None:
    first = plan_apply({**OWNER, EVENTBRIDGE: {}}, eventbridge())
    second = plan_apply(first.document, direct(), first.deployment)
    assert second.document[EVENTBRIDGE] == {}


def test_a_previous_deployment_on_another_bucket_is_left_to_its_own_delete() -> None:
    elsewhere = Deployment("old-bucket", EVENTS_EVENTBRIDGE, added_eventbridge=True)
    plan = plan_apply({EVENTBRIDGE: {}}, eventbridge(), elsewhere)
    assert plan.deployment.added_eventbridge is False  # judged afresh on this bucket


# --- physical ID -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deployment",
    [
        Deployment(BUCKET, EVENTS_DIRECT, notification_id=notification_id(BUCKET, "a/")),
        Deployment(BUCKET, EVENTS_EVENTBRIDGE, added_eventbridge=True),
        Deployment(BUCKET, EVENTS_EVENTBRIDGE, added_eventbridge=False),
    ],
)
def test_physical_id_round_trips(deployment: Deployment) -> None:
    assert parse_physical_id(deployment.physical_id) == deployment


@pytest.mark.parametrize(
    "value",
    [
        "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED",
        f"{BUCKET}/glacierable-archive",
        f"{BUCKET}/glacierable-tagger-",
        "/glacierable-eventbridge-added",
        f"a/{BUCKET}/glacierable-eventbridge-added",
        None,
    ],
)
def test_physical_ids_not_ours(value: object) -> None:
    assert parse_physical_id(value) is None


@pytest.mark.parametrize(
    ("location", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("eu-west-1", "eu-west-1")],
)
def test_region_of_location(location: str | None, region: str) -> None:
    assert region_of_location(location) == region
