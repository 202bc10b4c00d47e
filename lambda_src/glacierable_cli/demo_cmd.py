"""`glacierable demo`: the whole story on an embedded S3 (a local moto server) with the real duplicity."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from glacierable_cli.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo`."""
    demo = subparsers.add_parser(
        "demo",
        help="back up, tag, archive and restore on an embedded S3, with the real duplicity",
        description=(
            "Run the whole story locally: real duplicity backups to an embedded S3 (a moto server on "
            "127.0.0.1), the tagger Lambda on each event, the lifecycle transition, a restore fan-out, "
            "and a duplicity restore verified file by file. Needs the dev install (make install)."
        ),
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="leave the endpoint running afterwards (with aws s3api commands to explore it) until Ctrl-C",
    )
    demo.add_argument("--files", type=int, default=12, help="files in the generated folder (default: 12)")
    demo.add_argument("--volsize", type=int, default=1, help="duplicity's --volsize in MB (default: 1)")
    demo.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="an empty or new folder for the source, caches and restores, kept afterwards "
        "(default: a temporary folder, removed at the end)",
    )
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the story; 0 only if every restore equals its source."""
    try:
        # moto and duplicity are dev dependencies: the Lambda package never imports them.
        from glacierable_dev.emulator import FAKE_CREDENTIALS, MotoServer
        from glacierable_dev.story import StoryOptions, run_story
    except ImportError as error:  # pragma: no cover  (only without the dev install)
        print(f"glacierable demo: error: {error}; run `make install` first", file=sys.stderr)
        return 1
    try:
        options = StoryOptions(files=args.files, volsize=args.volsize, workdir=args.workdir)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        raise UsageError(f"--workdir {args.workdir} is not empty")
    server = MotoServer()
    # Only the main thread may set signal handlers (the CLI may be driven from elsewhere, as in tests).
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if on_main_thread else None
    try:
        result = run_story(options, server=server)
        if args.keep:
            _keep_running(result.endpoint_url, result.bucket, result.folder, FAKE_CREDENTIALS)
        return result.exit_code
    finally:
        server.stop()
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn `kill` into an exception, so the moto server and the temporary folder are cleaned up.
    raise SystemExit(128 + signum)


def _keep_running(endpoint_url: str, bucket: str, folder: str, credentials: dict[str, str]) -> None:
    prefix = shlex.quote(folder)
    env = " ".join(f"{name}={value}" for name, value in credentials.items() if name != "AWS_SESSION_TOKEN")
    print(
        f"\nThe embedded S3 keeps running at {endpoint_url} until Ctrl-C. In another shell:\n"
        f"  export {env}\n"
        f"  aws s3api list-objects-v2 --endpoint-url {endpoint_url} --bucket {bucket} --prefix {folder} "
        "--query 'Contents[].[Key,StorageClass,Size]' --output table\n"
        f"  aws s3api get-object-tagging --endpoint-url {endpoint_url} --bucket {bucket} --key KEY\n"
        f"  aws s3api head-object --endpoint-url {endpoint_url} --bucket {bucket} --key KEY\n"
        f"  aws s3api get-bucket-lifecycle-configuration --endpoint-url {endpoint_url} --bucket {bucket}\n"
        f"  glacierable status --endpoint-url {endpoint_url} --bucket {bucket} --prefix {prefix}\n"
        "(the demo's temporary folder is already removed; the objects live in the emulator's memory)",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the embedded S3", flush=True)
