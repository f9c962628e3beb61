"""The local gateway as API Gateway's Cognito authorizer, over real sockets: a request with a
token of the server's data directory reaches the handler with its claims; any other is a 401
in the deployed stack's body, answered by the gateway, and the handler never runs."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.http.errors import NOT_AUTHENTICATED_MESSAGE
from taskapi.local import identity
from taskapi.local.gateway import LocalApiServer, serving
from taskapi.local.identity import member_identity
from tests.infra.cfn import source_template
from tests.tokens import ALICE, local_server, token_for

PROMPTLY = 5.0


class RecordingHandler:
    """The Lambda handler, with every event it is given kept."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return lambda_handler(event, context)


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def server(tmp_path: Path, handler: RecordingHandler) -> Iterator[LocalApiServer]:
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    server = local_server(handler, tmp_path)
    with bootstrap.override_runtime(runtime), serving(server, poll_interval=0.05):
        yield server


@pytest.fixture
def connection(server: LocalApiServer) -> Iterator[http.client.HTTPConnection]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=PROMPTLY)
    yield connection
    connection.close()


def unauthorized_body(request_id: str) -> dict[str, Any]:
    """What the deployed stack answers to a missing or bad Cognito token (GatewayResponses)."""
    body = source_template()["Resources"]["TaskApi"]["Properties"]["DefinitionBody"]
    response = body["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    assert response["statusCode"] == 401
    text = response["responseTemplates"]["application/json"]
    parsed: dict[str, Any] = json.loads(text.replace("$context.requestId", request_id))
    return parsed


def test_the_local_refusal_has_the_deployed_refusals_message() -> None:
    assert unauthorized_body("x")["message"] == NOT_AUTHENTICATED_MESSAGE


def test_a_request_with_a_token_reaches_the_handler_with_the_claims_as_strings(
    tmp_path: Path, connection: http.client.HTTPConnection, handler: RecordingHandler
) -> None:
    token = token_for(tmp_path, ALICE)
    connection.request(
        "POST",
        "/workspaces",
        b'{"name": "mine"}',
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    response = connection.getresponse()
    response.read()

    assert response.status == 201
    [event] = handler.events
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["email"] == ALICE
    assert claims["token_use"] == "id"
    assert "cognito:" + claims["sub"] == member_identity(ALICE)
    assert all(isinstance(value, str) for value in claims.values())
    # API Gateway passes the header on to the function, as it is.
    assert event["headers"]["Authorization"] == f"Bearer {token}"


def test_a_bare_token_is_accepted_as_api_gateway_accepts_it(
    tmp_path: Path, connection: http.client.HTTPConnection, handler: RecordingHandler
) -> None:
    connection.request("GET", "/health", headers={"Authorization": token_for(tmp_path)})
    response = connection.getresponse()
    response.read()

    assert response.status == 200
    assert len(handler.events) == 1


def _expired(data_dir: Path) -> str:
    return token_for(data_dir, ttl_seconds=60, now=lambda: 1_700_000_000)


def _signed(data_dir: Path, **changes: Any) -> str:
    claims = identity.id_token_claims(ALICE, issued_at=1_700_000_000, ttl_seconds=60)
    claims.update(changes, exp=4_000_000_000)
    return identity.sign(claims, identity.load_or_create_key(data_dir))


def _forged(data_dir: Path) -> str:
    header, payload, signature = token_for(data_dir).split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


# Each case: the Authorization headers to send, given the server's data directory.
BAD_TOKENS = {
    "missing": lambda d: [],
    "malformed": lambda d: [("Authorization", "Bearer not.a-token")],
    "forged": lambda d: [("Authorization", f"Bearer {_forged(d)}")],
    "expired": lambda d: [("Authorization", f"Bearer {_expired(d)}")],
    "wrong-audience": lambda d: [("Authorization", f"Bearer {_signed(d, aud='other')}")],
    "wrong-issuer": lambda d: [("Authorization", f"Bearer {_signed(d, iss='http://x')}")],
    "access-token": lambda d: [("Authorization", f"Bearer {_signed(d, token_use='access')}")],
    "another-data-dir": lambda d: [("Authorization", f"Bearer {token_for(d / 'other')}")],
    "bearer-no-token": lambda d: [("Authorization", "Bearer")],
    "two-headers": lambda d: [("Authorization", f"Bearer {token_for(d)}")] * 2,
    "huge": lambda d: [("Authorization", "Bearer " + "a" * 60_000)],
    "basic": lambda d: [("Authorization", "Basic YWxpY2U6c2VjcmV0")],
}


@pytest.mark.parametrize("case", BAD_TOKENS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_request_without_a_good_token_is_a_401_the_handler_never_sees(
    tmp_path: Path,
    connection: http.client.HTTPConnection,
    handler: RecordingHandler,
    case: str,
    method: str,
) -> None:
    headers = BAD_TOKENS[case](tmp_path)
    connection.putrequest(method, "/workspaces")
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    content = response.read()

    assert response.status == 401
    assert response.getheader("Content-Type") == "application/json"
    request_id = response.getheader("x-amzn-RequestId")
    assert request_id
    if method == "GET":
        assert json.loads(content) == unauthorized_body(request_id)
    else:
        assert content == b""
        assert int(response.getheader("Content-Length", "0")) > 0
    assert handler.events == []


def test_health_and_the_documents_need_a_token_as_in_the_deployed_stack(
    tmp_path: Path, connection: http.client.HTTPConnection, handler: RecordingHandler
) -> None:
    statuses = {}
    for path in ("/health", "/openapi.json", "/swagger", "/", "/no/such/route"):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        statuses[path] = response.status

    assert set(statuses.values()) == {401}
    assert handler.events == []


def test_a_refused_request_leaves_the_connection_usable(
    tmp_path: Path, connection: http.client.HTTPConnection, handler: RecordingHandler
) -> None:
    connection.request("POST", "/workspaces", b'{"name": "refused"}', {"Authorization": "Bearer"})
    refused = connection.getresponse()
    refused.read()
    connection.request(
        "GET", "/workspaces", headers={"Authorization": f"Bearer {token_for(tmp_path)}"}
    )
    answered = connection.getresponse()

    assert (refused.status, answered.status) == (401, 200)
    assert json.loads(answered.read())["workspaces"] == []  # the refused POST made nothing
    assert len(handler.events) == 1


def test_a_non_ascii_authorization_header_is_a_401(
    server: LocalApiServer, handler: RecordingHandler
) -> None:
    # Sent as raw bytes: http.client would refuse to encode it.
    with socket.create_connection(server.server_address[:2], timeout=PROMPTLY) as sock:
        sock.sendall(
            b"GET /workspaces HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer \xc3\xa9t\xc3\xa9.a.b\r\n\r\n"
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())

    assert response.status == 401
    assert body["error"] == "not_authenticated"
    assert handler.events == []


def test_a_header_over_the_gateways_line_limit_is_refused_before_authentication(
    server: LocalApiServer, handler: RecordingHandler
) -> None:
    with socket.create_connection(server.server_address[:2], timeout=PROMPTLY) as sock:
        # One byte over the stdlib's 65536 per line, all of it read: the close is clean.
        sock.sendall(b"GET /workspaces HTTP/1.1\r\nAuthorization: Bearer " + b"a" * 65_515)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())

    assert (response.status, body["error"]) == (431, "bad_request")
    assert handler.events == []
