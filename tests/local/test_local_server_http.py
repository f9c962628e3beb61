"""The local server over real sockets (in a thread, on a free port): HTTP details the
translation functions alone cannot show."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.api import lambda_handler
from taskapi.local.cli import build_parser
from taskapi.local.gateway import LocalApiServer, serving
from taskapi.local.serve import serve
from tests.local.workspaces import create_workspace
from tests.tokens import bearer, local_server

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def auth(pool_dir: Path) -> dict[str, str]:
    return bearer(pool_dir)


@pytest.fixture
def server(tmp_path: Path, pool_dir: Path) -> Iterator[LocalApiServer]:
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    server = local_server(lambda_handler, pool_dir)
    with bootstrap.override_runtime(runtime), serving(server, poll_interval=0.05):
        yield server


@pytest.fixture
def connection(server: LocalApiServer) -> Iterator[http.client.HTTPConnection]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    yield connection
    connection.close()


def test_a_request_round_trips_through_the_handler(
    connection: http.client.HTTPConnection,
    auth: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = create_workspace(connection, auth)
    with caplog.at_level(logging.INFO, logger="taskapi-serve"):
        connection.request("POST", tasks, body=b'{"title": "over http"}', headers={**JSON, **auth})
        response = connection.getresponse()
        body = json.loads(response.read())

    assert response.status == 201
    assert body["title"] == "over http"
    assert response.getheader("ETag") == '"1"'
    assert response.getheader("Location") == f"{tasks}/{body['task_id']}"
    assert response.getheader("x-amzn-RequestId")
    access_lines = [r.getMessage() for r in caplog.records if r.name == "taskapi-serve"]
    assert len(access_lines) == 1
    assert f'"POST {tasks}" 201' in access_lines[0]
    assert access_lines[0].endswith(" ms")


def test_a_connection_is_kept_alive_across_requests(
    connection: http.client.HTTPConnection, auth: dict[str, str]
) -> None:
    statuses = []
    for _ in range(3):
        connection.request("GET", "/health", headers=auth)
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)

    assert statuses == [200, 200, 200]


def test_head_answers_headers_without_a_body(
    connection: http.client.HTTPConnection, auth: dict[str, str]
) -> None:
    connection.request("HEAD", "/nothing/here", headers=auth)
    response = connection.getresponse()

    assert response.status == 404
    assert response.getheader("Content-Type") == "application/json"
    assert int(response.getheader("Content-Length", "0")) > 0
    assert response.read() == b""


def test_a_chunked_body_is_read(
    connection: http.client.HTTPConnection, auth: dict[str, str]
) -> None:
    tasks = create_workspace(connection, auth)
    chunks = iter([b'{"title": ', b'"sent in ', b'chunks"}'])
    connection.request("POST", tasks, body=chunks, headers={**JSON, **auth}, encode_chunked=True)
    response = connection.getresponse()

    assert response.status == 201
    assert json.loads(response.read())["title"] == "sent in chunks"


def test_the_gateway_refuses_a_body_over_10_mb_without_reading_it(
    connection: http.client.HTTPConnection,
) -> None:
    connection.putrequest("POST", "/workspaces")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(11 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()

    assert response.status == 413
    body = json.loads(response.read())
    assert (body["error"], body["message"]) == ("bad_request", "Request Too Long")
    assert set(body["details"]) == {"request_id"}


def test_serve_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "0", "--db", "x.db"])

    assert args.func is serve
    assert (args.host, args.port, args.db) == ("0.0.0.0", 0, Path("x.db"))
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.host, defaults.port, defaults.db) == ("127.0.0.1", 8000, None)
