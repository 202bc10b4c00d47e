"""Template: our notification resource in both delivery modes, its grants, its order and service timeouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from tests.cdk.conftest import Synthesized, build_app
from tests.cdk.test_nag import report
from tests.cdk.test_stack import TAGGER_HANDLER, function_with_handler, only, resources, s3_grants

pytestmark = pytest.mark.cdk

NOTIFICATION_HANDLER = "glacierable.handlers.notification_resource.handler"
LIFECYCLE_HANDLER = "glacierable.handlers.lifecycle_resource.handler"
DIRECT: dict[str, dict[str, Any]] = {
    "existing_direct": {"bucket": "direct-backups", "prefix": "backups/", "events": "direct"},
    "new_direct": {"bucket": "new-direct-backups", "create_bucket": "true", "events": "direct"},
}


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """The direct-delivery configurations, synthesized with cdk-nag as app.py runs it."""
    outdir = tmp_path_factory.mktemp("direct.out")
    app, settings = build_app(outdir, DIRECT)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    nag = report(Path(outdir))
    assert nag["violations"] == [], nag["violations"]
    return {
        name: Synthesized(
            settings=s,
            stack_name=s.stack_name,
            environment=assembly.get_stack_by_name(s.stack_name).environment.name,
            template=assembly.get_stack_by_name(s.stack_name).template,
        )
        for name, s in settings.items()
    }


def every_configuration(
    synthesized: dict[str, Synthesized], direct: dict[str, Synthesized]
) -> dict[str, Synthesized]:
    return {**synthesized, **direct}


def test_no_cdk_bucket_notification_handler_anywhere(
    synthesized: dict[str, Synthesized], direct: dict[str, Synthesized]
) -> None:
    for name, synth in every_configuration(synthesized, direct).items():
        types = {r["Type"] for r in synth.template["Resources"].values()}
        assert "Custom::S3BucketNotifications" not in types, name
        assert not [k for k in synth.template["Resources"] if k.startswith("BucketNotificationsHandler")], (
            name
        )
        only(synth.template, "Custom::GlacierableNotifications")


def test_direct_mode_names_the_tagger_and_may_invoke_it(direct: dict[str, Synthesized]) -> None:
    synth = direct["existing_direct"]
    tagger, _ = function_with_handler(synth.template, TAGGER_HANDLER)
    notifications = {
        k: v
        for k, v in synth.template["Resources"].items()
        if v["Type"] == "Custom::GlacierableNotifications"
    }
    ((_, resource),) = notifications.items()
    props = resource["Properties"]
    assert {k: v for k, v in props.items() if k not in ("ServiceToken", "ServiceTimeout")} == {
        "BucketName": "direct-backups",
        "Prefix": "backups/",
        "Events": "direct",
        "FunctionArn": {"Fn::GetAtt": [tagger, "Arn"]},
    }
    s3_permissions = {
        k: v["Properties"]
        for k, v in resources(synth.template, "AWS::Lambda::Permission").items()
        if v["Properties"]["Principal"] == "s3.amazonaws.com"
    }
    ((permission_id, permission),) = s3_permissions.items()
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [tagger, "Arn"]},
        "Principal": "s3.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
        "SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::direct-backups"]]},
    }
    # S3 checks it may invoke the destination when the configuration is written.
    assert permission_id in resource["DependsOn"]


@pytest.mark.parametrize("config", ["existing", "existing_root", "new", "new_root"])
def test_eventbridge_mode_grants_s3_no_invoke(synthesized: dict[str, Synthesized], config: str) -> None:
    template = synthesized[config].template
    principals = {
        p["Properties"]["Principal"] for p in resources(template, "AWS::Lambda::Permission").values()
    }
    assert "s3.amazonaws.com" not in principals
    props = only(template, "Custom::GlacierableNotifications")["Properties"]
    assert props["Events"] == "eventbridge"


@pytest.mark.parametrize(
    ("config", "bucket"),
    [("existing", "arn:aws:s3:::existing-backups"), ("new", "arn:aws:s3:::new-backups")],
)
def test_notification_handler_may_only_read_and_write_the_buckets_notifications(
    synthesized: dict[str, Synthesized], config: str, bucket: str
) -> None:
    assert s3_grants(synthesized[config].template, NOTIFICATION_HANDLER) == [
        ({"s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetBucketLocation"}, [bucket], None)
    ]


def test_notification_handler_grants_are_the_same_in_direct_mode(direct: dict[str, Synthesized]) -> None:
    assert s3_grants(direct["existing_direct"].template, NOTIFICATION_HANDLER) == [
        (
            {"s3:GetBucketNotification", "s3:PutBucketNotification", "s3:GetBucketLocation"},
            ["arn:aws:s3:::direct-backups"],
            None,
        )
    ]


def test_lifecycle_handler_may_also_read_the_buckets_location(synthesized: dict[str, Synthesized]) -> None:
    (grant,) = s3_grants(synthesized["existing"].template, LIFECYCLE_HANDLER)
    assert "s3:GetBucketLocation" in grant[0]


@pytest.mark.parametrize("config", ["existing", "existing_root"])
def test_the_notification_resource_waits_for_the_lifecycle_resource(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    (rule,) = resources(template, "Custom::GlacierableLifecycleRule")
    notification = only(template, "Custom::GlacierableNotifications")
    assert rule in notification["DependsOn"]


def test_direct_mode_waits_for_the_lifecycle_resource_too(direct: dict[str, Synthesized]) -> None:
    template = direct["existing_direct"].template
    (rule,) = resources(template, "Custom::GlacierableLifecycleRule")
    assert rule in only(template, "Custom::GlacierableNotifications")["DependsOn"]


@pytest.mark.parametrize("config", ["new", "new_root"])
def test_on_a_new_bucket_the_notification_resource_waits_for_the_bucket_policy(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    (policy,) = resources(template, "AWS::S3::BucketPolicy")
    assert policy in only(template, "Custom::GlacierableNotifications")["DependsOn"]


@pytest.mark.parametrize("config", ["existing", "new"])
def test_every_custom_resource_has_a_service_timeout_of_minutes(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    custom = [r for r in template["Resources"].values() if r["Type"].startswith("Custom::")]
    assert len(custom) == (2 if config == "existing" else 1)
    assert {r["Properties"]["ServiceTimeout"] for r in custom} == {"300"}


def test_notification_handler_fits_inside_the_service_timeout(synthesized: dict[str, Synthesized]) -> None:
    template = synthesized["existing"].template
    for handler in (NOTIFICATION_HANDLER, LIFECYCLE_HANDLER):
        _, props = function_with_handler(template, handler)
        assert props["Timeout"] * 2 <= 300, handler


def test_notification_handler_errors_raise_an_alarm(synthesized: dict[str, Synthesized]) -> None:
    template = synthesized["existing"].template
    function, _ = function_with_handler(template, NOTIFICATION_HANDLER)
    alarmed = [
        a["Properties"]["Dimensions"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
    ]
    assert [{"Name": "FunctionName", "Value": {"Ref": function}}] in alarmed
