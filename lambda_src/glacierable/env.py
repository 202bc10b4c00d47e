"""Reading a Lambda function's settings from its environment, the same way in every handler."""

from __future__ import annotations

from collections.abc import Mapping


class ConfigError(ValueError):
    """The function's environment is missing or malformed."""


def env_bool(env: Mapping[str, str], name: str) -> bool:
    """`name` as "true" or "false" (any case, blanks around ignored); unset is false, anything else fails."""
    raw = env.get(name, "false")
    value = raw.strip().lower()
    if value not in ("true", "false"):
        # The stack writes these; a typo must stop the function, not silently pick a side.
        raise ConfigError(f"{name} must be 'true' or 'false', got {raw!r}")
    return value == "true"
