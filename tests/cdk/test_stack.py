"""Template assertions in both bucket modes: rules, notification, DLQ, alarms, runtime, least privilege."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from glacierable import TAG_KEY
from glacierable.lifecycle import ABORT_MPU_DAYS, ABORT_MPU_RULE_ID, ARCHIVE_RULE_ID
from infra.powertools import LAMBDA_SRC, layer_parameter_name
from tests.cdk.conftest import Synthesized

pytestmark = pytest.mark.cdk

TAGGER_HANDLER = "glacierable.handlers.tagger.handler"
RECONCILE_HANDLER = "glacierable.handlers.reconcile.handler"
LIFECYCLE_HANDLER = "glacierable.handlers.lifecycle_resource.handler"
RECONCILE_LIST_ACTIONS = {"s3:ListBucket", "s3:ListBucketVersions"}
TAGGING_ACTIONS = {
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging",
}


# --- template helpers -------------------------------------------------------------------------------


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> dict[str, Any]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.values()))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any, template: dict[str, Any]) -> str:
    """Resolve the intrinsics CDK uses for ARNs into a plain string (partition `aws`)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part, template) for part in parts)
    if value.get("Ref") == "AWS::Partition":
        return "aws"
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        resource = template["Resources"][logical_id]
        if resource["Type"] == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{resource['Properties']['BucketName']}"
        return f"<{logical_id}.{attribute}>"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(f"cannot render {value!r}")


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, list[str], dict[str, Any]]]:
    """Every IAM statement in the template, with its policy's logical ID and the roles it is attached to."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = [role["Ref"] for role in props.get("Roles", [])]
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical_id, roles, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, [logical_id], statement


def tagger_dead_letter_queue(template: dict[str, Any]) -> str:
    """The tagger's dead-letter queue among the stack's queues (the restore fan-out has two more)."""
    (queue,) = [k for k in resources(template, "AWS::SQS::Queue") if k.startswith("TaggerDeadLetterQueue")]
    return queue


def function_with_handler(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    matches = {
        k: v
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == handler
    }
    assert len(matches) == 1, f"expected one function with handler {handler}, found {sorted(matches)}"
    logical_id, resource = next(iter(matches.items()))
    return logical_id, resource["Properties"]


def role_statements(template: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    _, props = function_with_handler(template, handler)
    role = props["Role"]["Fn::GetAtt"][0]
    return [statement for _, roles, statement in policy_statements(template) if role in roles]


def s3_grants(template: dict[str, Any], handler: str) -> list[tuple[set[str], list[str], Any]]:
    """(actions, rendered resources, condition) for each S3 statement in the function's role."""
    grants = []
    for statement in role_statements(template, handler):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("s3:")}
        if actions:
            resources_ = [render(r, template) for r in as_list(statement["Resource"])]
            grants.append((actions, resources_, statement.get("Condition")))
    return grants


# --- stack ------------------------------------------------------------------------------------------


def test_stack_is_named_after_the_bucket(synthesized: dict[str, Synthesized]) -> None:
    assert synthesized["existing"].stack_name == "Glacierable-existing-backups"
    assert synthesized["existing_root"].stack_name == "Glacierable-root-backups"


def test_stack_is_environment_agnostic(existing: Synthesized) -> None:
    assert existing.environment == "aws://unknown-account/unknown-region"


def test_outputs_name_the_functions_and_dead_letter_queue(existing: Synthesized) -> None:
    outputs = existing.template["Outputs"]
    tagger, _ = function_with_handler(existing.template, TAGGER_HANDLER)
    reconcile, _ = function_with_handler(existing.template, RECONCILE_HANDLER)
    queue = tagger_dead_letter_queue(existing.template)
    assert outputs["TaggerFunctionName"]["Value"] == {"Ref": tagger}
    assert outputs["ReconcileFunctionName"]["Value"] == {"Ref": reconcile}
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": queue}
    assert outputs["DeadLetterQueueName"]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}


# --- archive rule -----------------------------------------------------------------------------------


def test_existing_bucket_is_imported_not_created(existing: Synthesized) -> None:
    existing.assertions.resource_count_is("AWS::S3::Bucket", 0)


def test_existing_bucket_gets_lifecycle_rule_through_custom_resource(existing: Synthesized) -> None:
    rule = only(existing.template, "Custom::GlacierableLifecycleRule")["Properties"]
    assert {k: v for k, v in rule.items() if k not in ("ServiceToken", "ServiceTimeout")} == {
        "BucketName": "existing-backups",
        "Prefix": "backups/",
        "StorageClass": "GLACIER",
        "TransitionDays": 1,
    }


def test_custom_resource_carries_storage_class_and_days_settings(synthesized: dict[str, Synthesized]) -> None:
    rule = only(synthesized["existing_root"].template, "Custom::GlacierableLifecycleRule")["Properties"]
    assert (rule["Prefix"], rule["StorageClass"], rule["TransitionDays"]) == ("", "GLACIER_IR", 30)


def test_custom_resource_provider_calls_the_lifecycle_handler(existing: Synthesized) -> None:
    handler, props = function_with_handler(existing.template, LIFECYCLE_HANDLER)
    framework_roles = [
        statement
        for _, _, statement in policy_statements(existing.template)
        if "lambda:InvokeFunction" in as_list(statement["Action"])
    ]
    invoked = {render(r, existing.template) for s in framework_roles for r in as_list(s["Resource"])}
    assert f"<{handler}.Arn>" in invoked
    assert props["Runtime"] == "python3.14"


def test_lifecycle_handler_may_only_read_and_write_the_buckets_lifecycle(existing: Synthesized) -> None:
    assert s3_grants(existing.template, LIFECYCLE_HANDLER) == [
        (
            {"s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetBucketLocation"},
            ["arn:aws:s3:::existing-backups"],
            None,
        )
    ]


def test_new_bucket_has_no_lifecycle_custom_resource(new: Synthesized) -> None:
    new.assertions.resource_count_is("Custom::GlacierableLifecycleRule", 0)


def test_new_bucket_archive_rule_transitions_tagged_objects_under_prefix(new: Synthesized) -> None:
    rules = only(new.template, "AWS::S3::Bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    archive = next(r for r in rules if r["Id"] == ARCHIVE_RULE_ID)
    assert archive == {
        "Id": ARCHIVE_RULE_ID,
        "Status": "Enabled",
        "Prefix": "host1/",
        "TagFilters": [{"Key": TAG_KEY, "Value": "true"}],
        "Transitions": [{"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 3}],
        "NoncurrentVersionTransitions": [{"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 3}],
    }


def test_new_bucket_aborts_incomplete_uploads_in_a_prefix_only_rule(new: Synthesized) -> None:
    rules = only(new.template, "AWS::S3::Bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    abort = next(r for r in rules if r["Id"] == ABORT_MPU_RULE_ID)
    assert abort == {
        "Id": ABORT_MPU_RULE_ID,
        "Status": "Enabled",
        "Prefix": "host1/",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MPU_DAYS},
    }


def test_new_bucket_without_prefix_filters_by_tag_only(synthesized: dict[str, Synthesized]) -> None:
    bucket = only(synthesized["new_root"].template, "AWS::S3::Bucket")["Properties"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert set(rules) == {ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID}
    assert "Prefix" not in rules[ARCHIVE_RULE_ID] and "Prefix" not in rules[ABORT_MPU_RULE_ID]
    assert rules[ARCHIVE_RULE_ID]["TagFilters"] == [{"Key": TAG_KEY, "Value": "true"}]
    assert rules[ARCHIVE_RULE_ID]["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 2}]


def test_new_bucket_is_private_encrypted_and_retained(new: Synthesized) -> None:
    new.assertions.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BucketName": "new-backups",
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                }
            ),
        },
    )


def test_new_bucket_denies_requests_without_tls(new: Synthesized) -> None:
    policy = only(new.template, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


# --- tagger and notification (event delivery: tests/cdk/test_tagger_events_stack.py) -----------------


@pytest.mark.parametrize(("config", "bucket"), [("existing", "existing-backups"), ("new", None)])
def test_every_object_created_under_prefix_reaches_the_tagger(
    synthesized: dict[str, Synthesized], config: str, bucket: str | None
) -> None:
    # The default delivery is EventBridge; our own resource merges it into the bucket's notifications.
    synth = synthesized[config]
    notification = only(synth.template, "Custom::GlacierableNotifications")["Properties"]
    assert (notification["Prefix"], notification["Events"]) == (synth.settings.prefix, "eventbridge")
    assert "FunctionArn" not in notification
    if bucket:
        assert notification["BucketName"] == bucket


def test_notification_without_prefix_covers_the_whole_bucket(synthesized: dict[str, Synthesized]) -> None:
    notification = only(synthesized["existing_root"].template, "Custom::GlacierableNotifications")[
        "Properties"
    ]
    assert notification["Prefix"] == ""


def test_tagger_runs_on_arm64_newest_python_with_small_memory(existing: Synthesized) -> None:
    _, props = function_with_handler(existing.template, TAGGER_HANDLER)
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert 128 <= props["MemorySize"] <= 256
    assert props["Timeout"] == 30


@pytest.mark.parametrize("handler", [TAGGER_HANDLER, RECONCILE_HANDLER, LIFECYCLE_HANDLER])
def test_functions_use_powertools_layer_from_public_ssm_parameter(
    existing: Synthesized, handler: str
) -> None:
    _, props = function_with_handler(existing.template, handler)
    (layer,) = props["Layers"]
    parameter = existing.template["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/aws/service/powertools/python/arm64/python3.14/3.37.0",
    }
    assert layer_parameter_name() == parameter["Default"]


def test_tagger_environment_carries_archive_unknown(synthesized: dict[str, Synthesized]) -> None:
    _, default = function_with_handler(synthesized["existing"].template, TAGGER_HANDLER)
    _, archiving = function_with_handler(synthesized["new"].template, TAGGER_HANDLER)
    assert default["Environment"]["Variables"] == {
        "ARCHIVE_UNKNOWN": "false",
        "POWERTOOLS_SERVICE_NAME": "glacierable-tagger",
        "POWERTOOLS_METRICS_NAMESPACE": "Glacierable",
    }
    assert archiving["Environment"]["Variables"]["ARCHIVE_UNKNOWN"] == "true"


def test_failed_events_go_to_dead_letter_queue_after_two_retries(existing: Synthesized) -> None:
    tagger, _ = function_with_handler(existing.template, TAGGER_HANDLER)
    queue = tagger_dead_letter_queue(existing.template)
    configs = [
        c["Properties"]
        for c in resources(existing.template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": tagger}
    ]
    assert len(configs) == 1
    assert configs[0]["MaximumRetryAttempts"] == 2
    assert configs[0]["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}


def test_tagger_may_send_to_its_dead_letter_queue(existing: Synthesized) -> None:
    queue = tagger_dead_letter_queue(existing.template)
    sends = [
        s
        for s in role_statements(existing.template, TAGGER_HANDLER)
        if "sqs:SendMessage" in as_list(s["Action"])
    ]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [queue, "Arn"]}]


def test_dead_letter_queue_is_encrypted_tls_only_and_keeps_messages_14_days(existing: Synthesized) -> None:
    logical_id = tagger_dead_letter_queue(existing.template)
    queue = existing.template["Resources"][logical_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources(existing.template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": logical_id}]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_alarm_when_any_message_reaches_dead_letter_queue(existing: Synthesized) -> None:
    queue = tagger_dead_letter_queue(existing.template)
    existing.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


@pytest.mark.parametrize("handler", [TAGGER_HANDLER, RECONCILE_HANDLER, LIFECYCLE_HANDLER])
def test_alarm_on_function_errors(existing: Synthesized, handler: str) -> None:
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


# --- reconciliation ---------------------------------------------------------------------------------


def test_reconcile_function_settings(new: Synthesized) -> None:
    _, props = function_with_handler(new.template, RECONCILE_HANDLER)
    assert props["Timeout"] == 900
    assert "ReservedConcurrentExecutions" not in props  # would not deploy in accounts limited to 10
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    variables = props["Environment"]["Variables"]
    assert {k: variables[k] for k in ("PREFIX", "RECONCILE_DAYS", "ARCHIVE_UNKNOWN")} == {
        "PREFIX": "host1/",
        "RECONCILE_DAYS": "5",
        "ARCHIVE_UNKNOWN": "true",
    }
    assert (
        render(variables["BUCKET"], new.template)
        == "<" + next(iter(resources(new.template, "AWS::S3::Bucket"))) + ">"
    )


def test_reconcile_function_names_existing_bucket(existing: Synthesized) -> None:
    _, props = function_with_handler(existing.template, RECONCILE_HANDLER)
    assert props["Environment"]["Variables"]["BUCKET"] == "existing-backups"
    assert props["Environment"]["Variables"]["RECONCILE_DAYS"] == "3"


@pytest.mark.parametrize(
    ("config", "expression"), [("existing", "rate(1 day)"), ("new", "cron(15 3 * * ? *)")]
)
def test_reconcile_runs_on_schedule(
    synthesized: dict[str, Synthesized], config: str, expression: str
) -> None:
    synth = synthesized[config]
    function, _ = function_with_handler(synth.template, RECONCILE_HANDLER)
    # The tagger's EventBridge rule is the stack's other rule (tests/cdk/test_tagger_events_stack.py).
    (rule,) = [
        r["Properties"]
        for r in resources(synth.template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert rule["ScheduleExpression"] == expression
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [function, "Arn"]}]


# --- least privilege --------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["existing", "existing_root", "new", "new_root"])
def test_no_s3_action_is_granted_on_every_resource(synthesized: dict[str, Synthesized], config: str) -> None:
    template = synthesized[config].template
    s3_statements = [
        s for _, _, s in policy_statements(template) if any(a.startswith("s3:") for a in as_list(s["Action"]))
    ]
    assert len(s3_statements) >= 3, "the walk must see the tagger's, reconciler's and notifier's S3 grants"
    offending = [
        (policy, statement)
        for policy, _, statement in policy_statements(template)
        if any(a.startswith("s3:") or a == "*" for a in as_list(statement["Action"]))
        and any(render(r, template) == "*" for r in as_list(statement.get("Resource", [])))
    ]
    assert offending == []


@pytest.mark.parametrize(
    ("config", "objects"),
    [
        ("existing", "arn:aws:s3:::existing-backups/backups/*"),
        ("existing_root", "arn:aws:s3:::root.backups/*"),
        ("new", "arn:aws:s3:::new-backups/host1/*"),
        ("new_root", "arn:aws:s3:::new-root-backups/*"),
    ],
)
def test_tagger_may_only_tag_objects_under_prefix(
    synthesized: dict[str, Synthesized], config: str, objects: str
) -> None:
    assert s3_grants(synthesized[config].template, TAGGER_HANDLER) == [(TAGGING_ACTIONS, [objects], None)]


def test_reconcile_may_list_only_under_prefix_and_tag_objects_there(existing: Synthesized) -> None:
    assert sorted(s3_grants(existing.template, RECONCILE_HANDLER), key=lambda g: sorted(g[0])) == [
        ({"s3:GetBucketVersioning", "s3:GetLifecycleConfiguration"}, ["arn:aws:s3:::existing-backups"], None),
        (TAGGING_ACTIONS, ["arn:aws:s3:::existing-backups/backups/*"], None),
        (
            RECONCILE_LIST_ACTIONS,
            ["arn:aws:s3:::existing-backups"],
            {"StringLike": {"s3:prefix": ["backups/*"]}},
        ),
    ]


def test_reconcile_without_prefix_may_list_whole_bucket(synthesized: dict[str, Synthesized]) -> None:
    grants = s3_grants(synthesized["existing_root"].template, RECONCILE_HANDLER)
    # Without a condition, CDK merges the listing grant with the bucket-level reads on the same bucket.
    bucket_actions = RECONCILE_LIST_ACTIONS | {"s3:GetBucketVersioning", "s3:GetLifecycleConfiguration"}
    assert (bucket_actions, ["arn:aws:s3:::root.backups"], None) in grants


def test_reconcile_may_list_and_tag_every_version(existing: Synthesized) -> None:
    # In a versioned bucket the sweep tags noncurrent versions too: the archive rule moves only tagged ones.
    actions = set().union(*(grant[0] for grant in s3_grants(existing.template, RECONCILE_HANDLER)))
    assert {"s3:ListBucketVersions", "s3:GetBucketVersioning", "s3:PutObjectVersionTagging"} <= actions


# --- asset ------------------------------------------------------------------------------------------


def test_lambda_asset_holds_the_runtime_package_only(existing: Synthesized, assembly_dir: Path) -> None:
    _, props = function_with_handler(existing.template, TAGGER_HANDLER)
    asset_hash = props["Code"]["S3Key"].removesuffix(".zip")
    asset = assembly_dir / f"asset.{asset_hash}"
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    package = LAMBDA_SRC / "glacierable"
    expected = {
        p.relative_to(LAMBDA_SRC).as_posix()
        for p in [*package.rglob("*.py"), *package.rglob("py.typed")]
        if "__pycache__" not in p.parts
    }
    assert files == expected
    assert "glacierable/handlers/tagger.py" in files


def test_each_handler_imports_nothing_of_the_cli_the_dev_package_rich_or_moto(
    existing: Synthesized, assembly_dir: Path
) -> None:
    _, props = function_with_handler(existing.template, TAGGER_HANDLER)
    asset = assembly_dir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
    handlers = sorted(
        p.stem for p in (asset / "glacierable" / "handlers").glob("*.py") if p.stem != "__init__"
    )
    probe = (
        "import importlib, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module('glacierable.handlers.' + name)\n"
        "    found[name] = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'glacierable_cli', 'glacierable_dev', 'rich', 'moto', 'duplicity'})\n"
        "    print(json.dumps({'file': sys.modules['glacierable'].__file__}))\n"
        "print(json.dumps(found))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(asset), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(asset)!r}); exec({probe!r})",
            *handlers,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    *origins, found = result.stdout.splitlines()
    assert all(json.loads(line)["file"].startswith(str(asset)) for line in origins)  # the asset's code ran
    assert json.loads(found) == {name: [] for name in handlers}
    assert len(handlers) >= 5


def test_alarm_when_the_tagger_meets_an_object_it_cannot_tag(existing: Synthesized) -> None:
    from glacierable.handlers.tagger import METRIC_NAMES

    assert "TooManyTags" in METRIC_NAMES  # the name the handler publishes is the name alarmed on
    _, props = function_with_handler(existing.template, TAGGER_HANDLER)
    variables = props["Environment"]["Variables"]
    existing.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": variables["POWERTOOLS_METRICS_NAMESPACE"],
            "MetricName": "TooManyTags",
            "Dimensions": [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}],
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
