"""Calling the API handler in unit tests: exactly as API Gateway (and ``taskapi serve``) would,
on a task service built over fakes and installed through ``bootstrap.override_runtime``."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

from taskapi import bootstrap
from taskapi.entrypoints import api
from taskapi.entrypoints.http_proxy import HttpReply, HttpRequest, invoke
from tests.fakes.service import ServiceHarness

JSON = ("Content-Type", "application/json")


@contextmanager
def installed(
    harness: ServiceHarness, idempotency: BasePersistenceLayer | None = None
) -> Iterator[ServiceHarness]:
    """The harness's service is the one the handler uses, for the duration."""
    runtime = bootstrap.Runtime(service=harness.service, dispatcher=None)
    if idempotency is not None:
        runtime = dataclasses.replace(runtime, idempotency=idempotency)
    with bootstrap.override_runtime(runtime):
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


@contextmanager
def logged_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON log lines written through the API's logger (its own and those of the
    ``taskapi.*`` loggers below it) while the block runs, as the Lambda log would hold them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(api.logger.registered_formatter)
    api.logger.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        api.logger.removeHandler(handler)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())
