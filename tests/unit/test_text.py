"""Error messages list the first few items and count the rest, one way everywhere."""

from __future__ import annotations

from glacierable.text import first_and_more


def test_a_short_list_is_shown_whole() -> None:
    assert first_and_more(["a", "b"], 5) == "a, b"


def test_a_long_list_shows_the_first_few_and_counts_the_rest() -> None:
    assert first_and_more([str(n) for n in range(8)], 3) == "0, 1, 2 and 5 more"


def test_the_separator_is_the_callers() -> None:
    assert first_and_more(["x: e1", "y: e2", "z: e3"], 2, separator="; ") == "x: e1; y: e2 and 1 more"
