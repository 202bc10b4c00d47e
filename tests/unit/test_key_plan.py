"""Restore requests with explicit `keys`: what the restore Lambda accepts, what it refuses, and their plan."""

from __future__ import annotations

from typing import Any

import pytest

from glacierable.key_plan import MAX_KEYS, keys_plan, latest_time
from glacierable.listing import ListedObject, RestoreState
from glacierable.names import parse_time_string
from glacierable.restore_request import RequestError, RestoreRequest

NOW = 1_700_100_000
T1 = "20231114T221320Z"
T2 = "20231115T221320Z"
VOL1 = f"duplicity-full.{T1}.vol1.difftar.gpg"
VOL2 = f"duplicity-full.{T1}.vol2.difftar.gpg"
INC = f"duplicity-inc.{T1}.to.{T2}.vol1.difftar.gpg"


def request(data: Any, *, stack_prefix: str = "") -> RestoreRequest:
    return RestoreRequest.from_json(data, now=NOW, stack_prefix=stack_prefix)


def refused(data: Any, *, stack_prefix: str = "") -> str:
    with pytest.raises(RequestError) as caught:
        request(data, stack_prefix=stack_prefix)
    return str(caught.value)


def test_keys_without_a_prefix_are_restored_from_their_own_folder() -> None:
    given = request({"keys": [f"b/h/{VOL1}", f"b/h/{VOL1}.par2", f"b/h/{VOL1}"]}, stack_prefix="b/")
    assert given.folder == "b/h/"
    assert given.keys == (f"b/h/{VOL1}", f"b/h/{VOL1}.par2")  # duplicates dropped, order kept


def test_keys_with_a_prefix_must_be_directly_in_it() -> None:
    assert request({"prefix": "b/h", "keys": [f"b/h/{VOL1}"]}).folder == "b/h/"
    message = refused({"prefix": "b", "keys": [f"b/h/{VOL1}", f"b/{VOL2}"]})
    assert message == f"1 key(s) are not directly in the folder 'b/': 'b/h/{VOL1}'"


def test_keys_outside_the_stack_prefix_are_refused_naming_the_first_few() -> None:
    keys = [f"other/{n}.{VOL1}" for n in range(7)]
    message = refused({"keys": keys}, stack_prefix="b/")
    assert message.startswith("7 key(s) are outside this stack's prefix 'b/': 'other/0.")
    assert message.endswith("and 2 more")


def test_keys_that_are_no_duplicity_files_are_refused() -> None:
    message = refused({"keys": [f"b/{VOL1}", "b/passwords.txt", "b/"]}, stack_prefix="b/")
    assert message == "2 key(s) are not duplicity files: 'b/passwords.txt', 'b/'"


def test_keys_in_several_folders_are_refused() -> None:
    assert "keys are in 2 folders ('a/', 'b/')" in refused({"keys": [f"a/{VOL1}", f"b/{VOL1}"]})


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([], "keys must be a non-empty list"),
        ("duplicity-full.x", "keys must be a non-empty list"),
        ([VOL1, 3], "keys must be strings, not 3"),
        ([VOL1] * (MAX_KEYS + 1), "at most 100,000 per request"),
    ],
)
def test_bad_keys_lists_are_refused(keys: object, expected: str) -> None:
    assert expected in refused({"keys": keys})


def test_keys_read_back_from_to_json() -> None:
    original = request({"keys": [f"b/{VOL1}", f"b/{INC}"], "tier": "Bulk"})
    assert request(original.to_json()) == original
    assert request({}).to_json()["keys"] is None


def test_the_plan_of_keys_is_exactly_the_keys_with_their_volumes_as_data() -> None:
    objects = [
        ListedObject(f"p/{VOL2}", 100, "GLACIER"),
        ListedObject(f"p/{VOL2}.par2", 5, "GLACIER", RestoreState(in_progress=True)),
        ListedObject(f"p/{INC}", 50, "GLACIER", RestoreState(in_progress=False)),
    ]
    plan = keys_plan(objects, NOW)
    assert plan.needed == tuple(objects)
    assert plan.data_volumes == (f"p/{VOL2}", f"p/{INC}")
    assert [obj.key for obj in plan.to_restore] == [f"p/{VOL2}"]
    assert plan.par2
    assert plan.chain.full_time == parse_time_string(T1)
    assert plan.chain.incremental_times == (parse_time_string(T2),)
    assert (plan.chain.volume_count, plan.chain.volume_bytes) == (2, 150)


def test_the_latest_time_of_keys_is_their_restore_point() -> None:
    assert latest_time([VOL1, INC]) == parse_time_string(T2)
    assert latest_time(["nothing"]) is None
