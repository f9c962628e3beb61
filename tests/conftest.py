"""Suite-wide test configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import network

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


@pytest.hookimpl(tryfirst=True)  # before pytest-socket's own hook, which enforces the mark
def pytest_runtest_setup(item: pytest.Item) -> None:
    network.apply_policy(item)


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment, so that creating a boto3 client resolves them there
    instead of asking the instance metadata service (a request to 169.254.169.254)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)  # a profile would skip the environment
    # The values of tests.moto_server.FAKE_CREDENTIALS (importing it here would import the
    # plugin before pytest_plugins loads it, and it would escape assertion rewriting).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture(scope="session")
def pool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding a local user pool's key (``taskapi token``), made once per
    test process: for the tests of local servers that need a key but no particular one."""
    from tests.tokens import token_for  # noqa: PLC0415 - imports the local gateway

    directory = tmp_path_factory.mktemp("pool")
    token_for(directory)  # creates the key
    return directory
