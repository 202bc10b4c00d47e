"""What the benchmark works on: plausible duplicity key names, and objects made from them in the emulator."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from glacierable.classify import is_glacierable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def duplicity_keys(count: int, prefix: str, seed: int = 7, *, latest_complete: bool = False) -> list[str]:
    """Keys of a plausible duplicity history: monthly fulls (many volumes), daily incrementals (a few).

    The first `count` keys; with `latest_complete`, the last `count`, so that the latest chain is whole
    (a restore "now" can be planned) and the oldest one is cut short instead.
    """
    rng = random.Random(seed)
    keys: list[str] = []
    moment = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    while len(keys) < count:
        full = _stamp(moment)
        keys += [f"{prefix}duplicity-full.{full}.vol{n}.difftar.gpg" for n in range(1, rng.randint(20, 40))]
        keys += [
            f"{prefix}duplicity-full.{full}.manifest.gpg",
            f"{prefix}duplicity-full-signatures.{full}.sigtar.gpg",
        ]
        previous = moment
        for _ in range(29):
            current = previous + timedelta(days=1)
            span = f"{_stamp(previous)}.to.{_stamp(current)}"
            keys += [f"{prefix}duplicity-inc.{span}.vol{n}.difftar.gpg" for n in range(1, rng.randint(2, 5))]
            keys += [
                f"{prefix}duplicity-inc.{span}.manifest.gpg",
                f"{prefix}duplicity-new-signatures.{span}.sigtar.gpg",
            ]
            previous = current
        moment = previous + timedelta(days=1)
    return keys[-count:] if latest_complete else keys[:count]


def volume_keys(count: int, prefix: str) -> list[str]:
    """`count` volume names of one long full backup: what a restore requests."""
    return [f"{prefix}duplicity-full.20240101T020000Z.vol{n}.difftar.gpg" for n in range(1, count + 1)]


def create_objects(
    client: S3Client, bucket: str, keys: list[str], *, archive_volumes: bool = False, threads: int = 16
) -> None:
    """PutObject each key (tiny bodies); with `archive_volumes`, volumes go straight to GLACIER."""

    def put(key: str) -> None:
        if archive_volumes and is_glacierable(key):
            client.put_object(Bucket=bucket, Key=key, Body=b"duplicity", StorageClass="GLACIER")
        else:
            client.put_object(Bucket=bucket, Key=key, Body=b"duplicity")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, keys))


def chain_keys(prefix: str, volumes: int) -> list[str]:
    """One full backup of `volumes` volumes with its manifest and signatures: a restore point of that size."""
    full = "20240101T020000Z"
    return [
        *volume_keys(volumes, prefix),
        f"{prefix}duplicity-full.{full}.manifest.gpg",
        f"{prefix}duplicity-full-signatures.{full}.sigtar.gpg",
    ]
