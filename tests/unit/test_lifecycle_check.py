"""The archive rule check compares what a rule does, however S3 spells its filter."""

from __future__ import annotations

from typing import Any

import pytest

from glacierable.lifecycle import ARCHIVE_RULE_ID, our_rules
from glacierable.lifecycle_check import RuleCheck, RuleState, compare_rule

TAG = {"Key": "glacierable", "Value": "true"}


def deployed(prefix: str = "") -> dict[str, Any]:
    (archive, _) = our_rules(prefix=prefix, storage_class="GLACIER", days=1)
    return archive


@pytest.mark.parametrize(
    "spelled",
    [
        {"Filter": {"Tag": TAG}},
        {"Filter": {"And": {"Tags": [TAG]}}},
        {"Filter": {"And": {"Prefix": "", "Tags": [TAG]}}},
    ],
)
def test_a_bucket_wide_rule_matches_however_its_filter_is_spelled(spelled: dict[str, Any]) -> None:
    assert compare_rule([{**deployed(), **spelled}], deployed(), bucket="b").state is RuleState.PRESENT


def test_the_legacy_top_level_prefix_is_read_as_the_filter_prefix() -> None:
    legacy = {**deployed("host1/"), "Filter": {"Tag": TAG}, "Prefix": "host1/"}
    assert compare_rule([legacy], deployed("host1/"), bucket="b").state is RuleState.PRESENT


def test_other_rules_are_not_ours_even_when_they_do_the_same() -> None:
    lookalike = {**deployed(), "ID": "someone-elses"}
    check = compare_rule([lookalike], deployed(), bucket="b")
    assert check.state is RuleState.ABSENT and check.missing
    assert check.detail.startswith(
        f"s3://b's lifecycle configuration (1 rule(s)) has no rule '{ARCHIVE_RULE_ID}'"
    )


def test_a_different_prefix_is_named_with_what_was_deployed() -> None:
    moved = deployed("elsewhere/")
    check = compare_rule([moved], deployed("host1/"), bucket="b")
    assert check.state is RuleState.DIFFERENT
    assert "prefix 'elsewhere/' (deployed: 'host1/')" in check.detail


def test_an_unreadable_configuration_is_not_called_missing() -> None:
    assert not RuleCheck(RuleState.UNREADABLE, "AccessDenied").missing
