"""The lifecycle rule document and its merge into an owner's rules (pure)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierable.lifecycle import (
    ABORT_MPU_DAYS,
    ABORT_MPU_RULE_ID,
    ARCHIVE_RULE_ID,
    MAX_RULES,
    STORAGE_CLASSES,
    LifecycleError,
    describe_change,
    merge_rules,
    our_rules,
    remove_rules,
)

TAG = {"Key": "glacierable", "Value": "true"}


def owner_rule(rule_id: str, days: int = 30) -> dict[str, object]:
    return {"ID": rule_id, "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": days}}


def by_id(rules: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {rule["ID"]: rule for rule in rules}


# --- the rule document -------------------------------------------------------------------------


def test_our_rules_are_the_archive_rule_then_the_abort_rule() -> None:
    assert [rule["ID"] for rule in our_rules()] == [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID]


def test_archive_rule_without_prefix_filters_on_the_tag_alone() -> None:
    archive = by_id(our_rules())[ARCHIVE_RULE_ID]
    assert archive["Filter"] == {"Tag": TAG}


def test_archive_rule_with_prefix_filters_on_prefix_and_tag() -> None:
    archive = by_id(our_rules(prefix="backups/"))[ARCHIVE_RULE_ID]
    assert archive["Filter"] == {"And": {"Prefix": "backups/", "Tags": [TAG]}}


def test_archive_rule_transitions_current_and_noncurrent_versions() -> None:
    archive = by_id(our_rules(storage_class="DEEP_ARCHIVE", days=5))[ARCHIVE_RULE_ID]
    assert archive["Status"] == "Enabled"
    assert archive["Transitions"] == [{"Days": 5, "StorageClass": "DEEP_ARCHIVE"}]
    assert archive["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 5, "StorageClass": "DEEP_ARCHIVE"}]


def test_defaults_are_glacier_after_one_day() -> None:
    archive = by_id(our_rules())[ARCHIVE_RULE_ID]
    assert archive["Transitions"] == [{"Days": 1, "StorageClass": "GLACIER"}]


def test_abort_rule_filters_on_prefix_only_because_s3_rejects_tags_with_abort() -> None:
    abort = by_id(our_rules(prefix="backups/"))[ABORT_MPU_RULE_ID]
    assert abort["Filter"] == {"Prefix": "backups/"}
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": ABORT_MPU_DAYS}
    assert ABORT_MPU_DAYS == 7


def test_abort_rule_without_prefix_covers_the_whole_bucket() -> None:
    assert by_id(our_rules())[ABORT_MPU_RULE_ID]["Filter"] == {"Prefix": ""}


@pytest.mark.parametrize("storage_class", STORAGE_CLASSES)
def test_every_allowed_storage_class_is_accepted(storage_class: str) -> None:
    archive = by_id(our_rules(storage_class=storage_class))[ARCHIVE_RULE_ID]
    assert archive["Transitions"] == [{"Days": 1, "StorageClass": storage_class}]


@pytest.mark.parametrize("storage_class", ["STANDARD_IA", "glacier", "", "DEEP ARCHIVE"])
def test_other_storage_classes_are_rejected_naming_the_setting_and_allowed_values(storage_class: str) -> None:
    allowed = r"storage_class must be one of GLACIER, DEEP_ARCHIVE, GLACIER_IR; got"
    with pytest.raises(LifecycleError, match=allowed):
        our_rules(storage_class=storage_class)


@pytest.mark.parametrize("days", [1, 3650])
def test_days_at_the_bounds_are_accepted(days: int) -> None:
    assert by_id(our_rules(days=days))[ARCHIVE_RULE_ID]["Transitions"] == [
        {"Days": days, "StorageClass": "GLACIER"}
    ]


@pytest.mark.parametrize("days", [0, -1, 3651, True, False, 1.0, "1", None])
def test_days_outside_1_to_3650_or_not_int_are_rejected(days: object) -> None:
    with pytest.raises(LifecycleError, match=r"days must be a whole number from 1 to 3650"):
        our_rules(days=days)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "prefix"), [("/backups/", "backups/"), ("backups//host1", "backups/host1"), ("/", "")]
)
def test_prefix_slashes_are_read_as_duplicity_reads_its_url(given: str, prefix: str) -> None:
    # A rule for '/backups/' or 'a//b' would match no key duplicity ever writes.
    assert our_rules(prefix=given) == our_rules(prefix=prefix)


def test_prefix_that_is_not_a_string_is_rejected() -> None:
    with pytest.raises(LifecycleError, match=r"prefix must be a string"):
        our_rules(prefix=5)  # type: ignore[arg-type]


def test_prefix_longer_than_an_s3_key_is_rejected() -> None:
    with pytest.raises(LifecycleError, match=r"prefix must be at most 1024 bytes"):
        our_rules(prefix="a" * 1025)


# --- merge and remove ----------------------------------------------------------------------------


def test_merge_into_no_rules_gives_ours() -> None:
    assert merge_rules([], our_rules()) == our_rules()


def test_merge_keeps_owner_rules_in_order_and_appends_ours() -> None:
    owners = [owner_rule("b"), owner_rule("a")]
    assert merge_rules(owners, our_rules()) == [*owners, *our_rules()]


def test_merge_replaces_ours_in_place() -> None:
    old = our_rules(days=1)
    existing = [owner_rule("first"), old[0], owner_rule("middle"), old[1], owner_rule("last")]
    new = our_rules(prefix="p/", storage_class="GLACIER_IR", days=9)
    assert merge_rules(existing, new) == [
        owner_rule("first"),
        new[0],
        owner_rule("middle"),
        new[1],
        owner_rule("last"),
    ]


def test_merge_appends_our_missing_rule_and_replaces_the_present_one() -> None:
    archive_only = [owner_rule("x"), our_rules(days=3)[0]]
    assert merge_rules(archive_only, our_rules()) == [owner_rule("x"), *our_rules()]


def test_merge_is_idempotent() -> None:
    once = merge_rules([owner_rule("x")], our_rules())
    assert merge_rules(once, our_rules()) == once


def test_merge_collapses_a_duplicated_rule_of_ours_to_one() -> None:
    stale = our_rules(days=2)[0]
    merged = merge_rules([stale, owner_rule("x"), stale], our_rules())
    assert [rule["ID"] for rule in merged] == [ARCHIVE_RULE_ID, "x", ABORT_MPU_RULE_ID]


def test_merge_does_not_mutate_its_inputs_or_share_dicts_with_them() -> None:
    existing = [owner_rule("x")]
    ours = our_rules()
    snapshot = copy.deepcopy((existing, ours))
    merged = merge_rules(existing, ours)
    merged[0]["Status"] = "Disabled"
    merged[1]["Transitions"][0]["Days"] = 99
    assert (existing, ours) == snapshot


def test_merge_rejects_a_rule_of_ours_without_id() -> None:
    with pytest.raises(LifecycleError, match="needs an ID"):
        merge_rules([], [{"Status": "Enabled"}])


def test_merge_allows_exactly_the_s3_rule_limit() -> None:
    owners = [owner_rule(f"r{i}") for i in range(MAX_RULES - 2)]
    assert len(merge_rules(owners, our_rules())) == MAX_RULES


def test_merge_beyond_the_s3_rule_limit_raises() -> None:
    owners = [owner_rule(f"r{i}") for i in range(MAX_RULES - 1)]
    with pytest.raises(LifecycleError, match="limit of 1000 rules"):
        merge_rules(owners, our_rules())


def test_remove_drops_only_ours_keeping_owner_order() -> None:
    existing = [owner_rule("b"), *our_rules(), owner_rule("a")]
    assert remove_rules(existing) == [owner_rule("b"), owner_rule("a")]


def test_remove_without_ours_changes_nothing() -> None:
    existing = [owner_rule("b"), owner_rule("a")]
    assert remove_rules(existing) == existing


def test_remove_of_only_ours_leaves_no_rules() -> None:
    assert remove_rules(our_rules()) == []


def test_a_rule_with_a_similar_but_different_id_is_the_owners() -> None:
    lookalike = owner_rule("Glacierable-Archive")
    assert remove_rules([lookalike]) == [lookalike]


# --- describe_change -----------------------------------------------------------------------------


def test_change_reports_added_rules() -> None:
    change = describe_change([], our_rules())
    assert (change.added, change.changed) == ([ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID], True)


def test_change_reports_a_replaced_rule_and_an_unchanged_one() -> None:
    change = describe_change(our_rules(days=1), our_rules(days=2))
    assert (change.replaced, change.unchanged) == ([ARCHIVE_RULE_ID], [ABORT_MPU_RULE_ID])


def test_change_reports_removed_rules() -> None:
    change = describe_change([owner_rule("x"), *our_rules()], [owner_rule("x")])
    assert change.removed == [ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID]


def test_no_change_when_ours_are_equal() -> None:
    assert not describe_change(our_rules(), our_rules()).changed


# --- properties ----------------------------------------------------------------------------------

owner_rules = st.lists(
    st.builds(
        owner_rule,
        st.text(min_size=1, max_size=20).filter(lambda s: s not in (ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID)),
        st.integers(min_value=1, max_value=3650),
    ),
    max_size=12,
    unique_by=lambda rule: rule["ID"],
)
settings = st.fixed_dictionaries(
    {
        "prefix": st.sampled_from(["", "backups/", "host2_"]),
        "storage_class": st.sampled_from(STORAGE_CLASSES),
        "days": st.integers(min_value=1, max_value=3650),
    }
)


@given(owners=owner_rules, first=settings, second=settings)
def test_owner_rules_survive_merge_merge_remove_unchanged_and_in_order(owners, first, second) -> None:
    snapshot = copy.deepcopy(owners)
    merged = merge_rules(merge_rules(owners, our_rules(**first)), our_rules(**second))
    assert [rule for rule in merged if rule["ID"] not in (ARCHIVE_RULE_ID, ABORT_MPU_RULE_ID)] == snapshot
    assert remove_rules(merged) == snapshot


@given(owners=owner_rules, chosen=settings)
def test_merge_and_remove_are_idempotent(owners, chosen) -> None:
    merged = merge_rules(owners, our_rules(**chosen))
    assert merge_rules(merged, our_rules(**chosen)) == merged
    assert remove_rules(remove_rules(merged)) == remove_rules(merged)


@given(owners=owner_rules, chosen=settings)
def test_merge_holds_each_of_our_ids_exactly_once(owners, chosen) -> None:
    ids = [rule["ID"] for rule in merge_rules(owners, our_rules(**chosen))]
    assert ids.count(ARCHIVE_RULE_ID) == ids.count(ABORT_MPU_RULE_ID) == 1
