"""Restore times as duplicity's `-t`/`--time` accepts them, mirroring `duplicity/dup_time.py` (3.2.1).

The rules are ported line by line from `genstrtotime`, quirks included, so a plan for a time string selects
the same backup sets that `duplicity restore -t <same string>` will:

- `now`; plain epoch seconds (`1700000000`);
- W3 datetimes `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `±HH:MM`, or with no zone (the local standard-time
  offset is used, as duplicity does); duplicity's own file-name form `YYYYMMDDTHHMMSSZ`;
- intervals meaning that long before now: `s m h D W M Y` (M = 30 days, Y = 365 days), combinable (`1h30m`);
- dates at midnight: `YYYY-MM-DD`, `YYYY/MM/DD`, `MM/DD/YYYY` (month first, `-` or `/`), `YYYYMMDDZ`.

Quirks kept on purpose: a result of exactly 0 (the epoch) is refused, as duplicity's truthiness tests
refuse it; an explicit negative offset with minutes (`-03:30`) counts the minutes the wrong way
(duplicity reads it as `-02:30`); `int()` accepts what Python's does inside each field (spaces, `_`,
Unicode digits).
"""

from __future__ import annotations

import calendar
import re
import time

from glacierable.names import format_time

_INTERVAL_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "D": 86400,
    "W": 7 * 86400,
    "M": 30 * 86400,
    "Y": 365 * 86400,
}
_INTEGER = re.compile("^[0-9]+$")
_INTERVAL = re.compile("^([0-9]+)([smhDWMY])")
_DATE_YMD = re.compile("^(?P<year>[0-9]{4})[-/](?P<month>[0-9]{1,2})[-/](?P<day>[0-9]{1,2})$")
_DATE_MDY = re.compile("^(?P<month>[0-9]{1,2})[-/](?P<day>[0-9]{1,2})[-/](?P<year>[0-9]{4})$")
_DATE_COMPACT = re.compile("^(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})Z$")

ACCEPTED_FORMS = (
    'accepted: "now"; epoch seconds (1700000000); a W3 datetime (2023-11-16T22:13:30Z, '
    "2023-11-16T22:13:30+01:00, or without a zone for local time); an interval ago (3D, 2W, 1M, 1Y, 1h30m; "
    "units s m h D W M Y); a date (2023-11-16, 2023/11/16, 11/16/2023)"
)


class TimeSpecError(ValueError):
    """A restore time string that duplicity would refuse."""


def parse_time(text: str, *, now: int, utc_offset: int | None = None) -> int:
    """Epoch seconds for duplicity time string `text`; `utc_offset` (s east of UTC) is for zoneless forms."""
    if text == "now":
        return now
    zone = _zone_designator(local_standard_offset() if utc_offset is None else utc_offset)
    try:
        if _INTEGER.search(text):
            return int(text)
        # `or` and `if t` as in duplicity: a time of exactly 0 counts as "did not parse".
        t = _string_to_time(text) or _string_to_time(text + zone)
        if t:
            return t
        interval = _interval_seconds(text)
        if interval is not None:
            return now - interval
        match = _DATE_YMD.search(text) or _DATE_MDY.search(text) or _DATE_COMPACT.search(text)
        if match:
            year, month, day = (int(match.group(name)) for name in ("year", "month", "day"))
            t = _string_to_time(f"{year}-{month:02}-{day:02}T00:00:00{zone}")
            if t:
                return t
    except ValueError as error:
        # int() refuses digit strings longer than sys.get_int_max_str_digits(); duplicity crashes there.
        raise TimeSpecError(f"bad time string {text!r} ({error}); {ACCEPTED_FORMS}") from error
    raise TimeSpecError(f"bad time string {text!r}; {ACCEPTED_FORMS}")


def parse_restore_time(text: str, *, now: int, utc_offset: int | None = None) -> int:
    """The time `duplicity restore -t text` restores to: parse_time, except that 0 means now."""
    return parse_time(text, now=now, utc_offset=utc_offset) or now


def time_argument(epoch: int) -> str:
    """A `-t` value duplicity reads back as exactly `epoch`: its file-name form when that parses, else digits.

    The file-name form (`20231114T221320Z`) is what users recognise, but duplicity accepts it only for
    years 1901-2099 and reads a result of 0 as "did not parse"; plain epoch seconds always work above 0.
    """
    if epoch <= 0:
        raise TimeSpecError(f"no -t restores to {epoch}: duplicity reads 0 as now and refuses negatives")
    text = format_time(epoch)
    return text if _string_to_time(text) == epoch else str(epoch)


def local_standard_offset() -> int:
    """This machine's standard-time (not DST) offset east of UTC, in seconds, as duplicity's `gettzd(0)`."""
    return -time.timezone


def _interval_seconds(text: str) -> int | None:
    # Mirrors intstringtoseconds: the whole string must be a run of <digits><unit> pairs.
    if len(text) < 2:
        return None
    total = 0
    rest = text
    while rest:
        match = _INTERVAL.match(rest)
        if not match:
            return None
        total += int(match.group(1)) * _INTERVAL_SECONDS[match.group(2)]
        rest = rest[match.end(0) :]
    return total


def _zone_designator(offset_seconds: int) -> str:
    # gettzd(0): `divmod` of a negative minute count, then abs(), as duplicity writes it.
    offset = offset_seconds // 60
    if offset == 0:
        return "Z"
    sign = "+" if offset > 0 else "-"
    hours, minutes = (abs(part) for part in divmod(offset, 60))
    return f"{sign}{hours:02}:{minutes:02}"


def _zone_seconds(tzd: str) -> int | None:
    # tzdtoseconds: how far UTC is ahead of the given zone; the minutes always add (the `-03:30` quirk).
    if tzd == "Z":
        return 0
    if len(tzd) != 6 or tzd[0] not in "+-" or tzd[3] != ":":
        return None
    return -60 * (60 * int(tzd[:3]) + int(tzd[4:]))


def _string_to_time(text: str) -> int | None:
    # stringtotime: 16 characters is the file-name form (UTC); anything else is W3 with a zone designator.
    try:
        date, daytime = text[:19].split("T")
        if len(text) == 16:
            year, month, day = int(date[0:4]), int(date[4:6]), int(date[6:8])
            hour, minute, second = int(daytime[0:2]), int(daytime[2:4]), int(daytime[4:6])
        else:
            year, month, day = map(int, date.split("-"))
            hour, minute, second = map(int, daytime.split(":"))
    except ValueError:
        return None
    if not (1900 < year < 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 61):
        return None
    # duplicity's mktime(local) - time.timezone with DST off is exactly timegm; out-of-range days roll over.
    utc = calendar.timegm((year, month, day, hour, minute, second, -1, -1, 0))
    if len(text) == 16:
        return utc
    try:
        zone = _zone_seconds(text[19:])
    except ValueError:
        return None
    return None if zone is None else utc + zone
