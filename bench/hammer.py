"""`python -m bench.hammer --endpoint URL --bucket B --prefix P`: GetObjectTagging as fast as it goes.

One process of several started at once to find a server's (or the proxy's) ceiling: a single Python client
tops out at about one core, so one process alone would measure the client. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.meters import measure_ceiling
from glacierable.clients import s3_client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    client = s3_client(endpoint_url=args.endpoint, max_pool_connections=args.threads)
    listing = client.list_objects_v2(Bucket=args.bucket, Prefix=args.prefix, MaxKeys=1000)
    keys = [obj["Key"] for obj in listing.get("Contents", [])]
    ceiling = measure_ceiling(client, args.bucket, keys, args.threads, args.seconds)
    print(json.dumps({"requests": ceiling.requests, "seconds": ceiling.seconds, "threads": ceiling.threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
