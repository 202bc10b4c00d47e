"""cfn-lint finds no errors or warnings in the synthesized templates (bar one CDK idiom, ignored)."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from tests.cdk.conftest import CONFIGURATIONS, Synthesized

pytestmark = pytest.mark.cdk

IGNORED = {
    # CDK adds an explicit DependsOn from each function to its role's default policy, beside the GetAtt on
    # the role itself; redundant but harmless, and not ours to change.
    "W3005",
}


@pytest.mark.parametrize("config", sorted(CONFIGURATIONS))
def test_template_passes_cfn_lint(synthesized: dict[str, Synthesized], config: str) -> None:
    matches = lint(json.dumps(synthesized[config].template), config=ManualArgs(regions=["us-east-1"]))
    findings = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]
    assert [f for f in findings if f.split()[0] not in IGNORED] == []
