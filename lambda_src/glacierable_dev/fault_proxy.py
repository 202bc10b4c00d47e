"""An HTTP/1.1 reverse proxy on 127.0.0.1 that delays, and on request fails, S3 requests to a local emulator.

It makes a local S3 emulator look remote (added latency, for the benchmark) and unreliable (for the fault
tests): a fraction of requests answered 503 SlowDown or 500 InternalError with S3's XML error body, a
fraction whose connection is closed without a response, either before the request is forwarded or after
the emulator acted on it. Each request's fate is drawn from `random.Random` seeded with the seed and the
request itself (method, target, and how many times that same request was seen), so a run's faults do not
depend on thread scheduling. Every request is logged with its S3 operation and fate, for counters.

Clients keep their connection to the proxy alive (as they do with S3); the proxy opens one upstream
connection per request, because moto's server closes every connection after one response anyway.
Bodies are streamed through unchanged, framed by Content-Length or chunked encoding.

Run standalone: `python -m glacierable_dev.fault_proxy --upstream http://127.0.0.1:5000 --latency-ms 50`
(add `--slowdown 0.1 --internal-error 0.02 --drop 0.01 --seed 7` for faults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from glacierable_dev.http1 import (
    HEAD_LIMIT,
    Message,
    ProtocolError,
    body_framing,
    copy_body,
    drain_body,
    read_head,
    send_error,
    split_request_line,
    status_of,
    wants_keep_alive,
)
from glacierable_dev.s3_operations import s3_operation

GATHER_TIMEOUT = 60.0
"""Seconds a request waits at a rendezvous that never fills (a test then fails on what it sees)."""


@dataclass
class ProxySettings:
    """How the proxy misbehaves; mutable (or replaceable), so a running proxy can be retuned at any time.

    The fault fractions are of requests (retries included) and must sum to at most 1.
    """

    latency: float = 0.05  # seconds added before each request is forwarded (or failed)
    slowdown: float = 0.0  # answered 503 SlowDown, not forwarded
    internal_error: float = 0.0  # answered 500 InternalError, not forwarded
    drop: float = 0.0  # connection closed once the request is read, not forwarded
    drop_response: float = 0.0  # forwarded (the emulator acts on it), then closed without the response
    seed: int = 0
    operations: frozenset[str] | None = None  # faults only for these S3 operations; None: for every request
    gather: int = 0
    """Hold requests of `gather_operation` until this many have arrived, then release them together.

    Concurrency tests need requests to overlap; a delay only makes that likely on a busy machine, a
    rendezvous makes it certain. A rendezvous never met releases its requests after GATHER_TIMEOUT.
    """
    gather_operation: str | None = None

    def __post_init__(self) -> None:
        fractions = (self.slowdown, self.internal_error, self.drop, self.drop_response)
        if any(not 0.0 <= f <= 1.0 for f in fractions) or sum(fractions) > 1.0:
            raise ValueError(f"fault fractions must be within 0..1 and sum to at most 1, got {fractions}")
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, got {self.latency}")
        if self.gather < 0 or (self.gather and self.gather_operation is None):
            raise ValueError("gather must be a positive count and needs gather_operation")


class Fate(StrEnum):
    """What the proxy did with one request."""

    FORWARDED = "forwarded"
    SLOWDOWN = "slowdown"
    INTERNAL_ERROR = "internal_error"
    DROPPED = "dropped"
    """Connection closed after reading the request; the emulator never saw it."""
    DROPPED_RESPONSE = "dropped_response"
    """Forwarded and acted on by the emulator; the client got no response."""
    BAD_GATEWAY = "bad_gateway"
    """The emulator could not be reached: answered 502."""


REACHED_UPSTREAM = frozenset({Fate.FORWARDED, Fate.DROPPED_RESPONSE})


class Handled(NamedTuple):
    """One request the proxy handled: its S3 operation, decoded path ("/bucket/key") and fate."""

    operation: str
    path: str
    fate: Fate


_ERRORS = {
    Fate.SLOWDOWN: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    Fate.INTERNAL_ERROR: (500, "Internal Server Error", "InternalError", "We encountered an internal error."),
}


@dataclass
class LatencyProxy:
    """Forwards HTTP requests to `upstream` after `settings.latency` seconds; serves on 127.0.0.1."""

    upstream: str
    settings: ProxySettings = field(default_factory=ProxySettings)
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; `url` tells which after start()
    reuse_port: bool = (
        False  # SO_REUSEPORT: several proxy processes share one port, the kernel spreads clients
    )
    requests: int = 0  # requests that reached the upstream so far
    log: list[Handled] = field(default_factory=list, repr=False)  # every request, in the order handled
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False)
    _server: asyncio.Server | None = field(default=None, repr=False)
    _connections: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    _gathering: tuple[ProxySettings, int, asyncio.Event] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {self.upstream!r}")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def handled(self) -> list[Handled]:
        """A copy of the log, safe to read from another thread while the proxy runs."""
        return list(self.log)

    def counts(self) -> Counter[str]:
        """Requests by fate (every fate present, zero or not)."""
        counts: Counter[str] = Counter(dict.fromkeys((fate.value for fate in Fate), 0))
        counts.update(h.fate.value for h in self.handled())
        return counts

    def counts_by_operation(self) -> dict[str, Counter[str]]:
        """Requests by S3 operation, then by fate."""
        result: dict[str, Counter[str]] = {}
        for h in self.handled():
            result.setdefault(h.operation, Counter())[h.fate.value] += 1
        return result

    def reached(self, operation: str) -> Counter[str]:
        """Requests of `operation` that reached the upstream (answered or not), by path."""
        return Counter(
            h.path for h in self.handled() if h.operation == operation and h.fate in REACHED_UPSTREAM
        )

    def reset_log(self) -> None:
        """Forget the log (the fate draws continue where they were)."""
        self.log.clear()

    def decide(self, method: str, target: str, operation: str) -> Fate:
        """This request's fate: a draw seeded by the seed, the request, and how often it was seen before."""
        settings = self.settings
        faults = (settings.slowdown, settings.internal_error, settings.drop, settings.drop_response)
        if not any(faults) or (settings.operations is not None and operation not in settings.operations):
            return Fate.FORWARDED  # without a draw, so the benchmark's proxy keeps no per-request state
        occurrence = self._seen[(method, target)]
        self._seen[(method, target)] = occurrence + 1
        draw = random.Random(f"{settings.seed}|{method}|{target}|{occurrence}").random()
        for fate, fraction in (
            (Fate.SLOWDOWN, settings.slowdown),
            (Fate.INTERNAL_ERROR, settings.internal_error),
            (Fate.DROPPED, settings.drop),
            (Fate.DROPPED_RESPONSE, settings.drop_response),
        ):
            if draw < fraction:
                return fate
            draw -= fraction
        return Fate.FORWARDED

    async def _gather(self) -> None:
        # Keyed by the settings object, so a test that installs new settings starts a new rendezvous.
        settings = self.settings
        if self._gathering is None or self._gathering[0] is not settings:
            self._gathering = (settings, 0, asyncio.Event())
        _, arrived, released = self._gathering
        self._gathering = (settings, arrived + 1, released)
        if arrived + 1 >= settings.gather:
            released.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), GATHER_TIMEOUT)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=HEAD_LIMIT, reuse_port=self.reuse_port or None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop open client connections (kept-alive ones would otherwise linger)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(client_reader, client_writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ProtocolError, asyncio.LimitOverrunError):
            pass  # the client went away or spoke nonsense: drop the connection, as a server would
        except asyncio.CancelledError:
            # Only close() cancels, and the task ends here; Python 3.11's stream callback would log a
            # spurious traceback for a handler task that ends cancelled.
            pass
        finally:
            self._connections.discard(task)
            client_writer.close()
            with contextlib.suppress(Exception):
                await client_writer.wait_closed()

    async def _exchange(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> bool:
        """Relay one request and its response; False when the client connection must close."""
        request = await read_head(client_reader)
        if request is None:
            return False
        method, target, version = split_request_line(request.start_line)
        if "100-continue" in request.tokens("expect"):
            # Answered here, so the client sends its body while the request waits out the latency.
            client_writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        keep_alive = wants_keep_alive(request, version)
        operation = s3_operation(method, target)
        path = unquote(urlsplit(target).path)
        fate = self.decide(method, target, operation)

        if self.settings.gather and operation == self.settings.gather_operation:
            await self._gather()
        await asyncio.sleep(self.settings.latency)
        if fate in _ERRORS or fate is Fate.DROPPED:
            # The whole request is read first, as a server does before it answers or gives up.
            await drain_body(client_reader, request, None)
            self.log.append(Handled(operation, path, fate))
            if fate is Fate.DROPPED:
                return False
            await _send_s3_error(client_writer, fate, method, keep_alive)
            return keep_alive
        try:
            up_reader, up_writer = await asyncio.open_connection(self._upstream_host, self._upstream_port)
        except OSError as exc:
            await drain_body(client_reader, request, None)
            self.log.append(Handled(operation, path, Fate.BAD_GATEWAY))
            await send_error(client_writer, 502, f"upstream unreachable: {exc}", keep_alive)
            return keep_alive
        self.requests += 1
        self.log.append(Handled(operation, path, fate))
        try:
            up_writer.write(
                Message.encode(request.start_line, [*request.forwardable(), ("Connection", "close")])
            )
            await drain_body(client_reader, request, up_writer)
            await up_writer.drain()
            if fate is Fate.DROPPED_RESPONSE:
                await _discard_response(up_reader, method)
                return False
            await self._relay_response(up_reader, client_writer, method, keep_alive)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()
        return keep_alive

    async def _relay_response(
        self,
        up_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        method: str,
        keep_alive: bool,
    ) -> None:
        while True:
            response = await read_head(up_reader)
            if response is None:
                raise ProtocolError("upstream closed the connection without a response")
            status = status_of(response)
            if not 100 <= status < 200:
                break
            client_writer.write(Message.encode(response.start_line, response.forwardable()))  # interim 1xx
        headers = response.forwardable()
        if not keep_alive:
            headers.append(("Connection", "close"))
        framing = body_framing(response, request_method=method)
        if framing == "until-close":
            # Re-framed with a length, so that the client's connection can stay open.
            body = await up_reader.read()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            client_writer.write(Message.encode(response.start_line, headers) + body)
        else:
            client_writer.write(Message.encode(response.start_line, headers))
            await copy_body(up_reader, client_writer, framing)
        await client_writer.drain()


async def _discard_response(up_reader: asyncio.StreamReader, method: str) -> None:
    """Read the upstream's whole response, so that it has finished acting on the request, and drop it."""
    while True:
        response = await read_head(up_reader)
        if response is None:
            raise ProtocolError("upstream closed the connection without a response")
        if not 100 <= status_of(response) < 200:
            break
    framing = body_framing(response, request_method=method)
    if framing == "until-close":
        await up_reader.read()
    else:
        await copy_body(up_reader, None, framing)


async def _send_s3_error(writer: asyncio.StreamWriter, fate: Fate, method: str, keep_alive: bool) -> None:
    """S3's error response: an XML body naming the code, except for HEAD, which S3 answers without one."""
    status, reason, code, message = _ERRORS[fate]
    request_id = uuid.uuid4().hex[:16].upper()
    body = b""
    if method != "HEAD":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
        ).encode()
    headers = [
        ("x-amz-request-id", request_id),
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
    ]
    if not keep_alive:
        headers.append(("Connection", "close"))
    writer.write(Message.encode(f"HTTP/1.1 {status} {reason}", headers) + body)
    await writer.drain()


@contextlib.contextmanager
def running_proxy(upstream: str, settings: ProxySettings | None = None) -> Iterator[LatencyProxy]:
    """A LatencyProxy serving from its own event-loop thread, for synchronous callers (tests)."""
    proxy = LatencyProxy(upstream, settings or ProxySettings())
    started = threading.Event()
    control: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        stop = asyncio.Event()
        control.append((asyncio.get_running_loop(), stop))
        try:
            await proxy.start()
        except BaseException as exc:
            failure.append(exc)
            raise
        finally:
            started.set()
        await stop.wait()
        await proxy.close()

    # asyncio.run cancels and awaits leftover tasks before closing its loop.
    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="latency-proxy", daemon=True)
    thread.start()
    if not started.wait(timeout=10):
        raise RuntimeError("latency proxy did not start within 10 s")
    if failure:
        thread.join(timeout=10)
        raise failure[0]
    try:
        yield proxy
    finally:
        loop, stop = control[0]
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


async def _serve_forever(proxy: LatencyProxy) -> None:
    await proxy.start()
    print(f"listening on {proxy.url}", flush=True)  # the bench waits for this line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await proxy.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="http://host:port to forward to")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    parser.add_argument(
        "--reuse-port", action="store_true", help="share --port with other proxies (SO_REUSEPORT)"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="delay added per request")
    parser.add_argument("--slowdown", type=float, default=0.0, help="fraction answered 503 SlowDown")
    parser.add_argument("--internal-error", type=float, default=0.0, help="fraction answered 500")
    parser.add_argument("--drop", type=float, default=0.0, help="fraction closed before forwarding")
    parser.add_argument("--drop-response", type=float, default=0.0, help="fraction closed after forwarding")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    args = parser.parse_args(argv)
    try:
        settings = ProxySettings(
            latency=args.latency_ms / 1000,
            slowdown=args.slowdown,
            internal_error=args.internal_error,
            drop=args.drop,
            drop_response=args.drop_response,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    proxy = LatencyProxy(args.upstream, settings, port=args.port, reuse_port=args.reuse_port)
    asyncio.run(_serve_forever(proxy))


if __name__ == "__main__":
    main()
