"""The unit suite opens no socket: pytest-socket refuses one (policy in tests/network.py)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError

from tests import network


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_unit_test_cannot_connect_even_to_loopback() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_unit_test_cannot_create_a_socket_or_resolve_a_name() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlockedError):
        socket.getaddrinfo("example.com", 443)


def test_every_suite_has_a_network_policy_and_only_listed_suites_reach_loopback() -> None:
    suites = {path.parent.name for path in network.TESTS.glob("*/test_*.py")}
    assert suites - network.POLICIES.keys() == set(), "say in tests/network.py what it reaches"
    assert {s for s in suites if network.policy_of(s) is network.Network.NONE} >= {
        "unit",
        "property",
    }
    assert network.policy_of("a-new-suite") is network.Network.NONE
