"""Least privilege stack-wide: each function's own role and log group, the pinned layer, the kept policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra.powertools import LOG_ACTIONS, POWERTOOLS_VERSION, layer_parameter_name
from tests.cdk.conftest import CONFIGURATIONS, ROOT, Synthesized
from tests.cdk.test_stack import as_list, only, policy_statements, resources

pytestmark = pytest.mark.cdk

ALL_CONFIGS = sorted(CONFIGURATIONS)
BASIC_EXECUTION_ROLE = "service-role/AWSLambdaBasicExecutionRole"
CDK_FRAMEWORK_ROLES = re.compile(r"(ProviderframeworkonEvent|BucketNotificationsHandler[0-9a-f]{32})")
"""Logical IDs of roles of the functions CDK adds (Provider framework, bucket-notifications handler)."""


def our_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """glacierable's functions (Python, with the Powertools layer), by logical ID."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler", "").startswith("glacierable.")
    }


def role_of(function: dict[str, Any]) -> str:
    logical_id: str = function["Role"]["Fn::GetAtt"][0]
    return logical_id


def managed_policies(template: dict[str, Any], role: str) -> list[str]:
    arns = template["Resources"][role]["Properties"].get("ManagedPolicyArns", [])
    return [part for arn in arns for part in arn["Fn::Join"][1] if isinstance(part, str)]


# --- the Powertools layer ---------------------------------------------------------------------------


def pinned_requirement(name: str) -> str:
    """The version `name==X` pins in requirements.txt."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement.split("==")[0].strip().lower() == name:
            return requirement.split("==", 1)[1].strip()
    raise AssertionError(f"{name} is not pinned in requirements.txt")


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_every_function_runs_the_powertools_release_requirements_txt_pins(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    version = pinned_requirement("aws-lambda-powertools")
    assert version == POWERTOOLS_VERSION
    functions = our_functions(template)
    assert len(functions) >= 4
    for function in functions.values():
        (layer,) = function["Layers"]
        parameter = template["Parameters"][layer["Ref"]]["Default"]
        assert parameter == f"/aws/service/powertools/python/arm64/python3.14/{version}"
        assert parameter == layer_parameter_name()


def test_pinned_requirement_reads_the_requirements_file(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned_requirement("aws-lambda-powertools"))
    with pytest.raises(AssertionError, match="not pinned"):
        pinned_requirement("not-a-requirement")


# --- logging: each function writes its own log group, and nothing else -------------------------------


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_each_function_has_a_role_of_its_own_without_managed_policies(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    functions = our_functions(template)
    roles = [role_of(function) for function in functions.values()]
    assert len(set(roles)) == len(roles) == len(functions)
    assert {role: managed_policies(template, role) for role in roles} == {role: [] for role in roles}


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_each_function_may_write_logs_only_to_its_own_log_group(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    for logical_id, function in our_functions(template).items():
        log_group = function["LoggingConfig"]["LogGroup"]
        assert log_group == {"Ref": log_group["Ref"]}
        assert template["Resources"][log_group["Ref"]]["Type"] == "AWS::Logs::LogGroup"
        role = role_of(function)
        log_statements = [
            statement
            for _, roles, statement in policy_statements(template)
            if role in roles and any(a.startswith("logs:") or a == "*" for a in as_list(statement["Action"]))
        ]
        assert log_statements == [
            {
                "Action": list(LOG_ACTIONS),
                "Effect": "Allow",
                # The Arn attribute of AWS::Logs::LogGroup ends in ":*": the group's streams, no other group.
                "Resource": {"Fn::GetAtt": [log_group["Ref"], "Arn"]},
            }
        ], logical_id


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_only_cdks_own_functions_keep_the_basic_execution_role(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    with_basic = {
        logical_id
        for logical_id, resource in resources(template, "AWS::IAM::Role").items()
        if any(BASIC_EXECUTION_ROLE in arn for arn in managed_policies(template, logical_id))
    }
    assert {role for role in with_basic if not CDK_FRAMEWORK_ROLES.search(role)} == set()


# --- a bucket this stack creates ---------------------------------------------------------------------


@pytest.mark.parametrize("config", ["new", "new_root"])
def test_new_buckets_tls_only_policy_is_retained_with_the_bucket(
    synthesized: dict[str, Synthesized], config: str
) -> None:
    template = synthesized[config].template
    bucket = only(template, "AWS::S3::Bucket")
    policy = only(template, "AWS::S3::BucketPolicy")
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (policy["DeletionPolicy"], policy["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
