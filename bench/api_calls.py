"""API calls per object: the real tagger handler over S3 events, and restore planning (list, then HEADs)."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from bench.meters import RequestCounter
from glacierable.object_status import load_plan
from glacierable_dev.lambdas import FakeLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """One ObjectCreated:Put notification as S3 sends it to Lambda (one record, key URL-encoded)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 9, "sequencer": "0055AED6DCD90281E5"},
        },
    }
    return {"Records": [record]}


def _calls(counter: RequestCounter, before: tuple[int, Counter[str]], objects: int) -> dict[str, Any]:
    sent, operations = counter.snapshot()
    delta = operations - before[1]
    return {
        "objects": objects,
        "calls": sum(delta.values()),
        "requests": sent - before[0],
        "calls_per_object": round(sum(delta.values()) / objects, 3),
        "by_operation": dict(sorted(delta.items())),
    }


def tagger_calls(client: S3Client, bucket: str, keys: list[str]) -> dict[str, Any]:
    """The real tagger handler over one event per key, twice: first delivery, then redelivery."""
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "glacierable-tagger")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Glacierable")
    os.environ["ARCHIVE_UNKNOWN"] = "false"
    tagger: Any = importlib.import_module("glacierable.handlers.tagger")
    tagger.logger.registered_handler.stream = io.StringIO()  # one log line per object: not for the console
    counter = RequestCounter(client)
    results: dict[str, Any] = {}
    with tagger.s3.use(client):
        for delivery in ("first_delivery", "redelivery"):
            before = counter.snapshot()
            with contextlib.redirect_stdout(io.StringIO()):  # the metrics (EMF) blobs
                for key in keys:
                    tagger.handler(s3_event(bucket, key), FakeLambdaContext())
            results[delivery] = _calls(counter, before, len(keys))
    return results


def planning_calls(client: S3Client, bucket: str, folder: str, restore_time: int) -> dict[str, Any]:
    """load_plan as run against this emulator (listing, then HEADs) and as on AWS (the listing is trusted)."""
    counter = RequestCounter(client)
    results: dict[str, Any] = {}
    for mode, trust_listing in (("emulator", None), ("aws", True)):
        before = counter.snapshot()
        plan = load_plan(client, bucket, folder, restore_time, trust_listing=trust_listing)
        needed = len(plan.needed)
        calls = _calls(counter, before, needed)
        operations = calls["by_operation"]
        results[mode] = {
            **calls,
            "planned_objects": needed,
            "list_calls": operations.get("ListObjectsV2", 0),
            "head_calls": operations.get("HeadObject", 0),
            "list_calls_per_planned_object": round(operations.get("ListObjectsV2", 0) / needed, 4),
            "heads_per_planned_object": round(operations.get("HeadObject", 0) / needed, 3),
        }
    return results
