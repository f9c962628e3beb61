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
from tests.fakes.logs import logged_lines
from tests.fakes.service import ServiceHarness

__all__ = ["logged_lines"]  # re-exported for the API tests

JSON = ("Content-Type", "application/json")


@contextmanager
def installed(harness: ServiceHarness) -> Iterator[ServiceHarness]:
    """The harness's service is the one the handler uses, for the duration."""
    with bootstrap.override_services(harness.service, harness.workspaces):
        yield harness


def call(
    method: str, target: str, body: Any = None, headers: Sequence[tuple[str, str]] = ()
) -> HttpReply:
    """One request through the handler. ``body`` bytes are sent as they are; anything else
    but None is sent as JSON, with its Content-Type."""
    sent = list(headers)
    raw = b""
    if isinstance(body, bytes):
        raw = body
    elif body is not None:
        raw = json.dumps(body).encode()
        sent.append(JSON)
    return invoke(api.lambda_handler, HttpRequest(method, target, sent, raw))


def create(**fields: Any) -> dict[str, Any]:
    """A task created through the API (title "a task" unless given)."""
    reply = call("POST", "/tasks", {"title": "a task", **fields})
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task
