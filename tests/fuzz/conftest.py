"""The fuzz suite's hypothesis profile: at least 1,000 examples per test, the same examples on every run."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = "fuzz"
MIN_EXAMPLES = 1000

# Reproducible in CI: derandomize draws examples from each test's own source, and no example database
# replays failures from an earlier run. FUZZ_EXAMPLES may raise the count for a longer local run,
# never lower it.
settings.register_profile(
    PROFILE,
    max_examples=max(MIN_EXAMPLES, int(os.environ.get("FUZZ_EXAMPLES", MIN_EXAMPLES))),
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
