"""Peak memory of planning a restore over a folder of 100,000 objects, measured in a fresh process.

`python -m bench.plan_memory --objects N --measure rss|tracemalloc` prints one JSON line. The listing is
served in-process by a botocore `before-call` hook, page by page as S3 would (1,000 entries, fresh strings,
a datetime each), to a client whose endpoint is AWS's: so `load_plan` runs exactly its AWS path (one
listing, no HEADs) without a network. `rss` is the growth of the process's peak resident set; `tracemalloc`
the peak of Python allocations while planning (slower, and without the allocator's own overhead).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from bench.workload import duplicity_keys
from glacierable.clients import s3_client
from glacierable.object_status import listing_reports_restores, load_plan
from glacierable_dev.emulator import FAKE_CREDENTIALS

BUCKET = "bench-backups"
FOLDER = "host1/"
PAGE = 1000
RESTORE_TIME = 4_102_444_000  # after the last backup of any history the workload generates
MODIFIED = datetime(2024, 1, 1, tzinfo=UTC)


class FakeListing:
    """ListObjectsV2 answered from a key list, one page at a time (nothing else of S3 exists)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.pages = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        self.pages += 1
        start = int(params["query_string"].get("continuation-token") or 0)
        chunk = self.keys[start : start + PAGE]
        contents = [
            {
                "Key": key.encode().decode(),  # a new string, as parsing the XML makes one
                "LastModified": MODIFIED,
                "ETag": '"d41d8cd98f00b204e9800998ecf8427e"',
                # The workload's volumes are its only `.difftar` keys: archived, as the tagger would have it.
                "Size": 26_214_400 if ".difftar" in key else 4096,
                "StorageClass": "GLACIER" if ".difftar" in key else "STANDARD",
            }
            for key in chunk
        ]
        page: dict[str, Any] = {
            "IsTruncated": start + PAGE < len(self.keys),
            "Contents": contents,
            "Name": BUCKET,
            "Prefix": FOLDER,
            "KeyCount": len(contents),
            "MaxKeys": PAGE,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        if page["IsTruncated"]:
            page["NextContinuationToken"] = str(start + PAGE)
        return AWSResponse(f"https://s3.amazonaws.com/{BUCKET}", 200, HTTPHeaders(), None), page


def _max_rss_mb() -> float:
    """This process's peak resident set so far, in MiB."""
    # VmHWM belongs to this process's own memory map. ru_maxrss does not: Linux carries it over from the
    # parent across fork and exec, so a child of a big process would report the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux and the BSDs


def measure(objects: int, how: str) -> dict[str, Any]:
    """Plan a restore over `objects` listed objects; the memory it took, measured `how`."""
    os.environ.update(FAKE_CREDENTIALS)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    client = s3_client()
    assert listing_reports_restores(client, []), "the client must look like AWS's, so the listing is trusted"
    listing = FakeListing(duplicity_keys(objects, FOLDER, latest_complete=True))
    # A before-call handler that returns (http, parsed) answers the call (how botocore's Stubber works);
    # the type stubs only know handlers that return None.
    client.meta.events.register("before-call.s3.ListObjectsV2", listing)  # type: ignore[arg-type]
    gc.collect()
    baseline = _max_rss_mb()
    if how == "tracemalloc":
        tracemalloc.start()
    started = time.monotonic()
    plan = load_plan(client, BUCKET, FOLDER, RESTORE_TIME)
    elapsed = time.monotonic() - started
    result: dict[str, Any] = {
        "objects": objects,
        "pages": listing.pages,
        "planned_objects": len(plan.needed),
        "to_restore": len(plan.to_restore),
        "seconds": round(elapsed, 2),
        "measure": how,
    }
    if how == "tracemalloc":
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    else:
        peak = _max_rss_mb()
        result["rss_before_mb"] = round(baseline, 1)
        result["rss_peak_mb"] = round(peak, 1)
        result["rss_growth_mb"] = round(peak - baseline, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--measure", choices=("rss", "tracemalloc"), default="rss")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.objects, args.measure)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
