"""The local gateway at the HTTP and TCP level, over real sockets on 127.0.0.1: its own errors
in the API's error shape, bursts, stalled and idle connections, HEAD, clients that go away."""

from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.api import lambda_handler
from taskapi.local.gateway import LocalApiServer, serving
from tests.local.workspaces import create_workspace
from tests.tokens import bearer, local_server

JSON = {"Content-Type": "application/json"}
# Generous bounds for things that happen at once; a test only waits that long when it fails.
PROMPTLY = 5.0

ServerFactory = Callable[..., AbstractContextManager[LocalApiServer]]


@pytest.fixture
def start(tmp_path: Path, pool_dir: Path) -> Iterator[ServerFactory]:
    """``start(**options)``: a ``LocalApiServer`` on a free port, serving, over memory; it
    accepts ``pool_dir``'s tokens."""
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))

    @contextmanager
    def started(**options: Any) -> Iterator[LocalApiServer]:
        server = local_server(lambda_handler, pool_dir, **options)
        with serving(server, poll_interval=0.05):
            yield server

    with bootstrap.override_runtime(runtime):
        yield started


@pytest.fixture
def auth(pool_dir: Path) -> dict[str, str]:
    return bearer(pool_dir)


@pytest.fixture
def health(auth: dict[str, str]) -> bytes:
    """A whole ``GET /health`` request with a token, as bytes."""
    return b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (
        auth["Authorization"].encode()
    )


def connect(server: LocalApiServer) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=PROMPTLY)
    return sock


def response_to(sock: socket.socket, method: str = "GET") -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return response


def assert_gateway_error(response: http.client.HTTPResponse, status: int, code: str) -> None:
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Connection") == "close"
    body = json.loads(response.read())
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"]
    assert set(body["details"]) == {"request_id"}


# -- the gateway's own HTTP errors: the API's error body, never the stdlib's HTML ----------------


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        # Each request is sent whole and read whole by the server before it answers, so its
        # close is a clean one and the client reads the full reply.
        (b"GET /" + b"a" * 65532, 414, "bad_request"),  # a request line over 64 KiB
        (b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 65530, 431, "bad_request"),
        (b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 101, 431, "bad_request"),
        (b"GARBAGE\r\n", 400, "bad_request"),
        (b"GET /health HTTP/1.1 and more\r\n", 400, "bad_request"),
        (b"GET /health FOO/1.1\r\n", 400, "bad_request"),
        (b"GET /health HTTP/1.x\r\n", 400, "bad_request"),
        (b"GET /health HTTP/2.0\r\n", 505, "http_version_not_supported"),
    ],
    ids=[
        "uri-too-long",
        "header-too-long",
        "too-many-headers",
        "one-word",
        "four-words",
        "not-http",
        "bad-version",
        "http-2",
    ],
)
def test_the_gateways_own_errors_have_the_apis_error_body(
    start: ServerFactory, raw: bytes, status: int, code: str
) -> None:
    with start() as server, connect(server) as sock:
        sock.sendall(raw)

        assert_gateway_error(response_to(sock), status, code)


# -- bursts, stalls and idle connections ---------------------------------------------------


def test_a_burst_of_20_connections_is_accepted_before_the_server_runs(
    tmp_path: Path, pool_dir: Path, health: bytes
) -> None:
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    server = local_server(lambda_handler, pool_dir)
    clients = [socket.socket() for _ in range(20)]
    try:
        # Nobody accepts yet: every handshake must still complete, in the listen backlog.
        for client in clients:
            client.setblocking(False)
            client.connect_ex(server.server_address[:2])
        pending = list(clients)
        while pending:
            _, connected, _ = select.select([], pending, [], PROMPTLY)
            assert connected, f"{len(pending)} of 20 connections not established"
            pending = [c for c in pending if c not in connected]
        assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in clients)
        # Now serve: every one of them is answered.
        with bootstrap.override_runtime(runtime), serving(server, poll_interval=0.05):
            for client in clients:
                client.setblocking(True)
                client.settimeout(PROMPTLY)
                client.sendall(health)
            statuses = []
            for client in clients:
                response = response_to(client)
                response.read()
                statuses.append(response.status)
        assert statuses == [200] * 20
    finally:
        for client in clients:
            client.close()
        server.server_close()


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
        b"POST /workspaces HTTP/1.1\r\nContent-Length: 9\r\n\r\n{",
    ],
    ids=["idle", "stalled-in-headers", "stalled-in-body"],
)
def test_a_connection_that_stalls_is_dropped_after_the_timeout(
    start: ServerFactory, sent: bytes
) -> None:
    with start(connection_timeout=0.2) as server, connect(server) as sock:
        sock.sendall(sent)

        assert sock.recv(1024) == b""  # the server closed it (else: TimeoutError here)


def test_a_connection_kept_alive_but_idle_is_dropped_after_the_timeout(
    start: ServerFactory, health: bytes
) -> None:
    with start(connection_timeout=0.2) as server, connect(server) as sock:
        sock.sendall(health)
        response = response_to(sock)
        response.read()
        assert response.status == 200

        assert sock.recv(1024) == b""


def test_connections_beyond_the_limit_are_refused_with_a_503_until_one_closes(
    start: ServerFactory, health: bytes
) -> None:
    with start(max_connections=2, connection_timeout=0.3) as server:
        held = [connect(server), connect(server)]
        try:
            with connect(server) as refused:
                response = response_to(refused)
                assert response.getheader("Retry-After") == "1"
                assert_gateway_error(response, 503, "service_unavailable")
            # The held connections time out (the server closes them), which frees their slots.
            assert [sock.recv(1024) for sock in held] == [b"", b""]
        finally:
            for sock in held:
                sock.close()
        with connect(server) as sock:
            sock.sendall(health)
            assert response_to(sock).status == 200


# -- HEAD: the GET answer without its content --------------------------------------------------


def test_head_answers_the_headers_of_get_without_the_content(
    start: ServerFactory, auth: dict[str, str]
) -> None:
    with start() as server:
        host, port = server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), int(port), timeout=PROMPTLY)
        tasks = create_workspace(connection, auth)
        connection.request(
            "POST", tasks, b'{"title": "t"}', {"Content-Type": "application/json", **auth}
        )
        task = json.loads(connection.getresponse().read())
        workspace = tasks.removesuffix("/tasks")
        for target in ("/health", workspace, tasks, f"{tasks}/{task['task_id']}"):
            connection.request("GET", target, headers=auth)
            got = connection.getresponse()
            content = got.read()
            connection.request("HEAD", target, headers=auth)
            head = connection.getresponse()

            assert head.status == got.status == 200
            assert head.read() == b""
            assert head.getheader("Content-Length") == str(len(content))
            assert head.getheader("Content-Type") == got.getheader("Content-Type")
            assert head.getheader("ETag") == got.getheader("ETag")
        # The connection is still in step: the next request gets its own answer.
        connection.request("GET", "/health", headers=auth)
        assert json.loads(connection.getresponse().read())["status"] == "ok"
        connection.close()


# -- a client that goes away ----------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.seen = threading.Event()
        self._wanted = wanted

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self._wanted in record.getMessage():
            self.seen.set()


def test_a_client_that_resets_the_connection_is_one_log_line_not_a_traceback(
    start: ServerFactory, auth: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    records = _Records("disconnected")
    gateway_logger = logging.getLogger("taskapi-serve")
    gateway_logger.addHandler(records)
    level = gateway_logger.level
    gateway_logger.setLevel(logging.INFO)  # as `taskapi serve` configures it
    try:
        with start() as server:
            sock = connect(server)
            token = auth["Authorization"].encode()
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\nAuthorization: %s\r\n\r\n" % token)
            # Close with a reset (linger 0) before the reply: the server's write fails.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

            assert records.seen.wait(PROMPTLY), [r.getMessage() for r in records.records]
    finally:
        gateway_logger.removeHandler(records)
        gateway_logger.setLevel(level)
    lines = [r for r in records.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].exc_info is None
    assert "\n" not in lines[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err
