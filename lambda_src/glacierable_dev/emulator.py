"""A real moto S3 server in its own process on 127.0.0.1: the demo's embedded S3, used by tests and bench."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


LISTENING = "listening on "
"""The line a server process prints once bound, followed by its URL."""


def read_listening_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The URL a child server prints once it holds its port; RuntimeError if it dies or stays silent."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"server did not start within {timeout:g} s")
    line = process.stdout.readline().decode(errors="replace")
    if not line.startswith(LISTENING):
        process.wait(timeout=10)
        raise RuntimeError(f"server exited with {process.returncode} before listening (said {line!r})")
    return line.removeprefix(LISTENING).strip()


@dataclass
class MotoServer:
    """A moto server subprocess (see emulator_server); `url` is its endpoint.

    `port` 0 (the default) lets the server bind any free port and tell it: picking a port here and
    binding it there would race with every other process that binds one in between.
    """

    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        env = {**os.environ, **FAKE_CREDENTIALS}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glacierable_dev.emulator_server", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            self.port = int(read_listening_line(self.process, timeout).rpartition(":")[2])
        except RuntimeError:
            self.stop()
            raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _post(self, path: str, body: dict[str, object] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset API)."""
        self._post("/moto-api/reset")

    def keep_restores_ongoing(self, reads: int) -> None:
        """Make each new restore report 'ongoing' for `reads` reads before completing."""
        self._post(
            "/moto-api/state-manager/set-transition",
            {"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": reads}},
        )

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
