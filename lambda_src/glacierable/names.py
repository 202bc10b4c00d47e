"""Parse duplicity's file names by its own grammar (duplicity 3.x `file_naming.py`), with any prefix.

Only the basename counts: a folder called `manifests/` or `duplicity-full.x/` never changes the result.
Unlike duplicity, which knows its `--file-prefix*` options, we accept any text before the duplicity part.
Times are epoch seconds (UTC). Parsing is total: any string gives a `DuplicityName` or None.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """What a duplicity file holds."""

    VOLUME = "volume"
    MANIFEST = "manifest"
    SIGNATURE = "signature"
    JSONSTAT = "jsonstat"


@dataclass(frozen=True, slots=True)
class DuplicityName:
    """The fields of one duplicity file name (or of the file a par2 file protects)."""

    prefix: str
    kind: Kind
    full: bool
    start_time: int | None
    end_time: int
    volume: int | None
    encrypted: bool
    compressed: bool
    partial: bool
    par2: bool
    protected: str
    short: bool


# Times as duplicity writes them ("20231114T221320Z"), the W3 datetimes of duplicity < 0.5
# ("2002-04-26T04:22:01-07:00", with `--time-separator` "." allowed) and bare epoch seconds, which
# duplicity's `genstrtotime` also reads. Relative forms ("3D") are rejected: they depend on "now".
_LONG_TIME = (
    r"[0-9]{8}[Tt][0-9]{6}[Zz]"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}[:.][0-9]{2}[:.][0-9]{2}(?:[Zz]|[+-][0-9]{2}[:.][0-9]{2})?"
    r"|[0-9]{1,12}"
)
_SHORT_TIME = r"[0-9a-z]{1,13}"  # base 36, lower case as duplicity writes it
_MAX_VOLUME_DIGITS = 12
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z

_COMPACT_TIME_RE: Final = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})[Tt]([0-9]{2})([0-9]{2})([0-9]{2})[Zz]")
_W3_TIME_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2})[:.]([0-9]{2})[:.]([0-9]{2})"
    r"(?:[Zz]|(?P<sign>[+-])(?P<tzh>[0-9]{2})[:.](?P<tzm>[0-9]{2}))?"
)
_EPOCH_RE: Final = re.compile(r"[0-9]{1,12}")

# The last extension tells which grammar rules can apply, so a name is tried against one or two regexes.
_TAIL_RE: Final = re.compile(
    r"\.(?P<ext>difftar|manifest|sigtar|jsonstat|dt|m|st|jst)(?:\.part|\.p)?(?:\.gpg|\.p7m|\.gz|\.z|\.g)?\Z"
)
_PAR2_RE: Final = re.compile(r"(?s)(?P<protected>.+?)(?:\.vol[0-9+]*)?\.par2\Z")

_LONG_TAIL = r"(?P<partial>\.part)?(?P<suffix>\.gpg|\.p7m|\.gz|\.z|\.g)?"
_SHORT_TAIL = r"(?P<partial>\.p)?(?P<suffix>\.gpg|\.p7m|\.gz|\.z|\.g)?"


@dataclass(frozen=True, slots=True)
class _Rule:
    regex: re.Pattern[str]
    kind: Kind
    short: bool


def _rule(body: str, tail: str, kind: Kind, *, short: bool) -> _Rule:
    time_re = _SHORT_TIME if short else _LONG_TIME
    pattern = "(?s)(?P<prefix>.*?)" + body.replace("{T}", f"(?:{time_re})") + tail
    return _Rule(re.compile(pattern), kind, short)


def _long(body: str, kind: Kind) -> _Rule:
    return _rule(body, _LONG_TAIL, kind, short=False)


def _short(body: str, kind: Kind) -> _Rule:
    return _rule(body, _SHORT_TAIL, kind, short=True)


# Same order as duplicity's `parse`: full, inc, signatures, stats; short form before long within each.
# Groups: `type` tells full from incremental, `t1` is the full time or inc start, `t2` the inc end.
_RULES_BY_EXT: Final[dict[str, tuple[_Rule, ...]]] = {
    "difftar": (
        _long(r"duplicity-(?P<type>full)\.(?P<t1>{T})\.vol(?P<num>[0-9]+)\.difftar", Kind.VOLUME),
        _long(
            r"duplicity-(?P<type>inc)\.(?P<t1>{T})\.to\.(?P<t2>{T})\.vol(?P<num>[0-9]+)\.difftar", Kind.VOLUME
        ),
    ),
    "dt": (
        _short(r"d(?P<type>f)\.(?P<t1>{T})\.(?P<num>[0-9a-z]+)\.dt", Kind.VOLUME),
        _short(r"d(?P<type>i)\.(?P<t1>{T})\.(?P<t2>{T})\.(?P<num>[0-9a-z]+)\.dt", Kind.VOLUME),
    ),
    "manifest": (
        _long(r"duplicity-(?P<type>full)\.(?P<t1>{T})\.manifest", Kind.MANIFEST),
        _long(r"duplicity-(?P<type>inc)\.(?P<t1>{T})\.to\.(?P<t2>{T})\.manifest", Kind.MANIFEST),
    ),
    "m": (
        _short(r"d(?P<type>f)\.(?P<t1>{T})\.m", Kind.MANIFEST),
        _short(r"d(?P<type>i)\.(?P<t1>{T})\.(?P<t2>{T})\.m", Kind.MANIFEST),
    ),
    "sigtar": (
        _long(r"duplicity-(?P<type>full)-signatures\.(?P<t1>{T})\.sigtar", Kind.SIGNATURE),
        _long(r"duplicity-(?P<type>new)-signatures\.(?P<t1>{T})\.to\.(?P<t2>{T})\.sigtar", Kind.SIGNATURE),
    ),
    "st": (
        _short(r"d(?P<type>f)s\.(?P<t1>{T})\.st", Kind.SIGNATURE),
        _short(r"d(?P<type>n)s\.(?P<t1>{T})\.(?P<t2>{T})\.st", Kind.SIGNATURE),
    ),
    "jsonstat": (
        _long(r"duplicity-(?P<type>full)\.(?P<t1>{T})\.jsonstat", Kind.JSONSTAT),
        _long(r"duplicity-(?P<type>inc)\.(?P<t1>{T})\.to\.(?P<t2>{T})\.jsonstat", Kind.JSONSTAT),
    ),
    "jst": (
        _short(r"(?P<type>df)st\.(?P<t1>{T})\.jst", Kind.JSONSTAT),
        _short(r"(?P<type>di)st\.(?P<t1>{T})\.to\.(?P<t2>{T})\.jst", Kind.JSONSTAT),
    ),
}
_FULL_TYPES: Final = frozenset({"full", "f", "df"})
_ENCRYPTED_SUFFIXES: Final = frozenset({".gpg", ".p7m", ".g"})
_COMPRESSED_SUFFIXES: Final = frozenset({".gz", ".z"})


def format_time(epoch: int) -> str:
    """Epoch seconds as duplicity writes them in names and accepts for `-t`: "20231114T221320Z"."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _fields_to_epoch(fields: tuple[str, ...]) -> int | None:
    year, month, day, hour, minute, second = (int(field) for field in fields)
    # The same bounds as duplicity's `dup_time.stringtotime`.
    if not (1900 < year < 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 61):
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def parse_time_string(text: str) -> int | None:
    """A duplicity file-name time as epoch seconds, or None (W3 times without a zone are taken as UTC)."""
    compact = _COMPACT_TIME_RE.fullmatch(text)
    if compact:
        return _fields_to_epoch(compact.groups())
    w3 = _W3_TIME_RE.fullmatch(text)
    if w3:
        epoch = _fields_to_epoch(w3.groups()[:6])
        if epoch is None or w3.group("sign") is None:
            return epoch
        offset = 3600 * int(w3.group("tzh")) + 60 * int(w3.group("tzm"))
        return epoch - offset if w3.group("sign") == "+" else epoch + offset
    if _EPOCH_RE.fullmatch(text):
        return int(text)
    return None


def _parse_time(text: str, *, short: bool) -> int | None:
    epoch = int(text, 36) if short else parse_time_string(text)
    # Past year 9999 no time formatting works; such a name is garbage, not a backup.
    return epoch if epoch is not None and epoch <= _MAX_EPOCH else None


def _parse_base(base: str, *, par2: bool, protected: str) -> DuplicityName | None:
    tail = _TAIL_RE.search(base)
    if tail is None:
        return None
    for rule in _RULES_BY_EXT[tail.group("ext")]:
        match = rule.regex.fullmatch(base)
        if match is None:
            continue
        groups = match.groupdict()
        t1 = _parse_time(match.group("t1"), short=rule.short)
        t2 = _parse_time(groups["t2"], short=rule.short) if groups.get("t2") is not None else None
        full = match.group("type") in _FULL_TYPES
        # duplicity treats a zero time as "no time" and drops the name.
        if not t1 or (not full and not t2):
            continue
        volume: int | None = None
        if rule.kind is Kind.VOLUME:
            digits = match.group("num")
            if len(digits) > _MAX_VOLUME_DIGITS:
                continue
            volume = int(digits, 36 if rule.short else 10)
            if volume == 0:  # duplicity numbers volumes from 1
                continue
        suffix = match.group("suffix")
        return DuplicityName(
            prefix=match.group("prefix"),
            kind=rule.kind,
            full=full,
            start_time=None if full else t1,
            end_time=t1 if full or t2 is None else t2,
            volume=volume,
            encrypted=suffix in _ENCRYPTED_SUFFIXES,
            compressed=suffix in _COMPRESSED_SUFFIXES,
            # Like duplicity, which ignores the marker on volumes (it never uploads partial ones).
            partial=rule.kind is not Kind.VOLUME and match.group("partial") is not None,
            par2=par2,
            protected=protected,
            short=rule.short,
        )
    return None


def parse_name(key: str) -> DuplicityName | None:
    """Parse the basename of `key` (the text after its last '/'); None if it is no duplicity file."""
    base = key.rpartition("/")[2]
    if not base:
        return None
    par2 = _PAR2_RE.fullmatch(base) if base.endswith(".par2") else None
    if par2 is not None:
        protected = par2.group("protected")
        return _parse_base(protected, par2=True, protected=protected)
    return _parse_base(base, par2=False, protected=base)


@dataclass(frozen=True, slots=True)
class DuplicityPrefixes:
    """duplicity's `--file-prefix`, `--file-prefix-archive`, `-manifest`, `-signature`, `-jsonstat`."""

    file_prefix: str = ""
    archive: str = ""
    manifest: str = ""
    signature: str = ""
    jsonstat: str = ""

    def by_kind(self) -> dict[Kind, str]:
        """The whole prefix duplicity puts before a name of each kind."""
        return {
            Kind.VOLUME: self.file_prefix + self.archive,
            Kind.MANIFEST: self.file_prefix + self.manifest,
            Kind.SIGNATURE: self.file_prefix + self.signature,
            Kind.JSONSTAT: self.file_prefix + self.jsonstat,
        }

    def options(self) -> list[str]:
        """The duplicity command-line options that select these prefixes (empty ones left out)."""
        pairs = (
            ("--file-prefix", self.file_prefix),
            ("--file-prefix-archive", self.archive),
            ("--file-prefix-manifest", self.manifest),
            ("--file-prefix-signature", self.signature),
            ("--file-prefix-jsonstat", self.jsonstat),
        )
        return [part for option, value in pairs if value for part in (option, value)]
