"""Told when a restore is ready: the check queue, the checker, their grants and alarms, and which topic the
messages go to (the alarm topic, a topic of their own, or none: then nothing is built)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from infra.ready import CHECKER_TIMEOUT, MAX_RECEIVE_COUNT, READY_HANDLER, VISIBILITY_TIMEOUT
from infra.restore import RESTORE_HANDLER
from infra.settings import SettingsError, load_settings
from tests.cdk.conftest import build_app
from tests.cdk.test_cfn_lint import IGNORED
from tests.cdk.test_nag import report
from tests.cdk.test_stack import as_list, function_with_handler, render, resources, role_statements

pytestmark = pytest.mark.cdk

ALARM_EMAIL, NOTIFY_EMAIL = "ops@example.com", "me@example.com"
NOTIFY_ARN = "arn:aws:sns:us-east-1:123456789012:restores"
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "alarms": {"bucket": "alarm-ready", "prefix": "backups/", "alarm_email": ALARM_EMAIL},
    "own_email": {"bucket": "mail-ready", "notify_email": NOTIFY_EMAIL, "alarm_topic_arn": NOTIFY_ARN + "-x"},
    "own_topic": {
        "bucket": "topic-ready",
        "prefix": "host1/",
        "create_bucket": "true",
        "notify_topic_arn": NOTIFY_ARN,
    },
    "none": {"bucket": "silent-ready"},
}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("ready.out")
    app, _ = build_app(outdir, CONFIGURATIONS)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def templates(outdir: Path) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((outdir / f"Glacierable-{o['bucket']}.template.json").read_text())
        for name, o in CONFIGURATIONS.items()
    }


def ready_queue(template: dict[str, Any]) -> str:
    (queue,) = [k for k in resources(template, "AWS::SQS::Queue") if k.startswith("ReadyQueue")]
    return queue


def statements_with(template: dict[str, Any], handler: str, prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for s in role_statements(template, handler)
        if any(a.startswith(prefix) for a in as_list(s["Action"]))
    ]


# --- which topic ---------------------------------------------------------------------------------------


def test_without_a_notify_setting_messages_go_to_the_alarm_topic(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["alarms"]
    (topic,) = resources(template, "AWS::SNS::Topic")
    _, checker = function_with_handler(template, READY_HANDLER)
    _, planner = function_with_handler(template, RESTORE_HANDLER)
    assert checker["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"] == {"Ref": topic}
    assert planner["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"] == {"Ref": topic}
    assert planner["Environment"]["Variables"]["READY_QUEUE_URL"] == {"Ref": ready_queue(template)}


def test_notify_email_makes_an_encrypted_topic_of_its_own_with_that_subscription(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["own_email"]
    ((topic_id, topic),) = resources(template, "AWS::SNS::Topic").items()
    assert topic_id.startswith("NotifyTopic") and "KmsMasterKeyId" in topic["Properties"]
    (subscription,) = resources(template, "AWS::SNS::Subscription").values()
    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email",
        NOTIFY_EMAIL,
    )
    _, checker = function_with_handler(template, READY_HANDLER)
    assert checker["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"] == {"Ref": topic_id}
    # The alarms still go to the alarm topic, not this one.
    alarm_actions = {
        json.dumps(a["Properties"].get("AlarmActions"))
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    assert alarm_actions == {json.dumps([NOTIFY_ARN + "-x"])}


def test_notify_topic_arn_is_used_as_given(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["own_topic"]
    assert resources(template, "AWS::SNS::Topic") == {}
    (publish,) = statements_with(template, READY_HANDLER, "sns:")
    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", NOTIFY_ARN)
    assert statements_with(template, READY_HANDLER, "kms:") == []  # the operator's topic: its key is theirs


def test_without_any_topic_nothing_is_built_and_the_planner_is_not_told(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["none"]
    assert [k for k in resources(template, "AWS::SQS::Queue") if k.startswith("Ready")] == []
    handlers = {f["Properties"].get("Handler") for f in resources(template, "AWS::Lambda::Function").values()}
    assert READY_HANDLER not in handlers
    _, planner = function_with_handler(template, RESTORE_HANDLER)
    assert not {"READY_QUEUE_URL", "NOTIFY_TOPIC_ARN"} & set(planner["Environment"]["Variables"])
    assert template["Outputs"]["NotifyTopicArn"]["Value"].startswith("none: ")


def test_both_notify_settings_are_refused() -> None:
    with pytest.raises(SettingsError, match="notify_email, notify_topic_arn: give one or the other"):
        load_settings({"bucket": "b-ready", "notify_email": NOTIFY_EMAIL, "notify_topic_arn": NOTIFY_ARN})
    with pytest.raises(SettingsError, match="notify_email: 'x' is not an email address"):
        load_settings({"bucket": "b-ready", "notify_email": "x"})


# --- the queue, the checker, their grants ---------------------------------------------------------------


def test_the_check_queue_is_encrypted_and_dead_letters_after_five_receives(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["alarms"]
    props = template["Resources"][ready_queue(template)]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["VisibilityTimeout"] == VISIBILITY_TIMEOUT.to_seconds() == 6 * CHECKER_TIMEOUT.to_seconds()
    assert props["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    dead_letter = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dead_letter.startswith("ReadyDeadLetterQueue")
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions", [{}])[0].get("Value")
        == {"Fn::GetAtt": [dead_letter, "QueueName"]}
    ]
    assert (
        alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and "Ready checks" in alarm["AlarmDescription"]
    )


def test_the_checker_consumes_the_check_queue_reporting_item_failures(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["alarms"]
    function_id, _ = function_with_handler(template, READY_HANDLER)
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [ready_queue(template), "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    errors = [
        a
        for a in resources(template, "AWS::CloudWatch::Alarm")
        if a.startswith("MonitoringRestoreReadyErrors")
    ]
    assert len(errors) == 1


@pytest.mark.parametrize(("config", "prefix"), [("alarms", "backups/"), ("own_topic", "host1/")])
def test_the_checker_only_lists_under_the_prefix_sends_checks_and_publishes(
    templates: dict[str, dict[str, Any]], config: str, prefix: str
) -> None:
    template = templates[config]
    (s3,) = statements_with(template, READY_HANDLER, "s3:")
    assert s3["Action"] == "s3:ListBucket" and s3["Condition"] == {
        "StringLike": {"s3:prefix": [f"{prefix}*"]}
    }
    assert render(s3["Resource"], template).startswith("arn:aws:s3:::")
    (sqs,) = statements_with(template, READY_HANDLER, "sqs:")
    assert "sqs:SendMessage" in sqs["Action"] and sqs["Resource"] == {
        "Fn::GetAtt": [ready_queue(template), "Arn"]
    }
    actions = {a for s in role_statements(template, READY_HANDLER) for a in as_list(s["Action"])}
    assert actions - {"logs:CreateLogStream", "logs:PutLogEvents"} <= {
        "s3:ListBucket",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        *sqs["Action"],
    }


def test_with_the_alarm_topic_the_checker_may_use_its_key_and_nothing_else_of_kms(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["alarms"]
    (kms,) = statements_with(template, READY_HANDLER, "kms:")
    (key,) = resources(template, "AWS::KMS::Key")
    assert kms["Resource"] == {"Fn::GetAtt": [key, "Arn"]}


def test_the_planner_may_send_checks_and_only_the_two_functions_may(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["alarms"]
    queue = ready_queue(template)
    sends = [
        s
        for s in statements_with(template, RESTORE_HANDLER, "sqs:")
        if {"Fn::GetAtt": [queue, "Arn"]} in as_list(s["Resource"])
    ]
    assert len(sends) == 1 and "sqs:SendMessage" in as_list(sends[0]["Action"])
    (policy,) = [
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny" and s.get("Sid")]
    roles = {arn["Fn::GetAtt"][0] for arn in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]}
    assert {role.split("Role")[0] for role in roles} == {"RestoreFunction", "ReadyFunction"}


# --- checks ---------------------------------------------------------------------------------------------


def test_no_unacknowledged_nag_findings(outdir: Path) -> None:
    nag = report(outdir)
    assert nag["violations"] == [] and nag["conclusion"] == "success"


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_template_passes_cfn_lint(templates: dict[str, dict[str, Any]], config: str) -> None:
    matches = lint(json.dumps(templates[config]), config=ManualArgs(regions=["us-east-1"]))
    findings = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]
    assert [f for f in findings if f.split()[0] not in IGNORED] == []
