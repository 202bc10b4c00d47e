"""Restore batches as SQS message bodies: split, sized, parsed back, refused when malformed."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierable.batches import (
    MAX_BODY_BYTES,
    MAX_KEYS_PER_BATCH,
    Batch,
    BatchError,
    group_for_send,
    split_keys,
)
from glacierable.pricing import Tier


def split(keys: list[str], **options: int) -> list[Batch]:
    return split_keys("r1", "bkt", keys, tier=Tier.BULK, days=3, expedited_fallback=True, **options)


def body(**changes: object) -> str:
    fields: dict[str, object] = {
        "restore_id": "r1",
        "bucket": "bkt",
        "tier": "Standard",
        "days": 7,
        "expedited_fallback": False,
        "attempt": 1,
        "keys": ["a"],
    }
    fields.update(changes)
    return json.dumps({k: v for k, v in fields.items() if v is not ...})


def test_body_reads_back_to_an_equal_batch() -> None:
    batch = Batch("r1", "bkt", Tier.EXPEDITED, 5, True, ("a/b", "ü c"), attempt=3)
    assert Batch.from_body(batch.to_body()) == batch


def test_body_is_ascii_whatever_the_keys() -> None:
    batch = Batch("r1", "bkt", Tier.STANDARD, 7, False, ("snow ☃", "tab\there", "\U0001f600"))
    assert batch.to_body().isascii()


def test_split_keeps_every_key_once_in_order() -> None:
    keys = [f"k{i}" for i in range(450)]
    batches = split(keys)
    assert [key for batch in batches for key in batch.keys] == keys
    assert [len(batch.keys) for batch in batches] == [MAX_KEYS_PER_BATCH, MAX_KEYS_PER_BATCH, 50]


def test_split_carries_the_restore_settings() -> None:
    (batch,) = split(["a"])
    assert batch == Batch("r1", "bkt", Tier.BULK, 3, True, ("a",), attempt=1)


def test_split_keeps_bodies_under_the_byte_limit_for_long_escaped_keys() -> None:
    keys = ["☃" * 1000 + str(i) for i in range(100)]  # 6 bytes per escaped character
    batches = split(keys)
    assert len(batches) > 1
    assert all(len(batch.to_body()) <= MAX_BODY_BYTES for batch in batches)
    assert sum(len(batch.keys) for batch in batches) == 100


def test_split_of_no_keys_is_no_batches() -> None:
    assert split([]) == []


def test_key_too_long_for_any_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        split(["x" * 500], max_body_bytes=300)


def test_retry_is_the_next_attempt_with_only_the_given_keys() -> None:
    batch = Batch("r1", "bkt", Tier.STANDARD, 7, False, ("a", "b", "c"), attempt=2)
    assert batch.retry(["b"]) == Batch("r1", "bkt", Tier.STANDARD, 7, False, ("b",), attempt=3)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        (body(keys=...), "lacks keys"),
        (body(tier="Glacial"), "Glacial"),
        (body(tier=3), "tier"),
        (body(days=0), "days"),
        (body(days=True), "days"),
        (body(attempt=0), "attempt"),
        (body(attempt="1"), "attempt"),
        (body(keys="a"), "keys"),
        (body(keys=[""]), "keys"),
        (body(bucket=""), "bucket"),
        (body(expedited_fallback="no"), "expedited_fallback"),
    ],
)
def test_malformed_bodies_are_refused_with_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(BatchError, match=fragment):
        Batch.from_body(text)


@given(st.text())
def test_any_text_is_a_batch_or_a_batch_error(text: str) -> None:
    with contextlib.suppress(BatchError):
        Batch.from_body(text)


def test_group_for_send_has_at_most_ten_entries_per_call() -> None:
    groups = group_for_send(["x"] * 25)
    assert [len(group) for group in groups] == [10, 10, 5]
    assert [i for group in groups for i in group] == list(range(25))


def test_group_for_send_keeps_each_call_under_the_byte_limit() -> None:
    groups = group_for_send(["x" * 400] * 6, max_bytes=1000)
    assert [len(group) for group in groups] == [2, 2, 2]


def test_group_for_send_refuses_a_body_over_the_call_limit() -> None:
    with pytest.raises(ValueError, match="over"):
        group_for_send(["x" * 2000], max_bytes=1000)
