"""Calling the API handler in unit tests: exactly as API Gateway (and ``taskapi serve``) would,
on a task service built over fakes and installed through ``bootstrap.override_runtime``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from taskapi import bootstrap
from taskapi.entrypoints import api
from taskapi.local.proxy import HttpReply, HttpRequest, invoke
from tests.fakes.builders import OWNER, WORKSPACE_ID
from tests.fakes.logs import logged_lines
from tests.fakes.service import ServiceHarness

__all__ = ["OWNER", "WORKSPACE_ID", "logged_lines"]  # re-exported for the API tests

JSON = ("Content-Type", "application/json")
# The harness's workspace, whose owner every request is made by unless it says otherwise.
WORKSPACE = f"/workspaces/{WORKSPACE_ID}"
TASKS = f"{WORKSPACE}/tasks"


def claims_of(caller: str | None) -> dict[str, str] | None:
    """What API Gateway's authorizer would put in the event for ``caller``: Cognito claims
    for ``cognito:<sub>``; nothing for ``None`` (no identity at all)."""
    if caller is None:
        return None
    kind, _, subject = caller.partition(":")
    assert kind == "cognito", "the API tests call as Cognito users"
    return {"sub": subject, "token_use": "id"}


@contextmanager
def installed(harness: ServiceHarness) -> Iterator[ServiceHarness]:
    """The harness's service is the one the handler uses, for the duration."""
    with bootstrap.override_services(harness.service, harness.workspaces):
        yield harness


def call(
    method: str,
    target: str,
    body: Any = None,
    headers: Sequence[tuple[str, str]] = (),
    *,
    caller: str | None = OWNER,
) -> HttpReply:
    """One request through the handler, by ``caller`` (``OWNER`` unless given; ``None``: no
    identity). ``body`` bytes are sent as they are; anything else but None is sent as JSON,
    with its Content-Type."""
    sent = list(headers)
    raw = b""
    if isinstance(body, bytes):
        raw = body
    elif body is not None:
        raw = json.dumps(body).encode()
        sent.append(JSON)
    request = HttpRequest(method, target, sent, raw)
    return invoke(api.lambda_handler, request, claims=claims_of(caller))


def create(**fields: Any) -> dict[str, Any]:
    """A task created through the API (title "a task" unless given)."""
    reply = call("POST", TASKS, {"title": "a task", **fields})
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task
