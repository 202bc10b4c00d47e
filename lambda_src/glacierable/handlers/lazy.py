"""The one way a handler holds its AWS clients: built on first use, then kept for the execution environment.

Lambda reuses an execution environment for many invocations, and building a boto3 client costs more than
most of the calls it then makes, so each client is built once. It is built on first use rather than at
import, so that whatever runs a handler outside Lambda (tests, the demo's local Lambda loop, the benchmark)
can hand it a client of its own, or the environment to build one from, without replacing module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyClient(Generic[T]):
    """A client built by `factory` on the first call, and the same one on every later call."""

    __slots__ = ("_client", "_factory")

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._client: T | None = None

    def __call__(self) -> T:
        if self._client is None:
            self._client = self._factory()
        return self._client

    @contextmanager
    def use(self, client: T | None = None) -> Iterator[None]:
        """Inside the block, hand out `client` (None: one built on the first call there); then the old one."""
        previous, self._client = self._client, client
        try:
            yield
        finally:
            self._client = previous

    def reset(self) -> None:
        """Forget the client: the next call builds one from the environment as it is then."""
        self._client = None
