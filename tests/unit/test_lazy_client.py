"""LazyClient: a handler's client is built once, on first use, and a test can hand in its own for a block."""

from __future__ import annotations

import pytest

from glacierable.handlers.lazy import LazyClient


class Factory:
    """Builds numbered stand-ins for clients and counts how many it built."""

    def __init__(self) -> None:
        self.built = 0

    def __call__(self) -> str:
        self.built += 1
        return f"client-{self.built}"


def test_nothing_is_built_until_the_first_call() -> None:
    factory = Factory()
    LazyClient(factory)
    assert factory.built == 0


def test_every_call_returns_the_client_built_by_the_first() -> None:
    factory = Factory()
    client = LazyClient(factory)
    assert [client(), client(), client()] == ["client-1"] * 3
    assert factory.built == 1


def test_a_client_handed_in_is_used_inside_the_block_and_the_old_one_after() -> None:
    factory = Factory()
    client = LazyClient(factory)
    before = client()
    with client.use("injected"):
        assert client() == "injected"
    assert client() == before
    assert factory.built == 1


def test_use_without_a_client_builds_a_fresh_one_for_the_block_only() -> None:
    factory = Factory()
    client = LazyClient(factory)
    before = client()
    with client.use():
        assert client() == "client-2"
    assert client() == before


def test_the_old_client_is_back_even_when_the_block_raises() -> None:
    client = LazyClient(Factory())
    with pytest.raises(RuntimeError), client.use("injected"):
        raise RuntimeError("boom")
    assert client() == "client-1"


def test_reset_makes_the_next_call_build_a_new_client() -> None:
    factory = Factory()
    client = LazyClient(factory)
    client()
    client.reset()
    assert client() == "client-2"
