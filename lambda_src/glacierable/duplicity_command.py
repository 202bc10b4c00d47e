"""The `duplicity restore` command line for a planned restore, ready to paste (pure code).

The CLI prints it when everything is readable; the demo runs it; a restore notification can carry it.
"""

from __future__ import annotations

import shlex

from glacierable.names import DuplicityPrefixes, format_time
from glacierable.prefixes import duplicity_url
from glacierable.timespec import time_argument

TARGET_PREFIX = "duplicity-restore-"
"""The command restores into ./duplicity-restore-<time> unless a target is given."""


def duplicity_command(
    bucket: str,
    folder: str,
    restore_time: int,
    prefixes: DuplicityPrefixes,
    endpoint_url: str | None,
    *,
    par2: bool = False,
    target: str | None = None,
) -> str:
    """The `duplicity restore` command line that reads exactly the planned objects.

    `par2` backups need the `par2+` URL (duplicity reads `.par2` files as volumes without it); the time
    is one duplicity reads back exactly; the target defaults to a new folder named for the time.
    """
    parts = ["duplicity", "restore", "-t", time_argument(restore_time), *prefixes.options()]
    if endpoint_url:
        parts += ["--s3-endpoint-url", endpoint_url]
    parts += [
        duplicity_url(bucket, folder, par2=par2),
        target or f"{TARGET_PREFIX}{format_time(restore_time)}",
    ]
    return shlex.join(parts)
