"""Template assertions for the restore fan-out: planner, queue, workers, alarms, least privilege."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.powertools import layer_parameter_name
from tests.cdk.conftest import CONFIGURATIONS, Synthesized
from tests.cdk.test_stack import (
    TAGGER_HANDLER,
    TAGGING_ACTIONS,
    as_list,
    function_with_handler,
    only,
    render,
    resources,
    role_statements,
    s3_grants,
    tagger_dead_letter_queue,
)

pytestmark = pytest.mark.cdk

RESTORE_HANDLER = "glacierable.handlers.restore.handler"
WORKER_HANDLER = "glacierable.handlers.restore_worker.handler"
S3_RESTORE_REQUESTS_PER_SECOND = 1_000
REQUESTS_PER_SECOND_PER_THREAD = 10
"""One RestoreObject round trip takes ~100 ms: the estimate the worker cap is sized by."""

OBJECTS = {
    "existing": "arn:aws:s3:::existing-backups/backups/*",
    "existing_root": "arn:aws:s3:::root.backups/*",
    "new": "arn:aws:s3:::new-backups/host1/*",
    "new_root": "arn:aws:s3:::new-root-backups/*",
}
BUCKETS = {config: arn.removeprefix("arn:aws:s3:::").split("/")[0] for config, arn in OBJECTS.items()}
LIST_CONDITIONS = {
    "existing": {"StringLike": {"s3:prefix": ["backups/*"]}},
    "existing_root": None,
    "new": {"StringLike": {"s3:prefix": ["host1/*"]}},
    "new_root": None,
}
ALL_CONFIGS = sorted(CONFIGURATIONS)


def restore_queues(template: dict[str, Any]) -> tuple[str, str]:
    """(queue, dead-letter queue) logical IDs: the queue is the one with a redrive policy."""
    queues = resources(template, "AWS::SQS::Queue")
    (queue,) = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    dead_letter = queues[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return queue, dead_letter


def event_source(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = only(template, "AWS::Lambda::EventSourceMapping")["Properties"]
    return properties


def variables(template: dict[str, Any], handler: str) -> dict[str, Any]:
    _, props = function_with_handler(template, handler)
    env: dict[str, Any] = props["Environment"]["Variables"]
    return env


# --- functions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", [RESTORE_HANDLER, WORKER_HANDLER])
def test_restore_functions_run_on_arm64_newest_python(existing: Synthesized, handler: str) -> None:
    _, props = function_with_handler(existing.template, handler)
    assert (props["Runtime"], props["Architectures"]) == ("python3.14", ["arm64"])


@pytest.mark.parametrize("handler", [RESTORE_HANDLER, WORKER_HANDLER])
def test_restore_functions_share_the_taggers_asset_and_powertools_layer(
    existing: Synthesized, handler: str
) -> None:
    _, props = function_with_handler(existing.template, handler)
    _, tagger = function_with_handler(existing.template, TAGGER_HANDLER)
    assert props["Code"] == tagger["Code"]
    (layer,) = props["Layers"]
    assert existing.template["Parameters"][layer["Ref"]]["Default"] == layer_parameter_name()
    assert props["Layers"] == tagger["Layers"]


def test_planner_has_fifteen_minutes_and_memory_for_large_listings(existing: Synthesized) -> None:
    _, props = function_with_handler(existing.template, RESTORE_HANDLER)
    assert props["Timeout"] == 900
    assert props["MemorySize"] == 1024


def test_planner_environment_names_bucket_prefix_and_queue(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    assert variables(existing.template, RESTORE_HANDLER) == {
        "BUCKET": "existing-backups",
        "PREFIX": "backups/",
        "RESTORE_QUEUE_URL": {"Ref": queue},
        "CONCURRENCY": "32",
        "POWERTOOLS_SERVICE_NAME": "glacierable-restore",
        "POWERTOOLS_METRICS_NAMESPACE": "Glacierable",
    }


def test_planner_environment_names_created_bucket(new: Synthesized) -> None:
    env = variables(new.template, RESTORE_HANDLER)
    bucket = next(iter(resources(new.template, "AWS::S3::Bucket")))
    assert env["BUCKET"] == {"Ref": bucket}
    assert env["PREFIX"] == "host1/"


def test_planner_without_prefix_has_empty_prefix(synthesized: dict[str, Synthesized]) -> None:
    assert variables(synthesized["existing_root"].template, RESTORE_HANDLER)["PREFIX"] == ""


def test_planner_concurrency_is_within_the_handlers_range(existing: Synthesized) -> None:
    assert 1 <= int(variables(existing.template, RESTORE_HANDLER)["CONCURRENCY"]) <= 256


def test_planner_asynchronous_invocations_are_not_retried(existing: Synthesized) -> None:
    planner, _ = function_with_handler(existing.template, RESTORE_HANDLER)
    (config,) = [
        c["Properties"]
        for c in resources(existing.template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": planner}
    ]
    assert config["MaximumRetryAttempts"] == 0


def test_worker_environment_names_queue_and_thread_count(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    assert variables(existing.template, WORKER_HANDLER) == {
        "RESTORE_QUEUE_URL": {"Ref": queue},
        "CONCURRENCY": "16",
        "POWERTOOLS_SERVICE_NAME": "glacierable-restore-worker",
        "POWERTOOLS_METRICS_NAMESPACE": "Glacierable",
    }


def test_worker_times_out_after_five_minutes(existing: Synthesized) -> None:
    _, props = function_with_handler(existing.template, WORKER_HANDLER)
    assert props["Timeout"] == 300


# --- queue and event source -------------------------------------------------------------------------


def test_restore_queue_redrives_to_dead_letter_queue_after_five_receives(existing: Synthesized) -> None:
    queue, dead_letter = restore_queues(existing.template)
    redrive = existing.template["Resources"][queue]["Properties"]["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [dead_letter, "Arn"]}, "maxReceiveCount": 5}


def test_restore_queue_visibility_timeout_is_six_worker_timeouts(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    _, worker = function_with_handler(existing.template, WORKER_HANDLER)
    assert existing.template["Resources"][queue]["Properties"]["VisibilityTimeout"] >= 6 * worker["Timeout"]


def test_restore_dead_letter_queue_keeps_messages_14_days(existing: Synthesized) -> None:
    _, dead_letter = restore_queues(existing.template)
    properties = existing.template["Resources"][dead_letter]["Properties"]
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_restore_queues_are_encrypted_and_tls_only(existing: Synthesized) -> None:
    for queue in restore_queues(existing.template):
        assert existing.template["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True
        (policy,) = [
            p["Properties"]["PolicyDocument"]
            for p in resources(existing.template, "AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [{"Ref": queue}]
        ]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Statement"]
        )


def test_worker_consumes_restore_queue_reporting_batch_item_failures(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    worker, _ = function_with_handler(existing.template, WORKER_HANDLER)
    mapping = event_source(existing.template)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": worker}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10


def test_worker_concurrency_keeps_restores_well_under_s3s_rate_limit(existing: Synthesized) -> None:
    workers = event_source(existing.template)["ScalingConfig"]["MaximumConcurrency"]
    threads = int(variables(existing.template, WORKER_HANDLER)["CONCURRENCY"])
    assert workers >= 2  # SQS event sources accept no lower maximum
    assert workers * threads * REQUESTS_PER_SECOND_PER_THREAD <= 0.8 * S3_RESTORE_REQUESTS_PER_SECOND


def test_a_batch_of_messages_finishes_well_within_the_worker_timeout(existing: Synthesized) -> None:
    _, worker = function_with_handler(existing.template, WORKER_HANDLER)
    keys = event_source(existing.template)["BatchSize"] * 200  # glacierable.batches.MAX_KEYS_PER_BATCH
    threads = int(variables(existing.template, WORKER_HANDLER)["CONCURRENCY"])
    seconds = keys / (threads * REQUESTS_PER_SECOND_PER_THREAD)
    assert seconds * 10 <= worker["Timeout"]


# --- alarms and outputs -----------------------------------------------------------------------------


def test_alarm_when_any_batch_reaches_restore_dead_letter_queue(existing: Synthesized) -> None:
    _, dead_letter = restore_queues(existing.template)
    existing.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmDescription": Match.string_like_regexp("Restore batches"),
        },
    )


@pytest.mark.parametrize("handler", [RESTORE_HANDLER, WORKER_HANDLER])
def test_alarm_on_restore_function_errors(existing: Synthesized, handler: str) -> None:
    function, _ = function_with_handler(existing.template, handler)
    existing.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_tagger_dead_letter_alarm_is_still_there(existing: Synthesized) -> None:
    tagger_queue = tagger_dead_letter_queue(existing.template)
    dimensions = [
        a["Properties"].get("Dimensions")
        for a in resources(existing.template, "AWS::CloudWatch::Alarm").values()
    ]
    assert [{"Name": "QueueName", "Value": {"Fn::GetAtt": [tagger_queue, "QueueName"]}}] in dimensions


def test_outputs_name_restore_functions_and_queues(existing: Synthesized) -> None:
    outputs = existing.template["Outputs"]
    planner, _ = function_with_handler(existing.template, RESTORE_HANDLER)
    worker, _ = function_with_handler(existing.template, WORKER_HANDLER)
    queue, dead_letter = restore_queues(existing.template)
    assert outputs["RestoreFunctionName"]["Value"] == {"Ref": planner}
    assert outputs["RestoreWorkerFunctionName"]["Value"] == {"Ref": worker}
    assert outputs["RestoreQueueUrl"]["Value"] == {"Ref": queue}
    assert outputs["RestoreDeadLetterQueueUrl"]["Value"] == {"Ref": dead_letter}


# --- least privilege --------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_planner_may_only_list_under_prefix_and_read_objects_there(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    grants = sorted(s3_grants(synthesized[config].template, RESTORE_HANDLER), key=lambda g: sorted(g[0]))
    assert grants == [
        ({"s3:GetObject"}, [OBJECTS[config]], None),
        ({"s3:ListBucket"}, [f"arn:aws:s3:::{BUCKETS[config]}"], LIST_CONDITIONS[config]),
    ]


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_worker_may_only_restore_and_head_objects_under_prefix(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    # HeadObject (authorized by s3:GetObject) lets a redelivered batch skip what S3 already accepted.
    assert s3_grants(synthesized[config].template, WORKER_HANDLER) == [
        ({"s3:RestoreObject", "s3:GetObject"}, [OBJECTS[config]], None)
    ]


def test_worker_may_neither_list_nor_tag(existing: Synthesized) -> None:
    actions = {a for s in role_statements(existing.template, WORKER_HANDLER) for a in as_list(s["Action"])}
    assert actions.isdisjoint({"s3:ListBucket", *TAGGING_ACTIONS})


def test_planner_may_not_restore(existing: Synthesized) -> None:
    actions = {a for s in role_statements(existing.template, RESTORE_HANDLER) for a in as_list(s["Action"])}
    assert "s3:RestoreObject" not in actions


def test_planner_may_only_send_to_restore_queue(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    sqs_statements = [
        s
        for s in role_statements(existing.template, RESTORE_HANDLER)
        if any(a.startswith("sqs:") for a in as_list(s["Action"]))
    ]
    assert [s["Resource"] for s in sqs_statements] == [{"Fn::GetAtt": [queue, "Arn"]}]
    actions = set(as_list(sqs_statements[0]["Action"]))
    assert "sqs:SendMessage" in actions
    assert actions.isdisjoint({"sqs:ReceiveMessage", "sqs:DeleteMessage"})


def test_worker_may_only_consume_and_resend_on_restore_queue(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    sqs_statements = [
        s
        for s in role_statements(existing.template, WORKER_HANDLER)
        if any(a.startswith("sqs:") for a in as_list(s["Action"]))
    ]
    assert {render(r, existing.template) for s in sqs_statements for r in as_list(s["Resource"])} == {
        f"<{queue}.Arn>"
    }
    actions = {a for s in sqs_statements for a in as_list(s["Action"])}
    assert {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions


@pytest.mark.parametrize("config", ALL_CONFIGS)
@pytest.mark.parametrize("handler", [RESTORE_HANDLER, WORKER_HANDLER])
def test_restore_roles_grant_nothing_on_every_resource(
    synthesized: dict[str, Synthesized], config: str, handler: str
) -> None:
    template = synthesized[config].template
    statements = role_statements(template, handler)
    assert statements
    assert [s for s in statements if any(render(r, template) == "*" for r in as_list(s["Resource"]))] == []


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_tagger_gains_nothing_from_the_restore_fan_out(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    assert s3_grants(template, TAGGER_HANDLER) == [(TAGGING_ACTIONS, [OBJECTS[config]], None)]
    restore_arns = {f"<{queue}.Arn>" for queue in restore_queues(template)}
    statements = role_statements(template, TAGGER_HANDLER)
    granted = {render(r, template) for s in statements for r in as_list(s["Resource"])}
    assert granted.isdisjoint(restore_arns)
