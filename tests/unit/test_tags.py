"""merge_glacierable: add the glacierable tag, keep every other tag, never override an existing one."""

from __future__ import annotations

import pytest

from glacierable import TAG_KEY
from glacierable.tags import MAX_TAGS, TooManyTagsError, merge_glacierable


def tags(n: int) -> list[dict[str, str]]:
    return [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(n)]


def test_empty_tag_set_gets_glacierable_true() -> None:
    assert merge_glacierable([], True) == [{"Key": TAG_KEY, "Value": "true"}]


def test_false_decision_writes_the_string_false() -> None:
    assert merge_glacierable([], False) == [{"Key": TAG_KEY, "Value": "false"}]


def test_other_tags_are_kept_in_order_before_the_new_one() -> None:
    existing = [{"Key": "owner", "Value": "ops"}, {"Key": "env", "Value": "prod"}]
    assert merge_glacierable(existing, True) == [*existing, {"Key": TAG_KEY, "Value": "true"}]


@pytest.mark.parametrize("existing_value", ["true", "false", "", "maybe"])
@pytest.mark.parametrize("decision", [True, False])
def test_existing_glacierable_tag_is_an_override_left_as_is(existing_value: str, decision: bool) -> None:
    assert (
        merge_glacierable([{"Key": "a", "Value": "b"}, {"Key": TAG_KEY, "Value": existing_value}], decision)
        is None
    )


def test_ten_tags_without_glacierable_raise_too_many_tags() -> None:
    with pytest.raises(TooManyTagsError, match="already has 10 tags"):
        merge_glacierable(tags(MAX_TAGS), True)


def test_ten_tags_including_glacierable_need_no_put() -> None:
    assert merge_glacierable([*tags(MAX_TAGS - 1), {"Key": TAG_KEY, "Value": "true"}], False) is None


def test_nine_tags_grow_to_ten() -> None:
    merged = merge_glacierable(tags(MAX_TAGS - 1), True)
    assert merged is not None
    assert len(merged) == MAX_TAGS
    assert merged[-1] == {"Key": TAG_KEY, "Value": "true"}


def test_input_tag_set_is_not_mutated() -> None:
    existing = tags(2)
    merge_glacierable(existing, True)
    assert existing == tags(2)


def test_tag_key_match_is_exact() -> None:
    merged = merge_glacierable([{"Key": "Glacierable", "Value": "false"}], True)
    assert merged == [{"Key": "Glacierable", "Value": "false"}, {"Key": TAG_KEY, "Value": "true"}]
