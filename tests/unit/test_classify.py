"""Volumes (and their par2 files) go to Glacier; everything duplicity reads on every run stays hot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from glacierable.classify import UNKNOWN, Decision, classify, is_glacierable

T1, T2 = "20231114T221320Z", "20231114T231320Z"
RECORDED: list[dict[str, Any]] = json.loads(
    Path(__file__).parents[1].joinpath("data", "duplicity_names.json").read_text("utf-8")
)["names"]


@pytest.mark.parametrize(
    ("key", "glacierable", "kind"),
    [
        (f"duplicity-full.{T1}.vol1.difftar.gpg", True, "volume"),
        (f"duplicity-inc.{T1}.to.{T2}.vol2.difftar.gz", True, "volume"),
        (f"duplicity-full.{T1}.vol1.difftar.gpg.par2", True, "volume"),
        (f"duplicity-full.{T1}.vol1.difftar.gpg.vol000+199.par2", True, "volume"),
        ("df.s44we8.1.dt.g", True, "volume"),
        (f"duplicity-full.{T1}.manifest.gpg", False, "manifest"),
        (f"duplicity-inc.{T1}.to.{T2}.manifest.gpg.vol0+5.par2", False, "manifest"),
        (f"duplicity-full-signatures.{T1}.sigtar.gpg", False, "signature"),
        (f"duplicity-new-signatures.{T1}.to.{T2}.sigtar.gz.par2", False, "signature"),
        ("dns.s44we8.s44z68.st.g", False, "signature"),
        (f"duplicity-full.{T1}.jsonstat.gpg", False, "jsonstat"),
        (f"duplicity-inc.{T1}.to.{T2}.jsonstat.gz.vol00+12.par2", False, "jsonstat"),
        ("README.txt", False, UNKNOWN),
        ("", False, UNKNOWN),
    ],
)
def test_decision_by_kind(key: str, glacierable: bool, kind: str) -> None:
    assert classify(key) == Decision(key=key, glacierable=glacierable, kind=kind)


@pytest.mark.parametrize(
    "key",
    [
        f"manifests/duplicity-full.{T1}.vol1.difftar.gpg",
        f"signatures/duplicity-inc.{T1}.to.{T2}.vol1.difftar.gpg",
        f"my manifest backups/ü/duplicity-full.{T1}.vol1.difftar.gz",
        f"duplicity-full.{T1}.manifest/duplicity-full.{T1}.vol1.difftar",
        f"host_manifest_duplicity-full.{T1}.vol1.difftar.gpg",
    ],
)
def test_manifest_or_signatures_in_folder_or_prefix_keeps_volumes_glacierable(key: str) -> None:
    assert classify(key).glacierable is True


@pytest.mark.parametrize(
    "key",
    ["backups/notes.txt", "volumes/duplicity-full.vol1.difftar.gpg", "a/b/c.difftar", "x.par2"],
)
def test_unknown_keys_stay_hot_unless_archive_unknown(key: str) -> None:
    assert classify(key) == Decision(key=key, glacierable=False, kind=UNKNOWN)
    assert classify(key, archive_unknown=True) == Decision(key=key, glacierable=True, kind=UNKNOWN)


def test_archive_unknown_never_archives_duplicity_metadata() -> None:
    key = f"duplicity-full.{T1}.manifest.gpg"
    assert classify(key, archive_unknown=True).glacierable is False


def test_key_with_spaces_is_classified_as_given() -> None:
    # URL decoding ('+' to space) belongs to the event handler; here '+' and ' ' are literal.
    assert classify(f"my backups/host 2_duplicity-full.{T1}.vol1.difftar.gpg").glacierable is True
    assert classify(f"my+backups/host+2_duplicity-full.{T1}.vol1.difftar.gpg").glacierable is True


def test_is_glacierable_matches_classify() -> None:
    assert is_glacierable(f"duplicity-full.{T1}.vol1.difftar.gpg") is True
    assert is_glacierable("notes.txt") is False
    assert is_glacierable("notes.txt", archive_unknown=True) is True


@pytest.mark.parametrize("entry", RECORDED, ids=[entry["name"] for entry in RECORDED])
def test_recorded_names_classify_by_the_kind_duplicity_gave_them(entry: dict[str, Any]) -> None:
    decision = classify("backups/" + entry["name"])
    assert decision.kind == entry["kind"]
    assert decision.glacierable is (entry["kind"] == "volume")


@given(st.text(), st.booleans())
def test_classify_never_raises(key: str, archive_unknown: bool) -> None:
    decision = classify(key, archive_unknown=archive_unknown)
    assert decision.key == key
    assert decision.kind in {"volume", "manifest", "signature", "jsonstat", UNKNOWN}


@given(st.text(), st.booleans())
def test_classify_is_deterministic(key: str, archive_unknown: bool) -> None:
    assert classify(key, archive_unknown=archive_unknown) == classify(key, archive_unknown=archive_unknown)


NAMES = st.one_of(
    st.sampled_from([entry["name"] for entry in RECORDED] + ["notes.txt", "df.s44we8.1.dt"]),
    st.text(),
)


@given(st.text(), NAMES, st.booleans())
def test_classify_is_folder_independent(folder: str, name: str, archive_unknown: bool) -> None:
    assume("/" not in name)
    with_folder = classify(folder + "/" + name, archive_unknown=archive_unknown)
    without = classify(name, archive_unknown=archive_unknown)
    assert (with_folder.glacierable, with_folder.kind) == (without.glacierable, without.kind)
