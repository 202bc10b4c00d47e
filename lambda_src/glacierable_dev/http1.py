"""HTTP/1.1 framing for the fault proxy: message heads, bodies by Content-Length or chunks, plain errors.

Only what a reverse proxy in front of an S3 emulator needs; bodies are streamed through unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

HEAD_LIMIT = 64 * 1024
CHUNK = 64 * 1024
# Per-connection headers (RFC 9110 section 7.6.1): they describe one hop and are never forwarded.
# Transfer-Encoding is hop-by-hop too, but chunked bodies are relayed verbatim, so it stays.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "upgrade", "expect"})


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as this proxy understands it."""


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
        status = status_of(message)
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
        write_bytes(writer, size_line)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text!r}") from None
        if size == 0:
            while True:  # trailers, then the empty line that ends the body
                line = await reader.readuntil(b"\r\n")
                write_bytes(writer, line)
                if line == b"\r\n":
                    break
            if writer is not None:
                await writer.drain()
            return
        await _copy_exactly(reader, writer, size)
        crlf = await reader.readexactly(2)
        if crlf != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        write_bytes(writer, crlf)


def write_bytes(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    if writer is not None:
        writer.write(data)


def split_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ProtocolError(f"malformed request line {line!r}")
    return parts[0].upper(), parts[1], parts[2]


def status_of(response: Message) -> int:
    parts = response.start_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ProtocolError(f"malformed status line {response.start_line!r}")
    return int(parts[1])


def wants_keep_alive(request: Message, version: str) -> bool:
    connection = request.tokens("connection")
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


async def send_error(writer: asyncio.StreamWriter, status: int, text: str, keep_alive: bool) -> None:
    body = text.encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if not keep_alive:
        headers.append(("Connection", "close"))
    writer.write(Message.encode(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", headers) + body)
    await writer.drain()
