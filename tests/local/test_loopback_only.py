"""This suite reaches 127.0.0.1 and nothing else (policy in tests/network.py)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_a_connection_to_loopback_is_allowed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        # The kernel completes the handshake into the listen backlog: no accept() needed.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            assert client.getpeername() == ("127.0.0.1", port)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_connection_to_any_other_host_is_refused_before_it_leaves() -> None:
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so only the gate can answer fast.
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
