"""The one bounded fan-out behind every concurrent S3 loop (tagging, HEADs, restore requests, batches).

Like s3transfer's BoundedExecutor: at most `concurrency` calls run and at most `backlog` more per thread
wait, so an endless listing never runs ahead of the requests it feeds. Results come back as calls finish.
Ctrl-C (or the consumer stopping early) drops what has not started and lets running calls finish: a
request S3 is already carrying out is never abandoned half-way by us.

Finished calls reach the consumer through a queue their done-callbacks feed, not through
`concurrent.futures.wait`: wait installs and removes a waiter on every pending future per call, and at 64
threads with a backlog of 2 that bookkeeping alone took a fifth of the GIL in a backfill (py-spy).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BACKLOG = 1
"""Items waiting per thread beyond the running ones: enough to keep every thread busy."""
_POLL_SECONDS = 0.5
"""How long one wait for a finished call blocks before it waits again (keeps Ctrl-C prompt everywhere)."""


def bounded_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    concurrency: int,
    backlog: int = DEFAULT_BACKLOG,
    name: str = "fanout",
) -> Generator[tuple[T, R], None, None]:
    """(item, fn(item)) for every item, as calls complete; `fn`'s exceptions are raised to the consumer.

    An exception while reading `items` (a listing that fails part-way) is raised after the calls
    already handed out have completed and been yielded, so their results are never lost.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    limit = concurrency * (1 + backlog)
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name)
    pending: dict[Future[R], T] = {}
    finished: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()
    try:
        source = iter(items)
        source_error: Exception | None = None
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception as error:  # drain what was handed out, then report the source's failure
                source_error = error
                break
            future = executor.submit(fn, item)
            pending[future] = item
            future.add_done_callback(finished.put)
            if len(pending) >= limit:
                yield from _completed(pending, finished)
        while pending:
            yield from _completed(pending, finished)
        if source_error is not None:
            raise source_error
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=True)


def map_in_order(
    fn: Callable[[T], R], items: Iterable[T], *, concurrency: int, name: str = "fanout"
) -> list[R]:
    """fn(item) for every item, concurrently, in the order of `items` (for results that are reported)."""
    indexed = list(enumerate(items))
    results: dict[int, R] = {}
    for (index, _), result in bounded_map(
        lambda pair: fn(pair[1]), indexed, concurrency=concurrency, name=name
    ):
        results[index] = result
    return [results[index] for index in range(len(indexed))]


def _completed(pending: dict[Future[R], T], finished: queue.SimpleQueue[Future[R]]) -> Iterator[tuple[T, R]]:
    """Every call finished by now (at least one, waiting for it if need be), as (item, result)."""
    while True:
        try:
            done = [finished.get(timeout=_POLL_SECONDS)]
            break
        except queue.Empty:
            continue
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            break
    # Every finished call's result is handed over before a failed call's exception: what completed
    # counts, whatever order the calls finished in.
    failed = [future for future in done if future.exception() is not None]
    for future in done:
        if future.exception() is None:
            yield pending.pop(future), future.result()
    if failed:
        pending.pop(failed[0])
        failed[0].result()
