"""duplicity file names parse by duplicity's own grammar, whatever folder or prefix they sit behind."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from glacierable.names import DuplicityName, Kind, format_time, parse_name, parse_time_string
from tests.duplicity_scenarios import Scenario, duplicity_fields

T1, T1_EPOCH = "20231114T221320Z", 1_700_000_000
T2, T2_EPOCH = "20231114T231320Z", 1_700_003_600
T1_36, T2_36 = "s44we8", "s44z68"  # base 36 of T1_EPOCH and T2_EPOCH, as duplicity's short names write them

# Imported up front: the first hypothesis example must not pay for importing duplicity.
pytest.importorskip("duplicity.file_naming")

RECORDED = json.loads(Path(__file__).parents[1].joinpath("data", "duplicity_names.json").read_text("utf-8"))
RECORDED_NAMES: list[dict[str, Any]] = RECORDED["names"]


def base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not number:
            return digits


def fields(name: DuplicityName | None) -> dict[str, Any]:
    assert name is not None
    return asdict(name)


# --- the long names duplicity 3 writes ---


@pytest.mark.parametrize(
    ("name", "kind", "full", "start", "end", "volume"),
    [
        (f"duplicity-full.{T1}.vol1.difftar.gpg", Kind.VOLUME, True, None, T1_EPOCH, 1),
        (f"duplicity-full.{T1}.vol123.difftar.gpg", Kind.VOLUME, True, None, T1_EPOCH, 123),
        (f"duplicity-inc.{T1}.to.{T2}.vol7.difftar.gpg", Kind.VOLUME, False, T1_EPOCH, T2_EPOCH, 7),
        (f"duplicity-full.{T1}.manifest.gpg", Kind.MANIFEST, True, None, T1_EPOCH, None),
        (f"duplicity-inc.{T1}.to.{T2}.manifest.gpg", Kind.MANIFEST, False, T1_EPOCH, T2_EPOCH, None),
        (f"duplicity-full-signatures.{T1}.sigtar.gpg", Kind.SIGNATURE, True, None, T1_EPOCH, None),
        (
            f"duplicity-new-signatures.{T1}.to.{T2}.sigtar.gpg",
            Kind.SIGNATURE,
            False,
            T1_EPOCH,
            T2_EPOCH,
            None,
        ),
        (f"duplicity-full.{T1}.jsonstat.gpg", Kind.JSONSTAT, True, None, T1_EPOCH, None),
        (f"duplicity-inc.{T1}.to.{T2}.jsonstat.gpg", Kind.JSONSTAT, False, T1_EPOCH, T2_EPOCH, None),
    ],
)
def test_long_names_give_kind_times_and_volume(
    name: str, kind: Kind, full: bool, start: int | None, end: int, volume: int | None
) -> None:
    parsed = parse_name(name)
    assert parsed is not None
    assert (parsed.kind, parsed.full, parsed.start_time, parsed.end_time, parsed.volume) == (
        kind,
        full,
        start,
        end,
        volume,
    )
    assert (parsed.prefix, parsed.par2, parsed.short, parsed.partial) == ("", False, False, False)
    assert parsed.protected == name


@pytest.mark.parametrize(
    ("suffix", "encrypted", "compressed"),
    [
        (".gpg", True, False),
        (".p7m", True, False),
        (".g", True, False),
        (".gz", False, True),
        (".z", False, True),
        ("", False, False),
    ],
)
@pytest.mark.parametrize(
    "stem",
    [
        f"duplicity-full.{T1}.vol1.difftar",
        f"duplicity-inc.{T1}.to.{T2}.manifest",
        f"duplicity-new-signatures.{T1}.to.{T2}.sigtar",
        f"df.{T1_36}.1.dt",
        f"dfst.{T1_36}.jst",
    ],
)
def test_suffix_tells_encryption_and_compression(
    stem: str, suffix: str, encrypted: bool, compressed: bool
) -> None:
    parsed = parse_name(stem + suffix)
    assert parsed is not None
    assert (parsed.encrypted, parsed.compressed) == (encrypted, compressed)


@pytest.mark.parametrize(
    "name",
    [
        f"duplicity-full.{T1}.vol1.difftar.bz2",
        f"duplicity-full.{T1}.vol1.difftar.gpg.tmp",
        f"duplicity-full.{T1}.vol1.difftar.GPG",
        f"duplicity-full.{T1}.vol1.difftar.gz.gpg",
    ],
)
def test_unknown_suffixes_are_not_duplicity_files(name: str) -> None:
    assert parse_name(name) is None


@pytest.mark.parametrize(
    ("name", "partial"),
    [
        (f"duplicity-full.{T1}.manifest.part", True),
        (f"duplicity-full.{T1}.manifest.part.gpg", True),
        (f"duplicity-full-signatures.{T1}.sigtar.part.gz", True),
        (f"duplicity-full.{T1}.vol2.difftar.part", False),  # duplicity ignores the marker on volumes
        (f"df.{T1_36}.m.p", True),
        (f"dfs.{T1_36}.st.p.g", True),
        (f"duplicity-full.{T1}.manifest", False),
    ],
)
def test_partial_marker_is_reported(name: str, partial: bool) -> None:
    parsed = parse_name(name)
    assert parsed is not None
    assert parsed.partial is partial


def test_long_names_do_not_take_the_short_partial_marker() -> None:
    assert parse_name(f"duplicity-full.{T1}.manifest.p") is None


# --- prefixes and folders ---


@pytest.mark.parametrize(
    ("name", "prefix", "kind"),
    [
        (f"host2_data_duplicity-full.{T1}.vol1.difftar.gz", "host2_data_", Kind.VOLUME),
        (f"host2_meta_duplicity-full.{T1}.manifest", "host2_meta_", Kind.MANIFEST),
        (f"h ü_sig_duplicity-new-signatures.{T1}.to.{T2}.sigtar.gpg", "h ü_sig_", Kind.SIGNATURE),
        (f"stat.duplicity-full.{T1}.jsonstat", "stat.", Kind.JSONSTAT),
        (f"manifest_duplicity-full.{T1}.vol1.difftar.gpg", "manifest_", Kind.VOLUME),
        (f"x_df.{T1_36}.1.dt", "x_", Kind.VOLUME),
    ],
)
def test_any_prefix_before_the_duplicity_part_is_kept(name: str, prefix: str, kind: Kind) -> None:
    parsed = parse_name(name)
    assert parsed is not None
    assert (parsed.prefix, parsed.kind) == (prefix, kind)


def test_prefix_is_the_shortest_that_leaves_a_valid_name() -> None:
    parsed = parse_name(f"duplicity-full.x_duplicity-full.{T1}.vol1.difftar")
    assert parsed is not None
    assert (parsed.prefix, parsed.volume) == ("duplicity-full.x_", 1)


@pytest.mark.parametrize(
    "folder",
    [
        "",
        "backups/",
        "manifests/",
        "a b/c d/",
        "ünïcødé/日本/",
        f"duplicity-full.{T1}.manifest/",
        f"duplicity-full.{T1}.vol1.difftar/",
        "signatures/duplicity-new-signatures/",
        "//",
    ],
)
def test_only_the_basename_counts(folder: str) -> None:
    name = f"duplicity-full.{T1}.vol1.difftar.gpg"
    assert parse_name(folder + name) == parse_name(name)
    assert parse_name(folder + "notes.txt") is None


@pytest.mark.parametrize(
    "key",
    ["", "/", "backups/", f"duplicity-full.{T1}.manifest/", "manifests/"],
)
def test_keys_without_a_basename_are_not_duplicity_files(key: str) -> None:
    assert parse_name(key) is None


# --- short names (duplicity < 2 wrote them; duplicity 3 still reads them) ---


@pytest.mark.parametrize(
    ("name", "kind", "full", "start", "end", "volume"),
    [
        (f"df.{T1_36}.1.dt.g", Kind.VOLUME, True, None, T1_EPOCH, 1),
        (f"df.{T1_36}.z.dt.z", Kind.VOLUME, True, None, T1_EPOCH, 35),
        (f"df.{T1_36}.10.dt", Kind.VOLUME, True, None, T1_EPOCH, 36),
        (f"di.{T1_36}.{T2_36}.2.dt.g", Kind.VOLUME, False, T1_EPOCH, T2_EPOCH, 2),
        (f"df.{T1_36}.m.g", Kind.MANIFEST, True, None, T1_EPOCH, None),
        (f"di.{T1_36}.{T2_36}.m.g", Kind.MANIFEST, False, T1_EPOCH, T2_EPOCH, None),
        (f"dfs.{T1_36}.st.g", Kind.SIGNATURE, True, None, T1_EPOCH, None),
        (f"dns.{T1_36}.{T2_36}.st.g", Kind.SIGNATURE, False, T1_EPOCH, T2_EPOCH, None),
        (f"dfst.{T1_36}.jst", Kind.JSONSTAT, True, None, T1_EPOCH, None),
        (f"dist.{T1_36}.to.{T2_36}.jst.g", Kind.JSONSTAT, False, T1_EPOCH, T2_EPOCH, None),
    ],
)
def test_short_names_use_base36(
    name: str, kind: Kind, full: bool, start: int | None, end: int, volume: int | None
) -> None:
    parsed = parse_name(name)
    assert parsed is not None
    assert (parsed.kind, parsed.full, parsed.start_time, parsed.end_time, parsed.volume) == (
        kind,
        full,
        start,
        end,
        volume,
    )
    assert parsed.short is True


# --- par2 files follow the file they protect ---


@pytest.mark.parametrize(
    "suffix",
    [".par2", ".vol000+199.par2", ".vol0+5.par2", ".vol12+3.par2"],
)
@pytest.mark.parametrize(
    "protected",
    [
        f"host_duplicity-full.{T1}.vol3.difftar.gpg",
        f"duplicity-inc.{T1}.to.{T2}.manifest.gpg",
        f"duplicity-full-signatures.{T1}.sigtar.gz",
        f"duplicity-full.{T1}.jsonstat",
    ],
)
def test_par2_files_parse_as_the_file_they_protect(protected: str, suffix: str) -> None:
    own = parse_name(protected)
    parsed = parse_name("some folder/" + protected + suffix)
    assert own is not None and parsed is not None
    assert parsed.par2 is True
    assert parsed.protected == protected
    assert {**asdict(parsed), "par2": False} == asdict(own)


@pytest.mark.parametrize(
    "name",
    ["notes.txt.par2", ".par2", "par2", f"duplicity-full.{T1}.vol1.difftar.gpg.par2.par2", "x.vol1+2.par2"],
)
def test_par2_files_of_unknown_files_are_not_duplicity_files(name: str) -> None:
    assert parse_name(name) is None


# --- times ---


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        (T1, T1_EPOCH),
        ("20231114t221320z", T1_EPOCH),
        ("2023-11-14T22:13:20Z", T1_EPOCH),
        ("2023-11-14T23:13:20+01:00", T1_EPOCH),
        ("2023-11-14T15:13:20-07:00", T1_EPOCH),
        ("2023-11-14T22.13.20Z", T1_EPOCH),
        ("2023-11-14T22:13:20", T1_EPOCH),
        ("1700000000", T1_EPOCH),
    ],
)
def test_time_strings_duplicity_reads_in_names(text: str, epoch: int) -> None:
    assert parse_time_string(text) == epoch


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3D",
        "now",
        "20231314T221320Z",
        "20231114T251320Z",
        "18991114T221320Z",
        "2023-11-14",
        "2023111T221320Z",
    ],
)
def test_time_strings_that_are_no_file_name_times(text: str) -> None:
    assert parse_time_string(text) is None


def test_format_time_writes_duplicity_time_strings() -> None:
    assert format_time(T1_EPOCH) == T1
    assert format_time(0) == "19700101T000000Z"


@given(st.integers(min_value=-2_208_988_800 + 86_400 * 366, max_value=4_102_444_799))
def test_format_time_and_parse_time_string_round_trip(epoch: int) -> None:
    assert parse_time_string(format_time(epoch)) == epoch


@pytest.mark.parametrize(
    "name",
    [
        f"duplicity-full.{T1}.vol0.difftar",  # duplicity numbers volumes from 1
        "duplicity-full.0.vol1.difftar",  # a zero time is no time to duplicity
        "df.0.1.dt",
        f"duplicity-inc.{T1}.jsonstat",  # an incremental needs both times
        "duplicity-full.3D.vol1.difftar",  # relative times depend on "now"
        f"duplicity-full.{T1}.vol1000000000000.difftar",
        f"df.{'z' * 14}.1.dt",
        "duplicity-full.99991231T235959Z.vol1.difftar.gpg-but-not",
        f"DUPLICITY-FULL.{T1}.VOL1.DIFFTAR",
        f"duplicity-full.{T1}.vol1.difftar\n",
        f"duplicity-full.{T1}.vol1.difftar.gpg ",
        f"duplicity-full.{T1}.vol1.tar",
        f"duplicity-full.{T1}.vol1.difftar.gpg/x",
        f"duplicity-full.{T1}.to.{T2}.vol1.difftar",
        "duplicity-full-signatures",
        "manifest",
    ],
)
def test_names_duplicity_would_not_use_are_rejected(name: str) -> None:
    assert parse_name(name) is None


# --- the names a real duplicity run wrote (tests/data/duplicity_names.json) ---


@pytest.mark.parametrize("entry", RECORDED_NAMES, ids=[entry["name"] for entry in RECORDED_NAMES])
def test_recorded_names_parse_as_duplicity_parsed_them(entry: dict[str, Any]) -> None:
    expected = {key: value for key, value in entry.items() if key not in ("scenario", "name")}
    assert fields(parse_name(entry["name"])) == expected


def test_recorded_names_cover_every_kind_suffix_prefix_and_par2() -> None:
    kinds = {entry["kind"] for entry in RECORDED_NAMES}
    assert kinds == {kind.value for kind in Kind}
    suffixes = {entry["protected"].rpartition(".")[2] for entry in RECORDED_NAMES}
    assert {"gpg", "gz", "difftar", "manifest", "sigtar"} <= suffixes  # the last three: no suffix
    assert any(entry["par2"] and entry["protected"] != entry["name"] for entry in RECORDED_NAMES)
    assert any(re.search(r"\.vol[0-9]+\+[0-9]+\.par2\Z", entry["name"]) for entry in RECORDED_NAMES)
    assert {"host2_data_", "host2_meta_", "host2_sig_", "host2_stat_", "h ü_"} <= {
        e["prefix"] for e in RECORDED_NAMES
    }
    assert any(not entry["full"] for entry in RECORDED_NAMES if entry["kind"] == "volume")
    assert max(entry["volume"] or 0 for entry in RECORDED_NAMES) >= 3


def test_recorded_table_was_made_by_the_pinned_duplicity() -> None:
    from importlib.metadata import version

    assert RECORDED["duplicity"] == version("duplicity")


# --- properties ---


@given(st.text())
def test_parse_name_never_raises(key: str) -> None:
    result = parse_name(key)
    assert result is None or isinstance(result, DuplicityName)


@given(st.text())
def test_parse_name_is_deterministic(key: str) -> None:
    assert parse_name(key) == parse_name(key)


NAME_FRAGMENTS = st.sampled_from(
    [
        "duplicity-full",
        "duplicity-inc",
        "duplicity-full-signatures",
        "duplicity-new-signatures",
        "df",
        "di",
        "dfs",
        "dns",
        "dfst",
        "dist",
        T1,
        T2,
        T1_36,
        "to",
        "vol1",
        "vol0",
        "difftar",
        "manifest",
        "sigtar",
        "jsonstat",
        "dt",
        "m",
        "st",
        "jst",
        "part",
        "p",
        "gpg",
        "gz",
        "z",
        "g",
        "p7m",
        "par2",
        "vol0+1",
        "1",
        "",
        "x_",
    ]
)
NEAR_NAMES = st.lists(NAME_FRAGMENTS, min_size=1, max_size=9).map(".".join)
FOLDERS = st.lists(st.text(), max_size=3).map(lambda parts: "".join(part + "/" for part in parts))


@given(FOLDERS, st.one_of(NEAR_NAMES, st.text()))
def test_folders_never_change_the_result(folder: str, name: str) -> None:
    assume("/" not in name)
    assert parse_name(folder + name) == parse_name(name)


# --- agreement with duplicity's own parser (the installed duplicity package, in-process) ---

PREFIXES = st.text(alphabet="abcXYZ019_- ", max_size=8)
EPOCHS = st.integers(min_value=-2_177_452_800 + 86_400, max_value=4_102_444_799).filter(bool)
SUFFIXES = st.sampled_from(["", ".gpg", ".p7m", ".gz", ".z", ".g"])


@st.composite
def duplicity_names(draw: st.DrawFn) -> str:
    t1, t2 = draw(EPOCHS), draw(EPOCHS)
    volume = draw(st.integers(min_value=1, max_value=99_999))
    long_t1, long_t2 = format_time(t1), format_time(t2)
    body = draw(
        st.sampled_from(
            [
                f"duplicity-full.{long_t1}.vol{volume}.difftar",
                f"duplicity-full.{long_t1}.vol{volume}.difftar.part",
                f"duplicity-inc.{long_t1}.to.{long_t2}.vol{volume}.difftar",
                f"duplicity-full.{long_t1}.manifest",
                f"duplicity-inc.{long_t1}.to.{long_t2}.manifest.part",
                f"duplicity-full-signatures.{long_t1}.sigtar",
                f"duplicity-new-signatures.{long_t1}.to.{long_t2}.sigtar.part",
                f"duplicity-full.{long_t1}.jsonstat",
                f"duplicity-inc.{long_t1}.to.{long_t2}.jsonstat",
            ]
            + (
                [
                    f"df.{base36(t1)}.{base36(volume)}.dt",
                    f"di.{base36(t1)}.{base36(t2)}.{base36(volume)}.dt",
                    f"df.{base36(t1)}.m.p",
                    f"di.{base36(t1)}.{base36(t2)}.m",
                    f"dfs.{base36(t1)}.st",
                    f"dns.{base36(t1)}.{base36(t2)}.st.p",
                    f"dfst.{base36(t1)}.jst",
                    f"dist.{base36(t1)}.to.{base36(t2)}.jst",
                ]
                if t1 > 0 and t2 > 0
                else []
            )
        )
    )
    return body + draw(SUFFIXES)


@settings(deadline=None)
@given(PREFIXES, duplicity_names())
def test_names_parse_as_duplicity_parses_them(prefix: str, name: str) -> None:
    key = prefix + name
    expected = duplicity_fields(key, Scenario("any", prefixes={"": prefix}))
    ours = parse_name(key)
    assert ours is not None and expected is not None
    assert {**fields(ours), "short": False} == expected


@st.composite
def mutated_names(draw: st.DrawFn) -> str:
    """A real name with a few dot-separated parts dropped, doubled or replaced: near misses and odd hits."""
    parts = draw(duplicity_names()).split(".")
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(parts) - 1))
        action = draw(st.sampled_from(["drop", "double", "replace", "insert"]))
        if action == "drop" and len(parts) > 1:
            del parts[index]
        elif action == "double":
            parts.insert(index, parts[index])
        elif action == "replace":
            parts[index] = draw(NAME_FRAGMENTS)
        else:
            parts.insert(index, draw(NAME_FRAGMENTS))
    return ".".join(parts)


@settings(deadline=None)
@given(st.one_of(mutated_names(), NEAR_NAMES))
def test_whatever_we_parse_duplicity_parses_the_same(name: str) -> None:
    ours = parse_name(name)
    # Near misses we reject say nothing here: duplicity accepts more (any ".xyz" after the type, "3D" times).
    # duplicity pastes its prefix options into its regexes unescaped, so regex characters break it.
    if ours is None or set(ours.prefix) & set("+*?()[]{}|^$\\"):
        return
    expected = duplicity_fields(name, Scenario("any", prefixes={"": ours.prefix} if ours.prefix else {}))
    assert expected is not None
    assert {**fields(ours), "short": False} == expected
