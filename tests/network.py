"""Which hosts each suite's tests may reach, enforced with pytest-socket (docs/testing.md).

``tests/conftest.py`` applies the policy of the suite a test lives in before its fixtures run.
A suite missing from ``POLICIES`` may open no socket at all, so a new suite starts sealed.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LOOPBACK = ["127.0.0.1", "localhost"]


class Network(Enum):
    NONE = "no socket at all"
    LOOPBACK = "connections to 127.0.0.1 (localhost) only"
    LOOPBACK_OR_AWS = "127.0.0.1 only; AWS endpoints too when a real-AWS variable is set"


# Real AWS: the integration suite with TASKAPI_AWS_TESTS=1, e2e against a deployed stack.
AWS_VARIABLES = {"integration": "TASKAPI_AWS_TESTS", "e2e": "TASKAPI_API_URL"}

POLICIES: dict[str, Network] = {
    "unit": Network.NONE,
    "property": Network.NONE,
    "riskmap": Network.NONE,
    "infra": Network.NONE,
    "package": Network.NONE,
    "benches": Network.NONE,  # the benches run as subprocesses; the tests themselves open none
    "local": Network.LOOPBACK,
    "contract": Network.LOOPBACK,
    "cli": Network.LOOPBACK,
    "integration": Network.LOOPBACK_OR_AWS,
    "e2e": Network.LOOPBACK_OR_AWS,
}


def suite_of(item: pytest.Item) -> str:
    relative = item.path.resolve().relative_to(TESTS)
    return relative.parts[0] if len(relative.parts) > 1 else ""


def policy_of(suite: str) -> Network:
    return POLICIES.get(suite, Network.NONE)


def real_aws(suite: str) -> bool:
    variable = AWS_VARIABLES.get(suite)
    return variable is not None and os.environ.get(variable, "") not in ("", "0")


def apply_policy(item: pytest.Item) -> None:
    """Mark ``item`` for pytest-socket, whose own setup hook then enforces the mark."""
    suite = suite_of(item)
    policy = policy_of(suite)
    if policy is Network.NONE:
        item.add_marker(pytest.mark.disable_socket)
    elif policy is Network.LOOPBACK or not real_aws(suite):
        item.add_marker(pytest.mark.allow_hosts(LOOPBACK))
