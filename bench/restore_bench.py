"""Restore requests: a serial RestoreObject loop (one object at a time, like rclone) vs the local fan-out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glacierable.pricing import Tier
from glacierable.restore import RestoreReport, request_restores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DAYS = 7


@dataclass
class RestoreRun:
    """How many keys got an outcome, in how long, and whether the loop stopped at its time budget."""

    keys: int
    seconds: float
    capped: bool = False
    requested: int = 0
    failed: int = 0

    @property
    def per_second(self) -> float:
        return self.keys / self.seconds if self.seconds > 0 else 0.0


def serial_restores(
    client: S3Client, bucket: str, keys: list[str], *, time_budget: float | None = None
) -> RestoreRun:
    """RestoreObject for each key in turn; with `time_budget` (seconds) the loop may stop early."""
    started = time.monotonic()
    done = 0
    for key in keys:
        if time_budget is not None and time.monotonic() - started >= time_budget:
            return RestoreRun(done, time.monotonic() - started, capped=True, requested=done)
        client.restore_object(
            Bucket=bucket,
            Key=key,
            RestoreRequest={"Days": DAYS, "GlacierJobParameters": {"Tier": Tier.STANDARD.value}},
        )
        done += 1
    return RestoreRun(done, time.monotonic() - started, requested=done)


def fan_out(
    client: S3Client, bucket: str, keys: list[str], *, concurrency: int
) -> tuple[RestoreRun, RestoreReport]:
    """glacierable.restore.request_restores over every key, as the CLI's local mode runs it."""
    started = time.monotonic()
    report = request_restores(client, bucket, keys, tier=Tier.STANDARD, days=DAYS, concurrency=concurrency)
    elapsed = time.monotonic() - started
    run = RestoreRun(report.total, elapsed, requested=len(report.requested), failed=len(report.failed))
    return run, report
