"""The original article's tagging script (../shared/seed/), reduced to its loop: the benchmark's baseline.

Kept faithful where it costs time or changes results: one object at a time, a GetObjectTagging per
object, then a PutObjectTagging that replaces the whole tag set, and the substring test on the key
('manifest' or 'signatures' anywhere means hot). Only the local cache file is gone: on a first run
it is empty, so it saves nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import TagTypeDef

GLACIERABLE: TagTypeDef = {"Key": "glacierable", "Value": "true"}
NON_GLACIERABLE: TagTypeDef = {"Key": "glacierable", "Value": "false"}


@dataclass
class SerialResult:
    """The original script's counters, plus the wall time."""

    total: int = 0
    previously_tagged: int = 0
    glacierable: int = 0
    non_glacierable: int = 0
    elapsed: float = 0.0

    @property
    def objects_per_second(self) -> float:
        return self.total / self.elapsed if self.elapsed > 0 else 0.0


def serial_tag(
    client: S3Client, bucket: str, prefix: str = "", *, time_budget: float | None = None
) -> SerialResult:
    """Tag every object under `prefix` the way the original script did, one request after another.

    With `time_budget` (seconds) the loop stops early; each object costs the same, so the rate holds.
    """
    result = SerialResult()
    started = time.monotonic()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if time_budget is not None and time.monotonic() - started >= time_budget:
                result.elapsed = time.monotonic() - started
                return result
            key = obj["Key"]
            result.total += 1
            tag_set = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            if GLACIERABLE in tag_set or NON_GLACIERABLE in tag_set:
                result.previously_tagged += 1
                continue
            if "manifest" in key or "signatures" in key:
                tag = NON_GLACIERABLE
                result.non_glacierable += 1
            else:
                tag = GLACIERABLE
                result.glacierable += 1
            client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [tag]})
    result.elapsed = time.monotonic() - started
    return result
