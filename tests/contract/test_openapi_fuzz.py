"""The OpenAPI document is a contract the API keeps: schemathesis fuzzes a live local server.

The server is the real ``LocalApiServer`` (the Lambda handler behind HTTP) on a free port, in
a thread, over the in-memory store. From the document it serves at ``/openapi.json``,
schemathesis generates valid and invalid requests for every operation and checks each
response: never a 5xx, only documented status codes, bodies and headers that match their
documented schemas, invalid input refused with a 4xx, unsupported methods answered with 405.

Every request carries a token, and the routes under a workspace are sent to one the token's
user owns (created first, with a task in it so that it cannot be deleted): a workspace id the
generator makes up would only ever reach its 404. Some generated ids are kept, for that 404.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.http.routes import openapi_json
from taskapi.local.gateway import serving
from tests.tokens import bearer, local_server

# Enough to reach every status of every operation, few enough to stay well under a minute.
EXAMPLES_PER_OPERATION = 100


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, pool_dir: Path) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=data_dir))
    server = local_server(lambda_handler, pool_dir)
    with bootstrap.override_runtime(runtime), serving(server, poll_interval=0.05):
        yield server.url


@pytest.fixture(scope="module")
def auth(pool_dir: Path) -> dict[str, str]:
    """A token the server accepts: every fuzzed request reaches the handler, whose contract
    this checks (what the gateway refuses without one is tested in tests/local)."""
    return bearer(pool_dir)


def post(url: str, body: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **auth}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        created: dict[str, Any] = json.load(response)
    return created


@pytest.fixture(scope="module")
def workspace_id(base_url: str, auth: dict[str, str]) -> str:
    """A workspace of the token's user, holding a task (so no fuzzed DELETE removes it)."""
    workspace = post(f"{base_url}/workspaces", {"name": "Fuzzed"}, auth)
    post(f"{base_url}/workspaces/{workspace['workspace_id']}/tasks", {"title": "Kept"}, auth)
    return str(workspace["workspace_id"])


# pydantic's EmailStr (email-validator) also refuses the special-use domains of RFC 6761, such
# as .test, which schemathesis' own email generator favours; Hypothesis' generator uses real
# top-level domains, so a generated "valid" address is one the API accepts.
schemathesis.openapi.format("email", st.emails())

# The document the handler generates, loaded eagerly so that schemathesis can generate one
# test per operation at collection time; the tests below check that the live server serves
# exactly this document, and send every generated request to it.
schema = schemathesis.openapi.from_dict(json.loads(openapi_json()))


def test_the_live_server_serves_the_fuzzed_document(base_url: str, auth: dict[str, str]) -> None:
    request = urllib.request.Request(f"{base_url}/openapi.json", headers=auth)
    with urllib.request.urlopen(request, timeout=10) as response:
        served = json.load(response)

    assert served == schema.raw_schema


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_response_keeps_the_contract(
    case: schemathesis.Case, base_url: str, auth: dict[str, str], workspace_id: str
) -> None:
    _in_our_workspace(case, workspace_id)
    excluded = [positive_data_acceptance] if _validity_depends_on_state(case) else []
    case.call_and_validate(base_url=base_url, headers=auth, excluded_checks=excluded)


# Requests that can be well-formed and still rightly refused, because what makes them valid is
# server state the generator cannot know: a page token must be one this API issued (else
# 400), dependencies must exist (else 400), an Idempotency-Key must not have been used with
# another body (else 422), and an update depends on the task as it is now: its version (409,
# 412, and 428 when no precondition is sent), its status (transitions). "Valid data is
# accepted" cannot be decided for them; every other check still applies.
_STATEFUL_QUERY = {"next_token"}
_STATEFUL_HEADERS = {"if-match", "idempotency-key"}


def _in_our_workspace(case: schemathesis.Case, workspace_id: str) -> None:
    """Send ``case`` to ``workspace_id`` if it names a workspace by a well-formed id (an
    ill-formed one stays, for its 400), but for one such id in eight, kept for the 404 of a
    workspace that does not exist."""
    parameters = case.path_parameters or {}
    generated = parameters.get("workspace_id")
    if not isinstance(generated, str):
        return
    try:
        made_up = uuid.UUID(generated)
    except ValueError:
        return
    if made_up.int % 8:
        parameters["workspace_id"] = workspace_id


def _validity_depends_on_state(case: schemathesis.Case) -> bool:
    headers = {name.lower() for name in case.headers or {}}
    body = case.body if isinstance(case.body, dict) else {}
    return bool(
        case.method.upper() == "PUT"
        or _STATEFUL_QUERY & set(case.query or {})
        or _STATEFUL_HEADERS & headers
        or body.get("dependencies")
    )
