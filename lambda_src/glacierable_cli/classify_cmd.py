"""`glacierable classify`: show the decision the tagger would make for each key."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator

from glacierable.classify import classify
from glacierable.names import parse_name
from glacierable_cli.output import print_json
from glacierable_cli.render import Renderer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="show whether keys would be tagged glacierable=true",
        description="Show the tag decision for each KEY, from its duplicity file name alone (no S3 access).",
    )
    parser.add_argument(
        "keys", nargs="+", metavar="KEY", help='object key; "-" reads keys from stdin, one a line'
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--archive-unknown",
        action="store_true",
        help="archive keys that are no duplicity file (default: keep them in Standard)",
    )
    parser.set_defaults(func=run)


def _keys(arguments: Iterable[str]) -> Iterator[str]:
    for argument in arguments:
        if argument == "-":
            # Only the line ending is stripped: keys may start or end with spaces.
            yield from (line.rstrip("\r\n") for line in sys.stdin if line.rstrip("\r\n"))
        else:
            yield argument


def run(args: argparse.Namespace) -> int:
    keys = list(_keys(args.keys))
    decisions = [classify(key, archive_unknown=args.archive_unknown) for key in keys]
    if args.json:
        for decision in decisions:
            name = parse_name(decision.key)
            record = {
                "key": decision.key,
                "glacierable": decision.glacierable,
                "kind": decision.kind,
                "par2": name is not None and name.par2,
            }
            print_json("name", record)
        return 0
    rows = [(d.key, "true" if d.glacierable else "false", str(d.kind)) for d in decisions]
    Renderer().table(("KEY", "GLACIERABLE", "KIND"), rows)
    return 0
