"""env_bool: the one reading of a true/false setting in a Lambda function's environment."""

from __future__ import annotations

import pytest

from glacierable.env import ConfigError, env_bool


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("false", False), (" TRUE ", True), ("False", False)]
)
def test_true_and_false_are_read_in_any_case_with_blanks_around(raw: str, expected: bool) -> None:
    assert env_bool({"FLAG": raw}, "FLAG") is expected


def test_an_unset_setting_is_false() -> None:
    assert env_bool({}, "FLAG") is False


@pytest.mark.parametrize("raw", ["yes", "1", "", "on"])
def test_anything_else_is_a_config_error_naming_the_setting_and_the_value(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"FLAG must be 'true' or 'false', got {raw!r}"):
        env_bool({"FLAG": raw}, "FLAG")
