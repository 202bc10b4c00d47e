"""`python -m bench.measured_command OUT -- ARGS`: the `glacierable` command, then its own peak memory.

Runs the CLI in this process exactly as `python -m glacierable_cli ARGS` does, then writes its exit code, CPU
seconds and peak resident set (VmHWM) as JSON to OUT. VmHWM, not the rusage a parent reads: Linux carries
ru_maxrss over from the parent across fork and exec, so a child of a big process would report the parent's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    out, separator, *args = argv
    if separator != "--":
        raise SystemExit("usage: python -m bench.measured_command OUT -- ARGS")
    from glacierable_cli.main import main as cli  # imported here: its import time is part of the command

    try:
        code = cli(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    Path(out).write_text(
        json.dumps({"exit": code, "cpu_seconds": time.process_time(), "peak_rss_mb": peak_rss_mb()})
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
