"""Fuzzing with hypothesis (profile "fuzz", conftest.py): bad input ends in a documented error, never a call.

`OfflineService` builds real boto3 clients whose requests never leave the process: botocore's own hooks record
every API call and answer every HTTP request, so a test can assert that invalid input made no call at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from hypothesis import strategies as st

# Nothing listens on the discard port: a request that slipped past the hook would fail, not reach anyone.
UNREACHABLE = "http://127.0.0.1:9"

ANY_TEXT = st.text(st.characters(exclude_categories=()))
"""Any Python string JSON can carry, lone surrogates included."""


def json_values(known_keys: tuple[str, ...] = (), *, max_leaves: int = 20) -> st.SearchStrategy[object]:
    """Any JSON value (as json.loads returns it); objects often use `known_keys`, so shapes get deep."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | ANY_TEXT
        | st.sampled_from(["", "0", "true", "null", "aws:s3", "ObjectCreated:Put", "now", "Bulk"])
    )
    keys = st.sampled_from(known_keys) | ANY_TEXT if known_keys else ANY_TEXT
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
        max_leaves=max_leaves,
    )


Responder = Callable[[str, AWSPreparedRequest], tuple[int, bytes]]


@dataclass(frozen=True)
class Call:
    """One API call as the code made it: operation name and parameters."""

    operation: str
    params: dict[str, Any]


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_xml(code: str, message: str = "") -> bytes:
    """An S3-style error body."""
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


@dataclass
class OfflineService:
    """Clients of one AWS service whose API calls are recorded and answered by `respond`, offline."""

    service: str
    respond: Responder
    calls: list[Call] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def client(self) -> Any:
        session: Any = boto3.session.Session()  # the service name is a variable: no typed overload fits
        client = session.client(
            self.service,
            endpoint_url=UNREACHABLE,
            region_name="us-east-1",
            config=Config(
                retries={"mode": "standard", "max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )
        client.meta.events.register(f"provide-client-params.{self.service}", self._record_call)
        client.meta.events.register(f"before-send.{self.service}", self._answer)
        return client

    def reset(self) -> None:
        self.calls.clear()
        self.sent.clear()

    def _record_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(Call(model.name, dict(params)))

    def _answer(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
        self.sent.append(f"{request.method} {request.url}")
        status, body = self.respond(operation, request)
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/xml"
        return AWSResponse(request.url, status, headers, _Body(body))
