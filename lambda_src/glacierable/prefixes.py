"""Key prefixes and backup folders, read the way duplicity reads its S3 URL (pure, no I/O).

duplicity's boto3 backend (`duplicity/backends/s3_boto3_backend.py`, 3.x) splits the URL path on '/', drops
the empty parts and writes under the rest joined by '/', plus one '/': `boto3+s3://b/a/b`, `boto3+s3://b//a//b/`
and `boto3+s3://b/a/b//` all write `a/b/duplicity-…`. No key it writes starts with '/' or holds '//', so a
prefix spelled that way could only match nothing; every command reads `--prefix` (and the stack its
`prefix`) with this one rule instead.
"""

from __future__ import annotations

MAX_PREFIX_LENGTH = 1024
"""An S3 key is at most 1,024 bytes, so a longer prefix could never match."""


class PrefixError(ValueError):
    """A prefix that is no string, or longer than any key. The message omits the setting's name."""


def key_prefix(value: object) -> str:
    """`value` as a key prefix: empty path parts dropped as duplicity drops them, a final '/' kept.

    `/host1` and `host1` give `host1`, `hosts//a/` gives `hosts/a/`, `/` gives `` (the whole bucket). Without
    a final '/', the prefix also matches longer names (`host1` matches `host10/…` and `host1_…`).
    """
    if not isinstance(value, str):
        raise PrefixError(f"must be a string, got {value!r}")
    parts = [part for part in value.split("/") if part]
    prefix = "/".join(parts)
    if prefix and value.endswith("/"):
        prefix += "/"
    if len(prefix.encode()) > MAX_PREFIX_LENGTH:
        raise PrefixError(f"must be at most {MAX_PREFIX_LENGTH} bytes (the S3 key limit)")
    return prefix


def folder(value: object) -> str:
    """`value` as the folder duplicity's S3 backend reads and writes: empty, or ending in one '/'."""
    prefix = key_prefix(value)
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def duplicity_url(bucket: str, prefix: str, *, par2: bool = False) -> str:
    """The duplicity target URL whose files live under `prefix` (taken as a folder) in `bucket`.

    `par2` gives the `par2+` URL a backup with par2 files needs: without it duplicity reads each
    `….difftar.gpg.par2` as a second volume of the same number and stops.
    """
    path = folder(prefix).rstrip("/")
    url = f"boto3+s3://{bucket}/{path}" if path else f"boto3+s3://{bucket}"
    return f"par2+{url}" if par2 else url
