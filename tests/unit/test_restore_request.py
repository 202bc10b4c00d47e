"""Restore requests: what the restore Lambda and the CLI accept, and how they refuse the rest."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierable.listing import ListedObject, RestoreState
from glacierable.names import DuplicityPrefixes
from glacierable.plan import RestorePlan, plan_restore
from glacierable.pricing import Tier
from glacierable.restore_request import FIELDS, RequestError, RestoreRequest
from glacierable.restore_summary import RestoreRefusal, RestoreSummary, SummaryError, read_answer

NOW = 1_700_000_000
T = "20231114T221320Z"


def request(data: Any, *, stack_prefix: str = "") -> RestoreRequest:
    return RestoreRequest.from_json(data, now=NOW, stack_prefix=stack_prefix)


def refused(data: Any, *, stack_prefix: str = "") -> str:
    with pytest.raises(RequestError) as caught:
        request(data, stack_prefix=stack_prefix)
    return str(caught.value)


def plan_of(volume_class: str, restore: RestoreState | None = None) -> RestorePlan:
    objects = [
        ListedObject(f"duplicity-full.{T}.vol1.difftar.gpg", 100, volume_class, restore),
        ListedObject(f"duplicity-full.{T}.manifest.gpg", 10, "STANDARD"),
        ListedObject(f"duplicity-full-signatures.{T}.sigtar.gpg", 10, "STANDARD"),
    ]
    return plan_restore(objects, NOW, folder="")


def test_empty_request_takes_every_default() -> None:
    assert request({}) == RestoreRequest(
        folder="", time="now", prefixes=DuplicityPrefixes(), tier=Tier.STANDARD, days=7, dry_run=False
    )


def test_every_field_is_read() -> None:
    result = request(
        {
            "prefix": "backups/host1",
            "time": "3D",
            "file_prefix": "host1_",
            "file_prefix_archive": "data_",
            "file_prefix_manifest": "meta_",
            "file_prefix_signature": "sig_",
            "file_prefix_jsonstat": "stat_",
            "tier": "Bulk",
            "days": 30,
            "dry_run": True,
            "expedited_fallback": True,
        }
    )
    assert result.folder == "backups/host1/"
    assert result.prefixes == DuplicityPrefixes("host1_", "data_", "meta_", "sig_", "stat_")
    assert (result.tier, result.days, result.dry_run, result.expedited_fallback) == (
        Tier.BULK,
        30,
        True,
        True,
    )
    assert result.restore_time(now=NOW) == NOW - 3 * 86400


@pytest.mark.parametrize("text", ["bulk", "EXPEDITED", "standard"])
def test_tier_is_case_insensitive(text: str) -> None:
    assert request({"tier": text}).tier.value.lower() == text.lower()


def test_unknown_field_is_refused_by_name() -> None:
    message = refused({"tier": "Bulk", "dry-run": True})
    assert "'dry-run'" in message and "dry_run" in message


def test_bad_tier_is_refused() -> None:
    assert "Glacial" in refused({"tier": "Glacial"})


@pytest.mark.parametrize("days", [0, 366, -1, "7", 7.5, True])
def test_days_outside_1_to_365_or_not_an_int_are_refused(days: object) -> None:
    assert "days" in refused({"days": days})


@pytest.mark.parametrize("days", [1, 365])
def test_days_at_the_bounds_are_accepted(days: int) -> None:
    assert request({"days": days}).days == days


@pytest.mark.parametrize("name", ["dry_run", "expedited_fallback"])
def test_flags_must_be_booleans(name: str) -> None:
    assert name in refused({name: "true"})


@pytest.mark.parametrize("time", ["yesterday", "2023-13-45", "", "3X"])
def test_bad_time_is_refused(time: str) -> None:
    assert "time" in refused({"time": time})


@pytest.mark.parametrize("name", ["prefix", "time", "tier", "file_prefix"])
def test_string_fields_must_be_strings(name: str) -> None:
    assert f"{name} must be a string" in refused({name: 7})


def test_file_prefix_with_a_slash_is_refused() -> None:
    assert "'/'" in refused({"file_prefix_archive": "host/x_"})


def test_non_object_is_refused() -> None:
    assert "JSON object" in refused(["prefix", "x"])


def test_prefix_outside_the_stack_prefix_is_refused() -> None:
    assert "outside" in refused({"prefix": "other/host1"}, stack_prefix="backups/")


def test_prefix_inside_the_stack_prefix_is_accepted() -> None:
    assert request({"prefix": "backups/host1/"}, stack_prefix="backups/").folder == "backups/host1/"


@pytest.mark.parametrize(
    "prefix", ["/backups/host1", "backups//host1", "backups/host1//", "//backups/host1/"]
)
def test_prefix_slashes_are_read_as_duplicity_reads_its_url(prefix: str) -> None:
    # duplicity's boto3+s3://b//backups//host1 writes under backups/host1/, like boto3+s3://b/backups/host1.
    assert request({"prefix": prefix}, stack_prefix="backups/").folder == "backups/host1/"


def test_missing_prefix_defaults_to_the_stack_prefix() -> None:
    assert request({}, stack_prefix="backups/").folder == "backups/"


def test_null_means_the_default() -> None:
    assert request(dict.fromkeys(FIELDS)) == request({}) == request(None)


def test_to_json_reads_back_to_an_equal_request() -> None:
    original = request({"prefix": "b/h", "time": "2W", "file_prefix": "x_", "tier": "bulk", "days": 3})
    assert request(original.to_json()) == original


def test_every_field_appears_in_to_json() -> None:
    assert set(request({}).to_json()) == set(FIELDS)


def test_expedited_is_refused_for_a_deep_archive_plan() -> None:
    with pytest.raises(RequestError, match="DEEP_ARCHIVE"):
        request({"tier": "Expedited"}).check_plan(plan_of("DEEP_ARCHIVE"))


def test_expedited_is_accepted_for_a_glacier_plan() -> None:
    request({"tier": "Expedited"}).check_plan(plan_of("GLACIER"))


def test_standard_is_accepted_for_a_deep_archive_plan() -> None:
    request({"tier": "Standard"}).check_plan(plan_of("DEEP_ARCHIVE"))


def test_expedited_is_accepted_when_deep_archive_objects_are_already_restored() -> None:
    request({"tier": "Expedited"}).check_plan(plan_of("DEEP_ARCHIVE", RestoreState(in_progress=False)))


def test_summary_counts_what_to_restore() -> None:
    summary = request({}).summary(plan_of("GLACIER"), bucket="b", restore_time=NOW, restore_id="r1")
    assert (summary.restore_id, summary.count("needed"), summary.count("to_restore")) == ("r1", 1, 1)
    assert summary.cost is not None and summary.cost.tier is Tier.STANDARD and summary.cost.days == 7
    assert summary.restore_time_text == "20231114T221320Z"
    document = summary.to_json()
    assert (document["needed_count"], document["to_restore_count"]) == (1, 1)
    assert not [name for name in document if name.endswith("_keys")]


def test_a_summary_reads_back_from_its_json_and_refuses_a_broken_one() -> None:
    summary = request({}).summary(plan_of("GLACIER"), bucket="b", restore_time=NOW, restore_id="r1")
    document = json.loads(json.dumps(summary.to_json()))
    assert RestoreSummary.from_json(document) == summary
    for broken in ({**document, "needed_count": "1"}, {**document, "dry_run": 0}, {"bucket": "b"}, [1]):
        with pytest.raises(SummaryError):
            RestoreSummary.from_json(broken)


def test_an_answer_is_read_back_as_a_summary_or_a_refusal() -> None:
    summary = request({}).summary(plan_of("GLACIER"), bucket="b", restore_time=NOW, restore_id="r1")
    refusal = RestoreRefusal("RequestError", "days must be from 1 to 365, got 0", "r2")
    assert read_answer(json.loads(json.dumps(summary.to_json()))) == summary
    assert read_answer(json.loads(json.dumps(refusal.to_json()))) == refusal
    assert refusal.text == "RequestError: days must be from 1 to 365, got 0"


@pytest.mark.parametrize(
    "broken",
    [
        {"error": "RequestError"},
        {"error": {"kind": "failed", "type": "X", "message": "m", "restore_id": "r"}},
        {"error": {"kind": "refused", "type": "X", "restore_id": "r"}},
        {"error": {"kind": "refused", "type": 1, "message": "m", "restore_id": "r"}},
    ],
)
def test_a_broken_refusal_is_refused_saying_what_is_wrong(broken: dict[str, object]) -> None:
    with pytest.raises(SummaryError):
        read_answer(broken)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.dictionaries(st.sampled_from(FIELDS), JSON | st.sampled_from(["now", "Bulk", "1D"]))


@given(JSON)
def test_any_json_is_a_request_or_a_request_error(data: object) -> None:
    with contextlib.suppress(RequestError):
        request(data)


@given(FIELD_VALUES, st.sampled_from(["", "backups/", "backups"]))
def test_any_values_of_known_fields_are_a_request_or_a_request_error(data: object, stack: str) -> None:
    try:
        result = request(data, stack_prefix=stack)
    except RequestError:
        return
    assert result.folder.startswith(stack)
    assert 1 <= result.days <= 365
