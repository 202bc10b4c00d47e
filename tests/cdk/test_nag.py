"""cdk-nag AwsSolutions: no unacknowledged finding in either bucket mode; every acknowledgement justified."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

from tests.cdk.conftest import CONFIGURATIONS, build_app

pytestmark = pytest.mark.cdk

ACCEPTED_RULES = {"AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-S1", "AwsSolutions-SQS3"}
"""Rules we acknowledge somewhere; a new kind of finding must be fixed or consciously added here."""


def report(outdir: Path) -> dict[str, Any]:
    plugin_reports: list[dict[str, Any]] = json.loads((outdir / "validation-report.json").read_text())[
        "pluginReports"
    ]
    (nag,) = [p for p in plugin_reports if p["pluginName"] == "AwsSolutions"]
    return nag


@pytest.fixture(scope="module")
def nagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All configurations synthesized with AwsSolutionsChecks, as app.py does; synth fails on any finding."""
    outdir = tmp_path_factory.mktemp("nag.out")
    app, _ = build_app(outdir, CONFIGURATIONS)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return outdir


def test_no_unacknowledged_findings(nagged: Path) -> None:
    nag = report(nagged)
    assert nag["violations"] == []
    assert nag["conclusion"] == "success"


def test_only_accepted_rules_are_acknowledged(nagged: Path) -> None:
    suppressed = {v["ruleName"].split("[")[0] for v in report(nagged)["suppressedViolations"]}
    assert suppressed <= ACCEPTED_RULES


def acknowledgements(outdir: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for metadata in outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.update({f"{path} {rule}": reason for rule, reason in entry["data"].items()})
    return found


def test_every_acknowledgement_has_a_specific_reason(nagged: Path) -> None:
    reasons = acknowledgements(nagged)
    assert reasons
    assert all(len(reason) >= 40 for reason in reasons.values()), reasons


def test_every_acknowledgement_matches_a_finding(nagged: Path) -> None:
    acknowledged = {key.split(" ", 1)[1].removeprefix("AwsSolutions::") for key in acknowledgements(nagged)}
    suppressed = {v["ruleName"] for v in report(nagged)["suppressedViolations"]}
    assert acknowledged == suppressed


def test_restore_functions_acknowledge_only_the_workers_object_wildcard(nagged: Path) -> None:
    # The planner holds no object grant at all (it lists); the worker's is s3:RestoreObject under the prefix.
    restore = [key.split(" ", 1) for key in acknowledgements(nagged) if "/Restore/" in key.split(" ")[0]]
    assert {path.rsplit("/", 1)[1] for path, _ in restore} == {"WorkerRole"}
    wildcard = re.compile(
        r"AwsSolutions::AwsSolutions-IAM5\[Resource::"
        r"(arn:<AWS::Partition>:s3:::[a-z0-9.-]+|<Bucket\w+\.Arn>)/(backups/|host1/)?\*\]"
    )
    assert [rule for _, rule in restore if not wildcard.fullmatch(rule)] == []
    assert len({rule for _, rule in restore}) == len(CONFIGURATIONS)


def test_the_basic_execution_role_is_acknowledged_only_on_cdks_own_functions(nagged: Path) -> None:
    basic = {
        key.split(" ", 1)[0]: reason
        for key, reason in acknowledgements(nagged).items()
        if "AWSLambdaBasicExecutionRole" in key
    }
    assert basic
    framework = re.compile(r"/Glacierable-[\w.-]+/(ArchiveRule|Notifications)/Provider")
    assert [path for path in basic if not framework.fullmatch(path)] == []
    # Each says what the managed policy grants.
    assert all("logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents" in r for r in basic.values())


def test_checks_fail_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Unacknowledged")
    sqs.Queue(stack, "Queue", enforce_ssl=True)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert "AwsSolutions-SQS3" in {v["ruleName"] for v in report(tmp_path)["violations"]}
