"""An HTTP/1.1 reverse proxy on 127.0.0.1 that delays every request, to make a local S3 emulator look remote.

Clients keep their connection to the proxy alive (as they do with S3); the proxy opens one upstream
connection per request, because moto's server closes every connection after one response anyway.
Bodies are streamed through unchanged, framed by Content-Length or chunked encoding.

Run standalone: `python -m bench.latency_proxy --upstream http://127.0.0.1:5000 --latency-ms 50`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024
CHUNK = 64 * 1024
# Per-connection headers (RFC 9110 section 7.6.1): they describe one hop and are never forwarded.
# Transfer-Encoding is hop-by-hop too, but chunked bodies are relayed verbatim, so it stays.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "upgrade", "expect"})


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as this proxy understands it."""


@dataclass
class ProxySettings:
    """How the proxy misbehaves; mutable, so a running proxy can be retuned between measurements."""

    latency: float = 0.05  # seconds added before each request is forwarded


@dataclass
class Message:
    """A request or response head: the start line and the headers in their original order and case."""

    start_line: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def tokens(self, name: str) -> set[str]:
        """Comma-separated tokens of every header called `name`, lower-cased."""
        lowered = name.lower()
        return {
            token.strip().lower()
            for key, value in self.headers
            if key.lower() == lowered
            for token in value.split(",")
            if token.strip()
        }

    def forwardable(self) -> list[tuple[str, str]]:
        """Headers without hop-by-hop ones, including any the Connection header names."""
        dropped = HOP_BY_HOP | self.tokens("connection")
        return [(key, value) for key, value in self.headers if key.lower() not in dropped]

    @staticmethod
    def encode(start_line: str, headers: list[tuple[str, str]]) -> bytes:
        lines = [start_line, *(f"{key}: {value}" for key, value in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class LatencyProxy:
    """Forwards HTTP requests to `upstream` after `settings.latency` seconds; serves on 127.0.0.1."""

    upstream: str
    settings: ProxySettings = field(default_factory=ProxySettings)
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; `url` tells which after start()
    requests: int = 0  # requests forwarded so far
    _server: asyncio.Server | None = field(default=None, repr=False)
    _connections: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {self.upstream!r}")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=HEAD_LIMIT)
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
        method, _, version = _split_request_line(request.start_line)
        if "100-continue" in request.tokens("expect"):
            # Answered here, so the client sends its body while the request waits out the latency.
            client_writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        keep_alive = _wants_keep_alive(request, version)

        await asyncio.sleep(self.settings.latency)
        try:
            up_reader, up_writer = await asyncio.open_connection(self._upstream_host, self._upstream_port)
        except OSError as exc:
            await drain_body(client_reader, request, None)
            await _send_error(client_writer, 502, f"upstream unreachable: {exc}", keep_alive)
            return keep_alive
        self.requests += 1
        try:
            up_writer.write(
                Message.encode(request.start_line, [*request.forwardable(), ("Connection", "close")])
            )
            await drain_body(client_reader, request, up_writer)
            await up_writer.drain()
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
            status = _status(response)
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


async def read_head(reader: asyncio.StreamReader) -> Message | None:
    """The next message head, or None if the peer closed cleanly before sending one."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise ProtocolError("connection closed in the middle of a message head") from exc
    lines = raw.decode("latin-1").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    return Message(lines[0], headers)


def body_framing(message: Message, *, request_method: str | None = None) -> str | int:
    """How the body ends: a byte count, "chunked", or "until-close" (responses only)."""
    if request_method is not None:
        status = _status(message)
        if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return 0
    if "chunked" in message.tokens("transfer-encoding"):
        return "chunked"
    length = message.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError(f"bad Content-Length {length!r}")
        return int(length)
    # A request without framing has no body; a response without it runs to the end of the connection.
    return 0 if request_method is None else "until-close"


async def drain_body(
    reader: asyncio.StreamReader, request: Message, writer: asyncio.StreamWriter | None
) -> None:
    """Copy the request's body to `writer`, or consume and discard it when `writer` is None."""
    await copy_body(reader, writer, body_framing(request))


async def copy_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, framing: str | int
) -> None:
    if framing == "chunked":
        await _copy_chunked(reader, writer)
    elif isinstance(framing, int):
        await _copy_exactly(reader, writer, framing)
    else:
        raise ValueError(f"cannot stream a body framed {framing!r}")


async def _copy_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, size: int) -> None:
    remaining = size
    while remaining:
        data = await reader.read(min(CHUNK, remaining))
        if not data:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(data)
        if writer is not None:
            writer.write(data)
            await writer.drain()


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
    """Relay chunks verbatim (sizes, extensions, trailers), stopping after the last one."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        _write(writer, size_line)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text!r}") from None
        if size == 0:
            while True:  # trailers, then the empty line that ends the body
                line = await reader.readuntil(b"\r\n")
                _write(writer, line)
                if line == b"\r\n":
                    break
            if writer is not None:
                await writer.drain()
            return
        await _copy_exactly(reader, writer, size)
        crlf = await reader.readexactly(2)
        if crlf != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        _write(writer, crlf)


def _write(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    if writer is not None:
        writer.write(data)


def _split_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ProtocolError(f"malformed request line {line!r}")
    return parts[0].upper(), parts[1], parts[2]


def _status(response: Message) -> int:
    parts = response.start_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ProtocolError(f"malformed status line {response.start_line!r}")
    return int(parts[1])


def _wants_keep_alive(request: Message, version: str) -> bool:
    connection = request.tokens("connection")
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


async def _send_error(writer: asyncio.StreamWriter, status: int, text: str, keep_alive: bool) -> None:
    body = text.encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if not keep_alive:
        headers.append(("Connection", "close"))
    writer.write(Message.encode(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", headers) + body)
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
    parser.add_argument("--latency-ms", type=float, default=50.0, help="delay added per request")
    args = parser.parse_args(argv)
    proxy = LatencyProxy(args.upstream, ProxySettings(latency=args.latency_ms / 1000), port=args.port)
    asyncio.run(_serve_forever(proxy))


if __name__ == "__main__":
    main()
