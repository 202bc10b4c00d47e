"""The one bounded fan-out: every result once, bounded work in flight, failures after what completed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from glacierable.fanout import bounded_map, map_in_order


def test_every_item_comes_back_once_with_its_result() -> None:
    results = dict(bounded_map(lambda n: n * n, range(100), concurrency=8))
    assert results == {n: n * n for n in range(100)}


def test_map_in_order_keeps_the_order_of_the_items() -> None:
    assert map_in_order(str, range(50), concurrency=7) == [str(n) for n in range(50)]


def test_an_endless_source_is_read_only_as_far_as_the_bound_allows() -> None:
    read = 0
    release = threading.Event()

    def source() -> Iterator[int]:
        nonlocal read
        while True:
            read += 1
            yield read

    def slow(n: int) -> int:
        release.wait(10)
        return n

    results = bounded_map(slow, source(), concurrency=2, backlog=1)
    release.set()
    first = next(results)
    results.close()  # the consumer stops: queued calls are dropped, running ones finish
    assert first[0] == first[1]
    assert read <= 2 * (1 + 1) + 1


def test_a_failing_source_is_raised_after_the_handed_out_calls_complete() -> None:
    def source() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("listing failed")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="listing failed"):
        for item, _ in bounded_map(lambda n: n, source(), concurrency=3):
            seen.append(item)
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_every_call_that_completed_is_handed_over_before_a_failure() -> None:
    def work(n: int) -> int:
        if n == 3:
            raise KeyboardInterrupt
        return n

    seen: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        for item, _ in bounded_map(work, range(6), concurrency=1):
            seen.append(item)
    assert {0, 1, 2} <= set(seen) and 3 not in seen  # 4 may have run too: a queued call S3 saw counts


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(bounded_map(str, [1], concurrency=0))
