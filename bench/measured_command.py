"""`python -m bench.measured_command OUT -- ARGS`: the `glacierable` command, then its own peak memory.

Runs the CLI in this process exactly as `python -m glacierable_cli ARGS` does, then writes its exit code, CPU
seconds, HTTP requests sent (retries included, counted where botocore hands them to urllib3) and peak
resident set (VmHWM) as JSON to OUT. VmHWM, not the rusage a parent reads: Linux carries
ru_maxrss over from the parent across fork and exec, so a child of a big process would report the parent's.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

from botocore.httpsession import URLLib3Session

_sent = itertools.count()


def _count_requests() -> None:
    send = URLLib3Session.send

    def counted(self: URLLib3Session, request: Any) -> Any:
        next(_sent)  # itertools.count is atomic under the GIL: no lock for the fan-out's threads
        return send(self, request)

    URLLib3Session.send = counted  # type: ignore[method-assign]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    out, separator, *args = argv
    if separator != "--":
        raise SystemExit("usage: python -m bench.measured_command OUT -- ARGS")
    _count_requests()
    from glacierable_cli.main import main as cli  # imported here: its import time is part of the command

    try:
        code = cli(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    Path(out).write_text(
        json.dumps(
            {
                "exit": code,
                "cpu_seconds": time.process_time(),
                "peak_rss_mb": peak_rss_mb(),
                "requests": next(_sent),
            }
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
