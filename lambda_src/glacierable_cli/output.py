"""Machine-readable output: every `--json` command prints JSON Lines, and only JSON Lines, on stdout.

The convention (README, "Machine-readable output"): each line of stdout is one complete JSON object,
compact and UTF-8; a command with one result prints one line, `classify` one line per name, `restore
--wait` its summary line and then a `ready` line. Every object names its kind in `record`. Counts end in
`_count`, lists have plural names, times are epoch seconds (`*_time`) beside their duplicity form
(`*_time_text`). Progress, warnings and errors go to stderr, so `--json | jq` always parses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO


def print_json(record: str, document: Mapping[str, object], *, stream: TextIO | None = None) -> None:
    """Print `document` as one JSON Lines record of kind `record` (its `record` field comes first)."""
    line = json.dumps({"record": record, **document}, ensure_ascii=False, separators=(",", ":"), default=str)
    print(line, file=sys.stdout if stream is None else stream, flush=True)


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})
_CONTROL[ord("\\")] = "\\\\"


def printable(text: str) -> str:
    """`text` for a terminal: control characters escaped (`\\n`, `\\x1b`), so a key cannot move the cursor,
    hide itself, or forge a line of output; backslashes doubled, so the escaping is unambiguous."""
    return text.translate(_CONTROL)
