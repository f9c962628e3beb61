"""Suite-wide test configuration."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The moto server endpoint and AWS resource fixtures (started only by tests that use them).
pytest_plugins = ["tests.moto_server"]

# A fixed, reproducible profile for CI (derandomised, no example database carried between
# runs); a faster one for local iteration. Select with HYPOTHESIS_PROFILE.
settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
