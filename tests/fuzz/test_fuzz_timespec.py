"""Restore-time parsing over any text and near-valid strings: duplicity's answer, or TimeSpecError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from glacierable.names import format_time
from glacierable.timespec import TimeSpecError, parse_restore_time, parse_time
from tests.fuzz import ANY_TEXT

FUZZ = settings.get_profile("fuzz")

# The oracle is duplicity's own parser (a dev dependency; the runtime never imports duplicity).
dup_time = pytest.importorskip("duplicity.dup_time")

NOW = 1_700_000_000
EPOCHS = st.integers(min_value=1, max_value=4_102_444_799)
UNITS = "smhDWMY"


def w3(epoch: int, zone: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S") + zone


VALID_FORMS = st.one_of(
    st.just("now"),
    EPOCHS.map(str),
    EPOCHS.map(format_time),
    st.builds(w3, EPOCHS, st.sampled_from(["Z", "+01:00", "-05:00", "+05:30", "-03:30", ""])),
    EPOCHS.map(lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")),
    EPOCHS.map(lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y/%m/%d")),
    EPOCHS.map(lambda t: datetime.fromtimestamp(t, UTC).strftime("%m/%d/%Y")),
    EPOCHS.map(lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y%m%dZ")),
    st.lists(st.tuples(st.integers(0, 999), st.sampled_from(UNITS)), min_size=1, max_size=3).map(
        lambda pairs: "".join(f"{n}{unit}" for n, unit in pairs)
    ),
)
# Characters that int(), the regexes or duplicity's slicing treat specially: Unicode digits, separators,
# signs, spaces, underscores, case changes of the unit and zone letters.
UNICODE_DIGITS = ["\u0663", "\uff13", "\u216b", "\u00b2"]  # Arabic 3, fullwidth 3, XII, superscript 2
EDIT_CHARS = st.sampled_from([*"0123456789TZtz:-+/._ \t\nsmhDWMYdwy", *UNICODE_DIGITS, "\u200b", "\x00"])


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A valid time string with one to three characters inserted, deleted, replaced or doubled."""
    text = list(draw(VALID_FORMS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "double"]))
        if action == "insert" or not text:
            text.insert(index, draw(EDIT_CHARS))
        elif action == "delete":
            del text[min(index, len(text) - 1)]
        elif action == "replace":
            text[min(index, len(text) - 1)] = draw(EDIT_CHARS)
        else:
            text.insert(index, text[min(index, len(text) - 1)])
    return "".join(text)


def ours(text: str) -> int | None:
    try:
        return parse_time(text, now=NOW)
    except TimeSpecError:
        return None


def duplicitys(text: str) -> int | None:
    try:
        result: int = dup_time.genstrtotime(text, override_curtime=NOW)
    except (dup_time.TimeException, ValueError):  # ValueError: digit runs too long for int()
        return None
    return result


@FUZZ
@given(ANY_TEXT, st.integers(min_value=-50_400, max_value=50_400))
@example("9" * 5000, 0)
@example("\ud800", 0)
def test_any_text_is_a_time_or_a_time_spec_error(text: str, utc_offset: int) -> None:
    try:
        result = parse_time(text, now=NOW, utc_offset=utc_offset)
    except TimeSpecError as error:
        assert "bad time string" in str(error)
        event("refused")
        return
    event("parsed")
    assert isinstance(result, int)
    assert parse_restore_time(text, now=NOW, utc_offset=utc_offset) == (result or NOW)


@FUZZ
@given(st.one_of(VALID_FORMS, near_valid()))
@example("0")
@example("2023-11-16T22:13:30-03:30")
@example("1h\uff130m")  # a fullwidth digit 3
def test_valid_and_near_valid_strings_parse_as_duplicity_parses_them(text: str) -> None:
    expected = duplicitys(text)
    event("duplicity refuses" if expected is None else "duplicity parses")
    assert ours(text) == expected


@FUZZ
# A day inside duplicity's years (1901-2099) either way, so that the zone never shifts the date out of them.
@given(st.integers(86_400, 4_102_444_799 - 86_400), st.sampled_from(["Z", "+01:00", "-05:00", "+05:30"]))
def test_w3_and_file_name_times_mean_the_instant_they_name(epoch: int, zone: str) -> None:
    assert parse_time(format_time(epoch), now=NOW) == epoch
    sign = -1 if zone.startswith("-") else 1
    offset = 0 if zone == "Z" else sign * (3600 * int(zone[1:3]) + 60 * int(zone[4:6]))
    # The wall-clock time `epoch` shows in that zone, written with the zone, is `epoch` again.
    shown = datetime.fromtimestamp(epoch + offset, UTC).strftime("%Y-%m-%dT%H:%M:%S") + zone
    assert parse_time(shown, now=NOW) == epoch


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(UNITS)), min_size=1, max_size=4))
def test_intervals_count_back_from_now(pairs: list[tuple[int, str]]) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "D": 86400, "W": 604800, "M": 2592000, "Y": 31536000}
    text = "".join(f"{n}{unit}" for n, unit in pairs)
    assert parse_time(text, now=NOW) == NOW - sum(n * seconds[unit] for n, unit in pairs)
