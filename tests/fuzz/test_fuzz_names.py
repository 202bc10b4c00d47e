"""Name parsing and classification over any text and near-miss duplicity names: total, and never wrong."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from glacierable.classify import UNKNOWN, classify
from glacierable.names import Kind, format_time, parse_name
from tests.duplicity_scenarios import Scenario, duplicity_fields
from tests.fuzz import ANY_TEXT

FUZZ = settings.get_profile("fuzz")

pytest.importorskip("duplicity.file_naming")  # the oracle, imported before the first example

EPOCHS = st.integers(min_value=1, max_value=4_102_444_799)
SUFFIXES = st.sampled_from(["", ".gpg", ".p7m", ".gz", ".z", ".g"])
PREFIXES = st.sampled_from(["", "host1_", "data_", "a b-", "x.y_"])
REGEX_CHARACTERS = set("+*?()[]{}|^$\\.")


@st.composite
def duplicity_names(draw: st.DrawFn) -> str:
    """A name duplicity 3 writes (long form), with a prefix and a suffix."""
    t1, t2 = format_time(draw(EPOCHS)), format_time(draw(EPOCHS))
    volume = draw(st.integers(min_value=1, max_value=99_999))
    body = draw(
        st.sampled_from(
            [
                f"duplicity-full.{t1}.vol{volume}.difftar",
                f"duplicity-inc.{t1}.to.{t2}.vol{volume}.difftar",
                f"duplicity-full.{t1}.manifest",
                f"duplicity-inc.{t1}.to.{t2}.manifest",
                f"duplicity-full-signatures.{t1}.sigtar",
                f"duplicity-new-signatures.{t1}.to.{t2}.sigtar",
                f"duplicity-full.{t1}.jsonstat",
                f"duplicity-inc.{t1}.to.{t2}.jsonstat",
            ]
        )
    )
    return draw(PREFIXES) + body + draw(SUFFIXES)


# Characters a near miss is made of: the grammar's own letters, digits and separators, and a few strangers.
EDIT_CHARS = st.sampled_from([*"0123456789.-_TZtzvolfuincdtarsgpzm/ +", "\u0663", "\x00", "\n", "é"])


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A real name with one to three characters inserted, deleted, replaced or doubled."""
    text = list(draw(duplicity_names()))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(text) - 1))
        action = draw(st.sampled_from(["insert", "delete", "replace", "double"]))
        if action == "insert":
            text.insert(index, draw(EDIT_CHARS))
        elif action == "delete" and len(text) > 1:
            del text[index]
        elif action == "replace":
            text[index] = draw(EDIT_CHARS)
        else:
            text.insert(index, text[index])
    return "".join(text)


def duplicity_says(key: str, prefix: str) -> dict[str, object] | None:
    base = key.rpartition("/")[2]
    return duplicity_fields(base, Scenario("fuzz", prefixes={"": prefix} if prefix else {}))


@FUZZ
@given(st.one_of(ANY_TEXT, near_misses(), duplicity_names()), st.booleans())
@example("", False)
@example("/", True)
@example("\ud800duplicity-full.20231114T221320Z.vol1.difftar", False)
def test_any_text_parses_and_classifies_consistently(key: str, archive_unknown: bool) -> None:
    name = parse_name(key)
    decision = classify(key, archive_unknown=archive_unknown)
    event("unknown" if name is None else name.kind.value)
    assert decision.key == key
    if name is None:
        assert (decision.kind, decision.glacierable) == (UNKNOWN, archive_unknown)
    else:
        assert (decision.kind, decision.glacierable) == (name.kind.value, name.kind is Kind.VOLUME)
    assert parse_name(key) == name  # deterministic


@FUZZ
@given(st.lists(ANY_TEXT, max_size=3), st.one_of(near_misses(), duplicity_names(), ANY_TEXT))
def test_folders_never_change_the_decision(folders: list[str], name: str) -> None:
    base = name.rpartition("/")[2]
    key = "".join(folder + "/" for folder in folders) + base
    assert parse_name(key) == parse_name(base)
    assert classify(key).glacierable == classify(base).glacierable


@FUZZ
@given(near_misses())
@example("duplicity-full.20231114T221320Z.vol0.difftar.gpg")
@example("duplicity-full.20231114T221320Z.vol1.difftar.gpg.gpg")
@example("duplicity-full.20231114T221320Z.manifest.gz")
def test_near_misses_we_parse_duplicity_parses_the_same(name: str) -> None:
    ours = parse_name(name)
    event("we refuse" if ours is None else f"we parse: {ours.kind.value}")
    # duplicity pastes its prefix options into regexes unescaped: such prefixes break duplicity, not us.
    if ours is None or set(ours.prefix) & REGEX_CHARACTERS:
        return
    expected = duplicity_says(name, ours.prefix)
    assert expected is not None, f"duplicity does not recognise {name!r}"
    assert {**asdict(ours), "short": False} == expected


PAR2_SUFFIXES = st.sampled_from([".par2", ".vol0+1.par2", ".vol12+3.par2"])


@FUZZ
@given(st.one_of(near_misses(), duplicity_names()), PAR2_SUFFIXES)
def test_par2_files_follow_the_file_they_protect(name: str, par2_suffix: str) -> None:
    protected, par2 = classify(name), classify(name + par2_suffix)
    assert (par2.kind, par2.glacierable) == (protected.kind, protected.glacierable)
