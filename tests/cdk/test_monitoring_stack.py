"""Alarms reach a person: every alarm notifies the stack's email topic or the operator's own topic; the
restore queue's oldest message, the archive rule and the sweep's schedule are watched; cdk-nag stays clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from glacierable.lifecycle import ARCHIVE_RULE_ID
from infra.reconciler import RECONCILE_HANDLER, RECONCILE_MEMORY_MB
from infra.restore import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT, WORKER_TIMEOUT
from infra.stack import RESTORE_QUEUE_MAX_AGE
from tests.cdk.conftest import build_app
from tests.cdk.test_cfn_lint import IGNORED
from tests.cdk.test_nag import report
from tests.cdk.test_stack import function_with_handler, only, resources, role_statements

pytestmark = pytest.mark.cdk

EMAIL = "ops@example.com"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops-alarms"
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "email": {"bucket": "mail-backups", "prefix": "backups/", "alarm_email": EMAIL},
    "topic": {"bucket": "topic-backups", "create_bucket": "true", "alarm_topic_arn": TOPIC_ARN},
    "silent": {"bucket": "silent-backups", "alarm_email": ""},
}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """These configurations synthesized with AwsSolutionsChecks, as app.py does."""
    outdir = tmp_path_factory.mktemp("monitoring.out")
    app, _ = build_app(outdir, CONFIGURATIONS)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def templates(outdir: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, overrides in CONFIGURATIONS.items():
        stack = "Glacierable-" + overrides["bucket"]
        found[name] = json.loads((outdir / f"{stack}.template.json").read_text())
    return found


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(template, "AWS::CloudWatch::Alarm").items()}


def alarm_on(template: dict[str, Any], metric: str) -> dict[str, Any]:
    (alarm,) = [props for props in alarms(template).values() if props.get("MetricName") == metric]
    return alarm


# --- where alarms notify ------------------------------------------------------------------------------


def test_with_alarm_email_every_alarm_notifies_the_new_topic(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["email"]
    (topic,) = resources(template, "AWS::SNS::Topic")
    found = alarms(template)
    assert len(found) >= 10, "the walk must see the dead-letter, error, metric and queue-age alarms"
    assert {name: props.get("AlarmActions") for name, props in found.items()} == {
        name: [{"Ref": topic}] for name in found
    }
    assert [props.get("OKActions") for props in found.values()] == [None] * len(found)


def test_with_alarm_email_the_topic_has_an_email_subscription(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["email"]
    (topic,) = resources(template, "AWS::SNS::Topic")
    subscription = only(template, "AWS::SNS::Subscription")["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", EMAIL)
    assert subscription["TopicArn"] == {"Ref": topic}


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    templates: dict[str, dict[str, Any]],
) -> None:
    # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key.
    template = templates["email"]
    (key_id,) = resources(template, "AWS::KMS::Key")
    key = template["Resources"][key_id]["Properties"]
    assert only(template, "AWS::SNS::Topic")["Properties"]["KmsMasterKeyId"] == {
        "Fn::GetAtt": [key_id, "Arn"]
    }
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_the_alarm_topic_refuses_plain_http_and_lets_this_accounts_alarms_publish(
    templates: dict[str, dict[str, Any]],
) -> None:
    policy = only(templates["email"], "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in policy if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in deny] == [{"Bool": {"aws:SecureTransport": "false"}}]
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_with_alarm_topic_arn_every_alarm_notifies_that_topic_and_none_is_created(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["topic"]
    found = alarms(template)
    assert len(found) >= 10
    assert {props.get("AlarmActions") == [TOPIC_ARN] for props in found.values()} == {True}
    assert resources(template, "AWS::SNS::Topic") == {}
    assert resources(template, "AWS::SNS::Subscription") == {}
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == TOPIC_ARN


def test_without_either_setting_alarms_have_no_action_and_the_output_says_how(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["silent"]
    assert {props.get("AlarmActions") for props in alarms(template).values()} == {None}
    assert resources(template, "AWS::SNS::Topic") == {}
    value = template["Outputs"]["AlarmTopicArn"]["Value"]
    assert "-c alarm_email=" in value and "-c alarm_topic_arn=" in value


# --- what is watched ----------------------------------------------------------------------------------


def test_the_restore_queues_oldest_message_is_watched(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["email"]
    alarm = alarm_on(template, "ApproximateAgeOfOldestMessage")
    (queue,) = [k for k in resources(template, "AWS::SQS::Queue") if k.startswith("RestoreQueue")]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (3600, "GreaterThanThreshold")


def test_the_oldest_message_threshold_sits_between_one_failed_receive_and_the_dead_letter_queue() -> None:
    one_failed_receive = VISIBILITY_TIMEOUT.to_seconds() + WORKER_TIMEOUT.to_seconds()
    dead_lettered = MAX_RECEIVE_COUNT * VISIBILITY_TIMEOUT.to_seconds()
    assert one_failed_receive < RESTORE_QUEUE_MAX_AGE.to_seconds() < dead_lettered


@pytest.mark.parametrize("metric", ["ArchiveRuleMissing", "ArchiveRuleUnchecked", "CheckProblems"])
def test_the_sweeps_checks_are_alarmed(templates: dict[str, dict[str, Any]], metric: str) -> None:
    alarm = alarm_on(templates["email"], metric)
    assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("Glacierable", "Maximum", 1)
    # Powertools publishes under the function's service name (its POWERTOOLS_SERVICE_NAME).
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "glacierable-reconcile"}]


def test_the_reconciler_is_told_which_rule_to_find(templates: dict[str, dict[str, Any]]) -> None:
    _, props = function_with_handler(templates["email"], RECONCILE_HANDLER)
    variables = props["Environment"]["Variables"]
    assert {k: variables[k] for k in ("ARCHIVE_RULE_ID", "ARCHIVE_STORAGE_CLASS", "ARCHIVE_DAYS")} == {
        "ARCHIVE_RULE_ID": ARCHIVE_RULE_ID,
        "ARCHIVE_STORAGE_CLASS": "GLACIER",
        "ARCHIVE_DAYS": "1",
    }
    assert props["MemorySize"] == RECONCILE_MEMORY_MB


@pytest.mark.parametrize("config", ["email", "topic"])
def test_the_reconciler_may_read_the_lifecycle_configuration_of_its_bucket_only(
    templates: dict[str, dict[str, Any]], config: str
) -> None:
    template = templates[config]
    granted = [
        s["Resource"]
        for s in role_statements(template, RECONCILE_HANDLER)
        if "s3:GetLifecycleConfiguration" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert len(granted) == 1
    rendered = json.dumps(granted[0])
    assert "*" not in rendered
    bucket = CONFIGURATIONS[config]["bucket"]
    assert bucket in rendered or '"Fn::GetAtt"' in rendered


def test_the_sweeps_schedule_target_has_an_alarmed_dead_letter_queue(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["email"]
    # The tagger's EventBridge rule is the stack's other rule.
    (schedule,) = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    (target,) = schedule["Targets"]
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert queue.startswith("ReconcilerDeadLetterQueue")
    props = template["Resources"][queue]["Properties"]
    assert (props["SqsManagedSseEnabled"], props["MessageRetentionPeriod"]) == (True, 14 * 24 * 3600)
    watched = [
        a["Dimensions"][0]["Value"]
        for a in alarms(template).values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert {"Fn::GetAtt": [queue, "QueueName"]} in watched
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 2}


# --- checks -------------------------------------------------------------------------------------------


def test_no_unacknowledged_nag_findings(outdir: Path) -> None:
    nag = report(outdir)
    assert nag["violations"] == []
    assert nag["conclusion"] == "success"


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_template_passes_cfn_lint(templates: dict[str, dict[str, Any]], config: str) -> None:
    matches = lint(json.dumps(templates[config]), config=ManualArgs(regions=["us-east-1"]))
    findings = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]
    assert [f for f in findings if f.split()[0] not in IGNORED] == []
