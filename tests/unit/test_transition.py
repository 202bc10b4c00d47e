"""The demo's lifecycle evaluation: which objects S3 would transition, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from glacierable.lifecycle import our_rules
from glacierable_dev.transition import (
    SMALL_OBJECT_BYTES,
    VARIES_BY_STORAGE_CLASS,
    StoredObject,
    decide,
    due_at,
    earliest_moment_all_due,
    evaluate,
)

UPLOADED = datetime(2026, 11, 26, 10, 21, 39, tzinfo=UTC)
NEXT_DAY_MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)  # 1 day after upload, rounded up to midnight UTC
BIG = 1_000_000
VOLUME = "backups/host1/duplicity-full.20261123T100000Z.vol1.difftar.gpg"
MANIFEST = "backups/host1/duplicity-full.20261123T100000Z.manifest.gpg"


def stored(
    key: str = VOLUME,
    *,
    size: int = BIG,
    tag: str | None = "true",
    storage_class: str = "STANDARD",
    last_modified: datetime = UPLOADED,
) -> StoredObject:
    tags = {} if tag is None else {"glacierable": tag}
    return StoredObject(key, size, last_modified, storage_class, tags)


def test_a_days_transition_is_due_at_the_midnight_utc_after_the_days_have_passed() -> None:
    assert due_at(UPLOADED, 1) == NEXT_DAY_MIDNIGHT


def test_an_upload_exactly_at_midnight_is_due_exactly_days_later() -> None:
    midnight = datetime(2026, 11, 26, tzinfo=UTC)
    assert due_at(midnight, 2) == datetime(2026, 11, 28, tzinfo=UTC)


def test_a_tagged_volume_moves_to_the_rules_class_once_due() -> None:
    assert evaluate(our_rules(), [stored()], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_nothing_moves_a_moment_before_it_is_due() -> None:
    decision = decide(our_rules(), stored(), NEXT_DAY_MIDNIGHT - timedelta(seconds=1))
    assert decision.target is None
    assert decision.reason == "not due yet"


def test_an_object_tagged_false_stays() -> None:
    decision = decide(our_rules(), stored(MANIFEST, tag="false"), NEXT_DAY_MIDNIGHT)
    assert decision.target is None
    assert decision.reason == "no enabled transition rule matches"


def test_an_untagged_object_stays() -> None:
    assert evaluate(our_rules(), [stored(tag=None)], NEXT_DAY_MIDNIGHT) == []


def test_the_rules_prefix_limits_it_to_its_folder() -> None:
    rules = our_rules(prefix="backups/")
    outside = stored("other/duplicity-full.20261123T100000Z.vol1.difftar.gpg")
    assert evaluate(rules, [stored(), outside], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_the_rules_storage_class_and_days_are_used() -> None:
    rules = our_rules(storage_class="DEEP_ARCHIVE", days=3)
    assert evaluate(rules, [stored()], NEXT_DAY_MIDNIGHT) == []
    assert evaluate(rules, [stored()], NEXT_DAY_MIDNIGHT + timedelta(days=2)) == [(VOLUME, "DEEP_ARCHIVE")]


def test_objects_under_128_kb_are_not_transitioned_by_default() -> None:
    decision = decide(our_rules(), stored(size=SMALL_OBJECT_BYTES - 1), NEXT_DAY_MIDNIGHT)
    assert decision.target is None
    assert "128 KB" in decision.reason


def test_an_object_of_exactly_128_kb_is_transitioned() -> None:
    assert evaluate(our_rules(), [stored(size=SMALL_OBJECT_BYTES)], NEXT_DAY_MIDNIGHT) == [
        (VOLUME, "GLACIER")
    ]


@pytest.mark.parametrize(
    ("target", "moves"), [("GLACIER", True), ("DEEP_ARCHIVE", True), ("GLACIER_IR", False)]
)
def test_varies_by_storage_class_lets_small_objects_reach_flexible_and_deep_archive_only(
    target: str, moves: bool
) -> None:
    rules = our_rules(storage_class=target)
    small = stored(size=1000)
    result = evaluate(rules, [small], NEXT_DAY_MIDNIGHT, minimum_object_size=VARIES_BY_STORAGE_CLASS)
    assert result == ([(VOLUME, target)] if moves else [])


def test_a_custom_size_filter_overrides_the_128_kb_default() -> None:
    rule = {
        "ID": "small-too",
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": "", "ObjectSizeGreaterThan": 10, "Tags": []}},
        "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
    }
    objects = [stored(size=1000), stored(MANIFEST, size=5)]
    assert evaluate([rule], objects, NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_size_bounds_are_strict() -> None:
    rule = {
        "ID": "bounded",
        "Status": "Enabled",
        "Filter": {"ObjectSizeLessThan": BIG},
        "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
    }
    assert evaluate([rule], [stored(size=BIG)], NEXT_DAY_MIDNIGHT) == []
    assert evaluate([rule], [stored(size=BIG - 1)], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_every_tag_of_an_and_filter_must_match() -> None:
    rule = {
        "ID": "two-tags",
        "Status": "Enabled",
        "Filter": {"And": {"Tags": [{"Key": "glacierable", "Value": "true"}, {"Key": "team", "Value": "a"}]}},
        "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
    }
    both = StoredObject(VOLUME, BIG, UPLOADED, tags={"glacierable": "true", "team": "a"})
    one = StoredObject(MANIFEST, BIG, UPLOADED, tags={"glacierable": "true"})
    assert evaluate([rule], [both, one], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_a_disabled_rule_does_nothing() -> None:
    rules = [{**rule, "Status": "Disabled"} for rule in our_rules()]
    assert evaluate(rules, [stored()], NEXT_DAY_MIDNIGHT) == []


def test_the_legacy_top_level_prefix_form_is_understood() -> None:
    rule = {
        "ID": "old",
        "Status": "Enabled",
        "Prefix": "backups/",
        "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
    }
    outside = stored("elsewhere/x")
    assert evaluate([rule], [stored(), outside], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_a_date_transition_is_due_from_its_date() -> None:
    rule = {
        "ID": "dated",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Transitions": [{"Date": datetime(2027, 1, 1, tzinfo=UTC), "StorageClass": "DEEP_ARCHIVE"}],
    }
    assert evaluate([rule], [stored()], datetime(2026, 12, 31, tzinfo=UTC)) == []
    assert evaluate([rule], [stored()], datetime(2027, 1, 1, tzinfo=UTC)) == [(VOLUME, "DEEP_ARCHIVE")]


def test_the_coldest_due_class_wins_when_several_rules_apply() -> None:
    owners = {
        "ID": "owners-ia",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}],
    }
    assert evaluate([owners, *our_rules()], [stored()], NEXT_DAY_MIDNIGHT) == [(VOLUME, "GLACIER")]


def test_an_object_already_in_the_class_does_not_move_again() -> None:
    decision = decide(our_rules(), stored(storage_class="GLACIER"), NEXT_DAY_MIDNIGHT)
    assert decision.target is None
    assert decision.reason == "already GLACIER"


def test_the_moment_all_are_due_is_the_latest_due_time_of_matching_objects() -> None:
    later = stored(last_modified=UPLOADED + timedelta(days=1))
    untagged = stored(tag=None, last_modified=UPLOADED + timedelta(days=30))
    assert earliest_moment_all_due(our_rules(), [stored(), later, untagged]) == NEXT_DAY_MIDNIGHT + timedelta(
        days=1
    )


def test_no_moment_when_no_rule_matches() -> None:
    assert earliest_moment_all_due(our_rules(), [stored(tag="false")]) is None
