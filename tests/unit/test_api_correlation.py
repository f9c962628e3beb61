"""One correlation id from an HTTP request to the notification it causes, on the local path:
the API handler (as ``taskapi serve`` calls it), the outbox dispatcher in a thread of its own
(as the pump runs it) and the notification service writing the mailbox. The AWS path (stream
relay, EventBridge) is tests/integration/test_event_path.py's.

The id is the caller's ``X-Correlation-Id`` when it is valid (1 to 128 visible ASCII
characters), else API Gateway's request id; an invalid header is ignored, never refused.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints import api
from taskapi.entrypoints.http.correlation import CORRELATION_HEADER, correlation_id_of
from taskapi.local.environment import ENVIRONMENT
from taskapi.local.proxy import HttpReply, HttpRequest, LocalLambdaContext, invoke
from taskapi.service.commands import CreateTask, UpdateTask
from tests.fakes.service import build_service
from tests.fakes.subscribers import RecordingSubscriber
from tests.fakes.workspaces import create_workspace
from tests.unit.api_helpers import JSON, OWNER, TASKS, call, claims_of, installed, logged_lines

REQUEST_ID = "3f1c2b9a-0d4e-4a8f-9b7c-6e5d4c3b2a10"


def _event(headers: dict[str, str]) -> dict[str, Any]:
    return {"headers": headers, "requestContext": {"requestId": REQUEST_ID}}


def post(
    runtime: bootstrap.Runtime, workspace: str, body: dict[str, Any], *headers: tuple[str, str]
) -> HttpReply:
    request = HttpRequest(
        "POST", f"/workspaces/{workspace}/tasks", [JSON, *headers], json.dumps(body).encode()
    )
    context = LocalLambdaContext(aws_request_id=REQUEST_ID)
    with bootstrap.override_runtime(runtime):
        return invoke(api.lambda_handler, request, context=context, claims=claims_of(OWNER))


def pump(runtime: bootstrap.Runtime) -> None:
    """Deliver the outbox as `taskapi serve`'s pump does: in its own thread, between
    invocations (so no request's Powertools keys are in force)."""
    assert runtime.dispatcher is not None
    dispatcher = runtime.dispatcher

    def run() -> None:
        with ENVIRONMENT.between_invocations():
            dispatcher.dispatch_pending()

    thread = threading.Thread(target=run, name="outbox-pump")
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_one_id_follows_a_request_to_the_notification_it_causes(tmp_path: Path) -> None:
    runtime = bootstrap.build_runtime(Settings(store="sqlite", data_dir=tmp_path))
    assert runtime.dispatcher is not None
    recorder = RecordingSubscriber()
    runtime.dispatcher.subscribe(recorder)
    access = create_workspace(runtime, "Team")
    correlation_id = "checkout-7f3a9b21"

    with logged_lines() as lines:
        reply = post(
            runtime,
            str(access.workspace_id),
            {"title": "Review", "assignee": "ana@example.com"},
            (CORRELATION_HEADER, correlation_id),
        )
        pump(runtime)

    assert reply.status == 201
    assert reply.header(CORRELATION_HEADER) == correlation_id
    # The event, as the outbox delivered it...
    [event] = recorder.delivered
    assert event.correlation_id == correlation_id
    # ...the API's line, the dispatcher's and the mailbox's (the notification service's)...
    messages = {line["message"]: line for line in lines}
    assert messages["task created"]["correlation_id"] == correlation_id
    assert messages["outbox event delivered"]["correlation_id"] == correlation_id
    [sent] = [m for m in messages if m.startswith("notification to ana@example.com")]
    assert messages[sent]["correlation_id"] == correlation_id
    # ...every one of them, whichever logger wrote it...
    assert {line.get("correlation_id") for line in lines} == {correlation_id}
    # ...and the notification it caused.
    [entry] = [
        json.loads(line)
        for line in (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert (entry["kind"], entry["correlation_id"]) == ("task_assigned", correlation_id)


def test_without_the_header_the_request_id_is_the_correlation_id(tmp_path: Path) -> None:
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    assert runtime.dispatcher is not None
    recorder = RecordingSubscriber()
    runtime.dispatcher.subscribe(recorder)
    access = create_workspace(runtime, "Team")

    reply = post(runtime, str(access.workspace_id), {"title": "t"})
    pump(runtime)

    assert reply.header(CORRELATION_HEADER) == REQUEST_ID
    assert [e.correlation_id for e in recorder.delivered] == [REQUEST_ID]


def test_updates_and_deletes_carry_their_own_requests_id(tmp_path: Path) -> None:
    runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    assert runtime.dispatcher is not None
    recorder = RecordingSubscriber()
    runtime.dispatcher.subscribe(recorder)
    access = create_workspace(runtime, "Team")
    task = runtime.service.create(access, CreateTask(title="t"))  # no request: no id
    updated = runtime.service.update(
        replace(access, correlation_id="second"), task.task_id, UpdateTask(title="t2"), 1
    )
    runtime.service.delete(replace(access, correlation_id="third"), task.task_id, updated.version)
    runtime.dispatcher.dispatch_pending()

    assert [(e.event_type, e.correlation_id) for e in recorder.delivered] == [
        ("TaskCreated", None),
        ("TaskUpdated", "second"),
        ("TaskDeleted", "third"),
    ]


@pytest.mark.parametrize(
    "given",
    ["x", "A-b_c.d:e/f@g=1", "!" * 128, "~" + "0" * 127],
    ids=["one-char", "punctuation", "128-chars", "tilde"],
)
def test_a_valid_header_is_the_correlation_id(given: str) -> None:
    assert correlation_id_of(_event({CORRELATION_HEADER: given})) == given


@pytest.mark.parametrize("name", ["x-correlation-id", "X-CORRELATION-ID", "X-Correlation-Id"])
def test_the_header_name_is_case_insensitive(name: str) -> None:
    assert correlation_id_of(_event({name: "abc"})) == "abc"


@pytest.mark.parametrize(
    "given",
    ["", " ", "has space", "x" * 129, "caf\u00e9", "tab\there", "new\nline", "nul\x00", "\x7f"],
    ids=["empty", "space", "inner-space", "129-chars", "non-ascii", "tab", "newline", "nul", "del"],
)
def test_an_invalid_header_is_ignored_for_the_request_id(given: str) -> None:
    assert correlation_id_of(_event({CORRELATION_HEADER: given})) == REQUEST_ID


def test_an_invalid_header_does_not_fail_the_request_and_the_reply_names_the_id_used() -> None:
    request = HttpRequest("POST", TASKS, [JSON, (CORRELATION_HEADER, "bad id")], b'{"title": "t"}')
    context = LocalLambdaContext(aws_request_id=REQUEST_ID)
    with installed(build_service()), logged_lines() as lines:
        reply = invoke(api.lambda_handler, request, context=context, claims=claims_of(OWNER))

    assert reply.status == 201
    assert reply.header(CORRELATION_HEADER) == REQUEST_ID
    assert [line["correlation_id"] for line in lines if line["message"] == "task created"] == [
        REQUEST_ID
    ]


def test_an_error_reply_echoes_the_id_too() -> None:
    with installed(build_service()):
        missing = "00000000-0000-4000-8000-000000000000"
        reply = call("GET", f"{TASKS}/{missing}", headers=[(CORRELATION_HEADER, "lost-1")])

    assert reply.status == 404
    assert reply.header(CORRELATION_HEADER) == "lost-1"


def test_the_openapi_document_shows_the_header_on_every_operation_and_reply() -> None:
    """The header is part of the contract clients read, though no route declares it: any
    value is accepted (an invalid one is ignored), and every reply documents the echo, whose
    schema is exactly what the API takes as valid."""
    document = api.app.get_openapi_schema().model_dump(by_alias=True, exclude_none=True)
    operations = [
        operation
        for path_item in document["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict)
    ]
    assert len(operations) > 10
    for operation in operations:
        [parameter] = [p for p in operation["parameters"] if p["name"] == CORRELATION_HEADER]
        assert (parameter["in"], parameter["required"], parameter["schema"]) == (
            "header",
            False,
            {"type": "string"},
        )
        for response in operation["responses"].values():
            assert CORRELATION_HEADER in response["headers"]
    [echo_schema] = {  # one schema for every reply
        json.dumps(response["headers"][CORRELATION_HEADER]["schema"], sort_keys=True)
        for operation in operations
        for response in operation["responses"].values()
    }
    echo = json.loads(echo_schema)
    pattern = re.compile(echo["pattern"])
    for value in ("checkout-7f3a9b21", REQUEST_ID, "x" * 128, "x" * 129, "has space", "é", ""):
        documented = echo["minLength"] <= len(value) <= echo["maxLength"] and bool(
            pattern.search(value)
        )
        taken = correlation_id_of(_event({CORRELATION_HEADER: value})) == value
        assert documented == taken, value
