"""Restore times are read exactly as duplicity reads `-t`."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from glacierable.timespec import (
    TimeSpecError,
    local_standard_offset,
    parse_restore_time,
    parse_time,
    time_argument,
)

NOW = 1_700_000_000  # 2023-11-14T22:13:20Z
DAY = 86400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("1600000000", 1_600_000_000),
        ("0", 0),
        ("2023-11-16T22:13:30Z", 1_700_172_810),
        ("2023-11-16T22:13:30+01:00", 1_700_172_810 - 3600),
        ("2023-11-16T22:13:30-05:00", 1_700_172_810 + 5 * 3600),
        ("20231116T221330Z", 1_700_172_810),
        ("2023-11-16", 1_700_092_800),
        ("2023/11/16", 1_700_092_800),
        ("2023-1-6", 1_672_963_200),
        ("11/16/2023", 1_700_092_800),
        ("11-16-2023", 1_700_092_800),
        ("20231116Z", 1_700_092_800),
    ],
)
def test_absolute_forms_give_epoch_seconds(text: str, expected: int) -> None:
    assert parse_time(text, now=NOW, utc_offset=0) == expected


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [
        ("10s", 10),
        ("10m", 600),
        ("2h", 7200),
        ("3D", 3 * DAY),
        ("2W", 14 * DAY),
        ("1M", 30 * DAY),
        ("1Y", 365 * DAY),
        ("1h30m", 5400),
        ("3D64s", 3 * DAY + 64),
        ("0s", 0),
    ],
)
def test_intervals_mean_that_long_before_now(text: str, seconds_ago: int) -> None:
    assert parse_time(text, now=NOW) == NOW - seconds_ago


def test_zoneless_datetime_uses_the_given_offset() -> None:
    assert parse_time("2023-11-16T22:13:30", now=NOW, utc_offset=3600) == 1_700_172_810 - 3600


def test_bare_date_is_local_midnight() -> None:
    assert parse_time("2023-11-16", now=NOW, utc_offset=-5 * 3600) == 1_700_092_800 + 5 * 3600


def test_zoneless_default_is_the_machines_standard_offset() -> None:
    expected = parse_time("2023-11-16T22:13:30", now=NOW, utc_offset=local_standard_offset())
    assert parse_time("2023-11-16T22:13:30", now=NOW) == expected


def test_negative_offset_minutes_count_the_wrong_way_as_in_duplicity() -> None:
    # duplicity's tzdtoseconds reads -03:30 as -(3h) + 30 min, i.e. -02:30.
    assert parse_time("2023-11-16T22:13:30-03:30", now=NOW) == 1_700_172_810 + 2 * 3600 + 1800


def test_the_epoch_as_a_datetime_is_refused_as_in_duplicity() -> None:
    with pytest.raises(TimeSpecError):
        parse_time("1970-01-01T00:00:00Z", now=NOW)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "NOW", "3d", "3 D", "2023-13-01", "2023-11-16T25:00:00Z", "1h30", "h1", "-5"],
)
def test_unknown_forms_are_refused(text: str) -> None:
    with pytest.raises(TimeSpecError):
        parse_time(text, now=NOW)


def test_error_quotes_the_input_and_lists_accepted_forms() -> None:
    with pytest.raises(TimeSpecError, match=r"'last tuesday'.*now.*2023-11-16T22:13:30Z.*3D"):
        parse_time("last tuesday", now=NOW)


def test_restore_time_zero_means_now_as_in_duplicity_restore() -> None:
    # dup_main uses `config.restore_time or dup_time.curtime`.
    assert parse_restore_time("0", now=NOW) == NOW
    assert parse_restore_time("3D", now=NOW) == NOW - 3 * DAY


def test_digits_too_long_for_int_are_a_time_spec_error() -> None:
    with pytest.raises(TimeSpecError):
        parse_time("9" * 5000 + "D", now=NOW)


@given(st.text())
@example("9" * 5000)
def test_total_any_string_gives_an_int_or_a_time_spec_error(text: str) -> None:
    try:
        result: int | str = parse_time(text, now=NOW)
    except TimeSpecError as error:
        result = str(error)
    assert isinstance(result, int) or repr(text) in result


_ALPHABET = "0123456789TZ:-+/smhDWMY .now_"


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(alphabet=_ALPHABET, max_size=30),
        st.builds(
            lambda y, mo, d, h, mi, s, zone: f"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}",
            st.integers(1890, 2110),
            st.integers(0, 13),
            st.integers(0, 32),
            st.integers(0, 24),
            st.integers(0, 60),
            st.integers(0, 62),
            st.sampled_from(["", "Z", "+01:00", "-03:30", "+0100", "z"]),
        ),
    )
)
@example("2023-11-16T22:13:30")
@example("1h30m")
@example("11/16/2023")
def test_agrees_with_duplicitys_own_parser(text: str) -> None:
    from duplicity import dup_time  # the dev dependency; the runtime never imports duplicity

    try:
        expected: int | None = dup_time.genstrtotime(text, override_curtime=NOW)
    except Exception:  # duplicity raises TimeException, and ValueError for over-long digit runs
        expected = None
    try:
        actual: int | None = parse_time(text, now=NOW)
    except TimeSpecError:
        actual = None
    assert actual == expected


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (1_700_000_000, "20231114T221320Z"),
        (1, "19700101T000001Z"),
        (4_102_444_800, "4102444800"),  # 2100-01-01: duplicity refuses the file-name form from 2100 on
    ],
)
def test_every_printed_time_reads_back_in_duplicity_as_the_same_time(epoch: int, text: str) -> None:
    assert time_argument(epoch) == text
    assert parse_restore_time(text, now=5) == epoch


def test_no_printed_time_stands_for_zero() -> None:
    with pytest.raises(TimeSpecError, match="0 as now"):
        time_argument(0)


def test_a_restore_time_of_zero_is_now() -> None:
    assert parse_restore_time("0", now=1_700_000_000) == 1_700_000_000
    assert parse_time("0", now=1_700_000_000) == 0
