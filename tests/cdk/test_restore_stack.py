"""Template assertions for the restore fan-out: planner, queue, workers, alarms, least privilege."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_cdk.assertions import Match

from glacierable.batches import Batch
from glacierable.handlers import restore_worker
from glacierable.pricing import Tier
from glacierable_dev.lambdas import FakeLambdaContext
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
from tests.integration.test_restore import count_restores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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


def test_planner_asynchronous_invocations_are_not_retried(existing: Synthesized) -> None:
    planner, _ = function_with_handler(existing.template, RESTORE_HANDLER)
    (config,) = [
        c["Properties"]
        for c in resources(existing.template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": planner}
    ]
    assert config["MaximumRetryAttempts"] == 0


def test_worker_environment_names_bucket_queue_and_thread_count(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    assert variables(existing.template, WORKER_HANDLER) == {
        "BUCKET": "existing-backups",
        "RESTORE_QUEUE_URL": {"Ref": queue},
        "CONCURRENCY": "18",
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


def queue_policy(template: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    statements: list[dict[str, Any]] = policy
    return statements


def role_arn(template: dict[str, Any], handler: str) -> str:
    _, props = function_with_handler(template, handler)
    return render(props["Role"], template)


def denied(statements: list[dict[str, Any]], template: dict[str, Any], principal: str, action: str) -> bool:
    """Whether a Deny in `statements` applies to `principal` calling `action` over TLS.

    Knows exactly the conditions the stack writes, and fails on any other: a new condition must be taught
    here rather than silently read as "does not apply".
    """
    for statement in statements:
        if statement["Effect"] != "Deny" or statement["Principal"] != {"AWS": "*"}:
            continue
        if not any(a in ("sqs:*", action) for a in as_list(statement["Action"])):
            continue
        applies = True
        for operator, tests in statement.get("Condition", {}).items():
            for key, values in tests.items():
                if (operator, key) == ("Bool", "aws:SecureTransport"):
                    applies &= values == "true"  # requests here are TLS: this Deny is for plain HTTP
                elif (operator, key) == ("ArnNotEquals", "aws:PrincipalArn"):
                    applies &= principal not in {render(v, template) for v in as_list(values)}
                else:
                    raise AssertionError(f"unknown condition {operator} {key}")
        if applies:
            return True
    return False


CONSUMING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
"""What the workers' SQS event source does on the worker's role's behalf."""


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_restore_queue_refuses_sends_from_anyone_but_the_planner_and_the_worker(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    queue, _ = restore_queues(template)
    statements = queue_policy(template, queue)
    planner, worker = role_arn(template, RESTORE_HANDLER), role_arn(template, WORKER_HANDLER)
    administrator = "arn:aws:iam::123456789012:role/Administrator"
    tagger = role_arn(template, TAGGER_HANDLER)

    assert not denied(statements, template, planner, "sqs:SendMessage")
    assert not denied(statements, template, worker, "sqs:SendMessage")
    assert denied(statements, template, administrator, "sqs:SendMessage")
    assert denied(statements, template, tagger, "sqs:SendMessage")
    # Only sending is limited: the event source's calls, and an operator's look at the queue, are not.
    for action in (*CONSUMING_ACTIONS, "sqs:GetQueueAttributes"):
        assert not denied(statements, template, worker, action)
        assert not denied(statements, template, administrator, action)


def test_restore_queue_deny_names_the_two_roles_by_arn(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    (deny,) = [s for s in queue_policy(existing.template, queue) if s["Action"] == "sqs:SendMessage"]
    roles = [
        function_with_handler(existing.template, h)[1]["Role"] for h in (RESTORE_HANDLER, WORKER_HANDLER)
    ]
    assert deny == {
        "Sid": "SendOnlyFromRestoreFunctions",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": roles}},
    }


def test_worker_consumes_restore_queue_reporting_batch_item_failures(existing: Synthesized) -> None:
    queue, _ = restore_queues(existing.template)
    worker, _ = function_with_handler(existing.template, WORKER_HANDLER)
    mapping = event_source(existing.template)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": worker}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10


def test_worker_concurrency_keeps_restores_under_and_within_a_fifth_of_s3s_rate_limit(
    existing: Synthesized,
) -> None:
    workers = event_source(existing.template)["ScalingConfig"]["MaximumConcurrency"]
    threads = int(variables(existing.template, WORKER_HANDLER)["CONCURRENCY"])
    assert workers >= 2  # SQS event sources accept no lower maximum
    rate = workers * threads * REQUESTS_PER_SECOND_PER_THREAD
    assert 0.8 * S3_RESTORE_REQUESTS_PER_SECOND <= rate < S3_RESTORE_REQUESTS_PER_SECOND


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
def test_planner_may_only_list_under_prefix(synthesized: dict[str, Synthesized], config: str) -> None:
    # The listing's RestoreStatus needs s3:ListBucket alone; where a listing lacks it, the workers' requests
    # read S3's answers instead of HEADing each object.
    assert s3_grants(synthesized[config].template, RESTORE_HANDLER) == [
        ({"s3:ListBucket"}, [f"arn:aws:s3:::{BUCKETS[config]}"], LIST_CONDITIONS[config])
    ]


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_worker_may_only_restore_objects_under_prefix(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    assert s3_grants(synthesized[config].template, WORKER_HANDLER) == [
        ({"s3:RestoreObject"}, [OBJECTS[config]], None)
    ]


READ_ACTIONS = re.compile(r"s3:(\*|Get\*|GetObject.*|\*Object)$")
"""s3:GetObject (which authorizes HeadObject too), every s3:GetObject* action, and wildcards covering them."""


@pytest.mark.parametrize("config", ALL_CONFIGS)
@pytest.mark.parametrize("handler", [RESTORE_HANDLER, WORKER_HANDLER])
def test_neither_restore_function_may_read_an_object(
    synthesized: dict[str, Synthesized], config: str, handler: str
) -> None:
    template = synthesized[config].template
    statements = role_statements(template, handler)
    actions = {a for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert actions, "the walk must see the function's statements"
    assert {a for a in actions if READ_ACTIONS.match(a) or a == "*"} == set()


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


# --- the worker's other-bucket guard, with the environment the stack sets ------------------------------


def deployed_environment(template: dict[str, Any], handler: str, refs: dict[str, str]) -> dict[str, str]:
    """The environment as Lambda sets it: a Ref to the stack's bucket is its name, other Refs `refs`."""
    environment: dict[str, str] = {}
    for name, value in variables(template, handler).items():
        if isinstance(value, str):
            environment[name] = value
            continue
        (ref,) = value.values() if set(value) == {"Ref"} else (None,)
        resource = template["Resources"].get(ref, {}) if isinstance(ref, str) else {}
        if resource.get("Type") == "AWS::S3::Bucket":
            environment[name] = resource["Properties"]["BucketName"]
        elif ref in refs:
            environment[name] = refs[ref]
        else:
            raise AssertionError(f"{name}: no deployed value for {value!r}")
    return environment


def message(message_id: str, batch: Batch) -> dict[str, Any]:
    return {"messageId": message_id, "body": batch.to_body(), "eventSource": "aws:sqs"}


@pytest.mark.parametrize("config", ["existing", "new"])
def test_worker_refuses_a_batch_for_another_bucket_with_the_environment_the_stack_sets(
    synthesized: dict[str, Synthesized],
    config: str,
    s3: S3Client,
    endpoint_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    template = synthesized[config].template
    queue, _ = restore_queues(template)
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    queue_url = sqs.create_queue(QueueName=f"restore-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    environment = deployed_environment(template, WORKER_HANDLER, {queue: queue_url})
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    own_bucket = environment["BUCKET"]
    assert own_bucket == synthesized[config].settings.bucket
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=own_bucket)
    key = f"{synthesized[config].settings.prefix}duplicity-full.20231110T000000Z.vol1.difftar.gpg"
    s3.put_object(Bucket=own_bucket, Key=key, Body=b"v", StorageClass="GLACIER")
    monkeypatch.setattr(restore_worker.metrics, "namespace", "Glacierable")
    calls = count_restores(s3)

    with restore_worker.s3.use(s3), restore_worker.sqs.use(sqs):
        result = restore_worker.handler(
            {
                "Records": [
                    message("foreign", Batch("r1", "someone-elses-bucket", Tier.BULK, 1, False, (key,))),
                    message("own", Batch("r1", own_bucket, Tier.BULK, 1, False, (key,))),
                ]
            },
            FakeLambdaContext("glacierable-worker"),
        )

    assert result == {"batchItemFailures": [{"itemIdentifier": "foreign"}]}
    assert calls == Counter({key: 1})  # the stack's own bucket's batch, and only it, was requested
