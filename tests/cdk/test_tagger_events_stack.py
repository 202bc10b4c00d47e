"""How S3's Object Created events reach the tagger, in each `events` mode, and the alarms on lost events."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from botocore.retries.standard import ExponentialBackoff

from glacierable.events import eventbridge_pattern
from glacierable.handlers import tagger
from infra.powertools import lambda_code, powertools_layer
from infra.tagger import Tagger
from tests.cdk.conftest import Synthesized, build_app
from tests.cdk.test_stack import (
    TAGGER_HANDLER,
    function_with_handler,
    render,
    resources,
    tagger_dead_letter_queue,
)

pytestmark = pytest.mark.cdk

DIRECT_CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "direct": {"bucket": "direct-backups", "prefix": "backups/", "events": "direct"},
    "direct_new_root": {"bucket": "direct-new-root", "create_bucket": "true", "events": "direct"},
    "eventbridge_awkward": {"bucket": "awkward-backups", "prefix": "my backups/c++/"},
}


@pytest.fixture(scope="module")
def more(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Configurations the session's stacks do not cover: direct delivery, and a prefix needing encoding."""
    app, settings = build_app(tmp_path_factory.mktemp("cdk.out.events"), DIRECT_CONFIGURATIONS)
    assembly = app.synth()
    return {
        name: Synthesized(
            settings=s,
            stack_name=s.stack_name,
            environment=assembly.get_stack_by_name(s.stack_name).environment.name,
            template=assembly.get_stack_by_name(s.stack_name).template,
        )
        for name, s in settings.items()
    }


def event_rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stack's pattern rules (the reconciler's schedule is a rule too, without a pattern)."""
    return {
        k: v["Properties"]
        for k, v in resources(template, "AWS::Events::Rule").items()
        if "EventPattern" in v["Properties"]
    }


def only_rule(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = event_rules(template)
    assert len(rules) == 1, f"expected one event pattern rule, found {sorted(rules)}"
    return next(iter(rules.items()))


def tagger_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
        if k.startswith("MonitoringTagger")
    }


def alarm_on(template: dict[str, Any], namespace: str, metric: str) -> dict[str, Any]:
    found = [
        a
        for a in tagger_alarms(template).values()
        if (a["Namespace"], a["MetricName"]) == (namespace, metric)
    ]
    assert len(found) == 1, f"expected one alarm on {namespace} {metric}, found {len(found)}"
    return found[0]


def resolved_pattern(pattern: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """The rule's pattern with the bucket name resolved (a Ref when the stack creates the bucket)."""
    names = pattern["detail"]["bucket"]["name"]
    resolved = []
    for name in names:
        if isinstance(name, dict) and "Ref" in name:
            name = template["Resources"][name["Ref"]]["Properties"]["BucketName"]
        resolved.append(name)
    return {**pattern, "detail": {**pattern["detail"], "bucket": {"name": resolved}}}


# --- eventbridge (the default) ----------------------------------------------------------------------


@pytest.mark.parametrize("config", ["existing", "existing_root", "new", "new_root"])
def test_default_rule_selects_the_buckets_object_created_events_under_the_prefix(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    synth = synthesized[config]
    assert synth.settings.events == "eventbridge"
    _, rule = only_rule(synth.template)
    expected = eventbridge_pattern(synth.settings.bucket, synth.settings.prefix).to_json()
    assert resolved_pattern(rule["EventPattern"], synth.template) == expected
    assert ("object" in expected["detail"]) is bool(synth.settings.prefix)
    assert rule.get("EventBusName") is None  # S3 sends to the default bus only
    assert rule["State"] == "ENABLED"


def test_prefix_is_matched_raw_and_encoded(more: dict[str, Synthesized]) -> None:
    _, rule = only_rule(more["eventbridge_awkward"].template)
    assert rule["EventPattern"]["detail"]["object"] == {
        "key": [
            {"prefix": "my backups/c++/"},
            {"prefix": "my+backups/c%2B%2B/"},
            {"prefix": "my+backups%2Fc%2B%2B%2F"},
        ]
    }


def test_rule_targets_the_tagger_with_a_retry_policy_and_the_dead_letter_queue(existing: Synthesized) -> None:
    template = existing.template
    _, rule = only_rule(template)
    tagger, _ = function_with_handler(template, TAGGER_HANDLER)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [tagger, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [tagger_dead_letter_queue(template), "Arn"]}}
    assert "Input" not in target and "InputTransformer" not in target  # the handler reads the event as sent


def test_only_the_rule_may_invoke_the_tagger(existing: Synthesized) -> None:
    template = existing.template
    rule_id, _ = only_rule(template)
    tagger, _ = function_with_handler(template, TAGGER_HANDLER)
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [tagger, "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [tagger, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        }
    ]


def test_dead_letter_queue_accepts_eventbridge_for_this_rule_only(existing: Synthesized) -> None:
    template = existing.template
    rule_id, _ = only_rule(template)
    queue = tagger_dead_letter_queue(template)
    (policy,) = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [(s["Principal"], s["Action"], s["Resource"], s["Condition"]) for s in allows] == [
        (
            {"Service": "events.amazonaws.com"},
            "sqs:SendMessage",
            {"Fn::GetAtt": [queue, "Arn"]},
            {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
        )
    ]


@pytest.mark.parametrize(("store", "config"), [("synthesized", "existing"), ("more", "direct")])
def test_async_invoke_retries_and_failure_destination_are_the_same_in_both_modes(
    request: pytest.FixtureRequest, store: str, config: str
) -> None:
    # EventBridge invokes Lambda asynchronously too: a function error is retried by Lambda and then
    # recorded in the same queue, whichever way the event came.
    template = request.getfixturevalue(store)[config].template
    tagger, _ = function_with_handler(template, TAGGER_HANDLER)
    (invoke_config,) = [
        c["Properties"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": tagger}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["MaximumEventAgeInSeconds"] == 6 * 3600
    assert invoke_config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [tagger_dead_letter_queue(template), "Arn"]}}
    }


def test_alarms_on_events_the_rule_could_not_deliver(existing: Synthesized) -> None:
    template = existing.template
    rule_id, _ = only_rule(template)
    for metric in ("FailedInvocations", "InvocationsFailedToBeSentToDlq"):
        alarm = alarm_on(template, "AWS/Events", metric)
        assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum",
            1,
            "GreaterThanOrEqualToThreshold",
        )
        assert alarm["TreatMissingData"] == "notBreaching"  # EventBridge sends these only when not zero
        assert alarm["AlarmDescription"]


@pytest.mark.parametrize(("store", "config"), [("synthesized", "existing"), ("more", "direct")])
def test_alarm_on_failed_events_lambda_could_not_record(
    request: pytest.FixtureRequest, store: str, config: str
) -> None:
    template = request.getfixturevalue(store)[config].template
    tagger, _ = function_with_handler(template, TAGGER_HANDLER)
    alarm = alarm_on(template, "AWS/Lambda", "DestinationDeliveryFailures")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": tagger}}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)


# --- direct -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["direct", "direct_new_root"])
def test_direct_mode_has_no_rule_and_no_eventbridge_alarms(more: dict[str, Synthesized], config: str) -> None:
    template = more[config].template
    assert event_rules(template) == {}
    assert [a["MetricName"] for a in tagger_alarms(template).values() if a["Namespace"] == "AWS/Events"] == []
    queue = tagger_dead_letter_queue(template)
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        if policy["Properties"]["Queues"] == [{"Ref": queue}]:
            assert all(s["Effect"] == "Deny" for s in policy["Properties"]["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("config", ["direct", "direct_new_root"])
def test_direct_mode_lets_only_the_buckets_s3_invoke_the_tagger(
    more: dict[str, Synthesized], config: str
) -> None:
    synth = more[config]
    template = synth.template
    tagger, _ = function_with_handler(template, TAGGER_HANDLER)
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [tagger, "Arn"]}
    ]
    assert [(p["Principal"], render(p["SourceArn"], template), p["SourceAccount"]) for p in permissions] == [
        ("s3.amazonaws.com", f"arn:aws:s3:::{synth.settings.bucket}", {"Ref": "AWS::AccountId"})
    ]


# --- the S3 client gives up inside the function's timeout ---------------------------------------------


def worst_case_call_seconds(attempts: int, connect: float, read: float) -> float:
    """Every attempt stalls to both timeouts; every back-off is the longest botocore's standard mode waits."""
    # t_i = rand(0, 1) * min(scale * 2 ** (i - 1), MAX_BACKOFF), scale <= 1 (throttling), plus up to
    # _RETRY_AFTER_MAX_ADDITIONAL more when the answer carries x-amz-retry-after.
    backoff: Any = ExponentialBackoff  # its constants are private, and untyped in the stubs
    backoffs: float = sum(
        min(backoff._BASE ** (i - 1), backoff._MAX_BACKOFF) + backoff._RETRY_AFTER_MAX_ADDITIONAL
        for i in range(1, attempts)
    )
    return attempts * (connect + read) + backoffs


def test_tagger_s3_calls_give_up_within_the_function_timeout(
    existing: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client = tagger._tagger_s3_client()  # the factory the handler's lazy client calls, on AWS
    config: Any = client.meta.config  # botocore's stubs do not declare the options it was built with
    attempts = config.retries["total_max_attempts"]
    worst = worst_case_call_seconds(attempts, config.connect_timeout, config.read_timeout)
    _, props = function_with_handler(existing.template, TAGGER_HANDLER)
    assert (attempts, config.connect_timeout, config.read_timeout, worst) == (3, 2.0, 2.0, 25.0)
    assert worst < props["Timeout"] == 30


def test_worst_case_counts_the_default_clients_budget_as_far_beyond_it() -> None:
    # The shared client (8 attempts, 10 s + 60 s) is the reason the tagger has one of its own.
    assert worst_case_call_seconds(8, 10, 60) > 30 * 10


def test_tagger_refuses_an_unknown_delivery() -> None:
    # Settings refuse it first (tests/cdk/test_settings_invalid.py); the construct does not rely on that.
    stack = cdk.Stack(cdk.App(), "Bare")
    with pytest.raises(ValueError, match=r"^events: 'sqs' is not one of eventbridge, direct$"):
        Tagger(
            stack,
            "Tagger",
            bucket=s3.Bucket.from_bucket_name(stack, "Bucket", "some-backups"),
            prefix="",
            archive_unknown=False,
            events="sqs",
            code=lambda_code(),
            layer=powertools_layer(stack, "Layer"),
        )
