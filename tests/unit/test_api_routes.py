"""The HTTP contract of every route's success path: status, headers, body shape.

The handler runs exactly as behind API Gateway (an event in, a proxy response out) on a task
service built over the in-memory store, installed through ``bootstrap.override_runtime``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import UUID

import pytest

from taskapi.domain.errors import DomainError
from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.http.errors import ERROR_TABLE
from taskapi.entrypoints.http.schemas import (
    DeleteConflictBody,
    ErrorBody,
    VersionConflictBody,
    WorkspaceConflictBody,
)
from taskapi.local.proxy import LocalLambdaContext, from_proxy_response
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import OWNER, TASKS, call, claims_of, create, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


TASK_FIELDS = {
    "task_id",
    "workspace_id",
    "title",
    "description",
    "status",
    "priority",
    "dependencies",
    "due_at",
    "assignee",
    "created_at",
    "updated_at",
    "version",
}


def test_create_answers_201_with_location_etag_and_the_task(harness: ServiceHarness) -> None:
    reply = call(
        "POST",
        f"{TASKS}",
        {
            "title": "  Plan the offsite  ",
            "priority": "high",
            "due_at": "2030-01-01T10:00:00+02:00",
            "assignee": "ana@example.com",
        },
    )

    assert reply.status == 201
    task = reply.json()
    assert set(task) == TASK_FIELDS
    assert task["title"] == "Plan the offsite"
    assert task["status"] == "pending"
    assert task["priority"] == "high"
    assert task["due_at"] == "2030-01-01T08:00:00Z"
    assert task["version"] == 1
    assert reply.header("Location") == f"{TASKS}/{task['task_id']}"
    assert reply.header("ETag") == '"1"'
    assert reply.header("Content-Type") == "application/json"
    assert reply.header("Idempotent-Replayed") is None
    assert harness.stored_tasks()[UUID(task["task_id"])].title == "Plan the offsite"


def test_create_accepts_an_initial_status_and_existing_dependencies(
    harness: ServiceHarness,
) -> None:
    dependency = create()

    task = create(status="in_progress", dependencies=[dependency["task_id"]])

    assert task["status"] == "in_progress"
    assert task["dependencies"] == [dependency["task_id"]]


def test_location_includes_the_stage_when_the_path_does(harness: ServiceHarness) -> None:
    # Behind a REST API stage the public path is /<stage>/tasks; the event's path is /tasks.
    event = {
        "resource": "/{proxy+}",
        "path": f"{TASKS}",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": TASKS.lstrip("/")},
        "requestContext": {
            "stage": "prod",
            "path": f"/prod{TASKS}",
            "requestId": "r-1",
            "authorizer": {"claims": claims_of(OWNER)},
        },
        "body": json.dumps({"title": "staged"}),
        "isBase64Encoded": False,
    }
    reply = from_proxy_response(lambda_handler(event, LocalLambdaContext()))

    assert reply.status == 201
    assert reply.header("Location") == f"/prod{TASKS}/{reply.json()['task_id']}"


def test_get_answers_the_task_with_its_etag(harness: ServiceHarness) -> None:
    created = create(description="details")

    reply = call("GET", f"{TASKS}/{created['task_id']}")

    assert reply.status == 200
    assert reply.json() == created
    assert reply.header("ETag") == '"1"'


def test_list_answers_tasks_and_pagination_in_a_stable_order(harness: ServiceHarness) -> None:
    ids = [create(title=f"task {n}")["task_id"] for n in range(5)]

    pages: list[list[str]] = []
    target = f"{TASKS}?limit=2"
    while True:
        reply = call("GET", target)
        assert reply.status == 200
        body = reply.json()
        assert set(body) == {"tasks", "pagination"}
        assert body["pagination"]["limit"] == 2
        pages.append([task["task_id"] for task in body["tasks"]])
        token = body["pagination"]["next_token"]
        if token is None:
            break
        target = f"{TASKS}?limit=2&next_token={token}"

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [task_id for page in pages for task_id in page] == sorted(ids)


def test_list_defaults_to_50_and_filters_combine(harness: ServiceHarness) -> None:
    create(priority="high", assignee="ana@example.com")
    create(priority="high", assignee="bo@example.com")
    create(priority="low", assignee="ana@example.com")

    everything = call("GET", f"{TASKS}").json()
    filtered = call("GET", f"{TASKS}?priority=high&assignee=ana@example.com&status=pending").json()

    assert everything["pagination"] == {"limit": 50, "next_token": None}
    assert len(everything["tasks"]) == 3
    assert [(t["priority"], t["assignee"]) for t in filtered["tasks"]] == [
        ("high", "ana@example.com")
    ]


def test_update_with_version_in_the_body(harness: ServiceHarness) -> None:
    created = create()

    reply = call("PUT", f"{TASKS}/{created['task_id']}", {"status": "in_progress", "version": 1})

    assert reply.status == 200
    task = reply.json()
    assert task["status"] == "in_progress"
    assert task["version"] == 2
    assert task["title"] == created["title"]  # partial update
    assert reply.header("ETag") == '"2"'


def test_update_with_if_match(harness: ServiceHarness) -> None:
    created = create(description="old")

    reply = call(
        "PUT",
        f"{TASKS}/{created['task_id']}",
        {"description": None, "priority": "low"},
        headers=[("If-Match", '"1"')],
    )

    assert reply.status == 200
    assert reply.json()["description"] is None  # an explicit null clears the field
    assert reply.json()["priority"] == "low"
    assert reply.header("ETag") == '"2"'


def test_update_that_changes_nothing_keeps_the_version(harness: ServiceHarness) -> None:
    created = create(priority="low")

    reply = call("PUT", f"{TASKS}/{created['task_id']}", {"priority": "low", "version": 1})

    assert reply.status == 200
    assert reply.json()["version"] == 1
    assert reply.header("ETag") == '"1"'


def test_delete_answers_204_without_a_body(harness: ServiceHarness) -> None:
    created = create()

    reply = call("DELETE", f"{TASKS}/{created['task_id']}")

    assert reply.status == 204
    assert reply.body == b""
    assert call("GET", f"{TASKS}/{created['task_id']}").status == 404


def test_dependents_lists_the_tasks_that_depend_on_a_task(harness: ServiceHarness) -> None:
    base = create(title="base")
    first = create(title="first", dependencies=[base["task_id"]])
    create(title="unrelated")
    second = create(title="second", dependencies=[base["task_id"]])

    reply = call("GET", f"{TASKS}/{base['task_id']}/dependents")

    assert reply.status == 200
    titles = sorted(task["title"] for task in reply.json()["tasks"])
    assert titles == sorted([first["title"], second["title"]])
    assert call("GET", f"{TASKS}/{first['task_id']}/dependents").json() == {
        "tasks": [],
        "pagination": {"limit": 50, "next_token": None},
    }


def test_head_is_answered_as_get_by_the_api_itself(harness: ServiceHarness) -> None:
    # In AWS the function gets HEAD too: the API answers it, the HTTP front drops the content.
    task = create()
    for target in ("/health", f"{TASKS}?limit=1", f"{TASKS}/{task['task_id']}"):
        got, head = call("GET", target), call("HEAD", target)

        assert (head.status, head.header("ETag")) == (got.status, got.header("ETag")), target
        assert head.header("Content-Type") == got.header("Content-Type")
    missing = call("HEAD", f"{TASKS}/00000000-0000-4000-8000-000000000999")
    assert (missing.status, missing.json()["error"]) == (404, "task_not_found")


def test_health(harness: ServiceHarness) -> None:
    reply = call("GET", "/health")

    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["service"] == "taskapi"


def test_openapi_document_describes_every_route_and_status(harness: ServiceHarness) -> None:
    reply = call("GET", "/openapi.json")

    assert reply.status == 200
    document = reply.json()
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    ws, task = "/workspaces/{workspace_id}", "/workspaces/{workspace_id}/tasks/{task_id}"
    member = f"{ws}/members/{{member}}"
    # Every status each route can answer (the fuzz tests check that it answers no other).
    statuses = {key: " ".join(sorted(op["responses"])) for key, op in operations.items()}
    assert statuses == {
        ("GET", "/health"): "200 401 500 503",
        ("POST", "/workspaces"): "201 400 401 413 415 500 503",
        ("GET", "/workspaces"): "200 400 401 500 503",
        ("GET", ws): "200 400 401 404 500 503",
        ("PUT", ws): "200 400 401 403 404 409 412 413 415 500 503",
        ("DELETE", ws): "204 400 401 403 404 409 412 500 503",
        ("GET", f"{ws}/members"): "200 400 401 404 500 503",
        ("PUT", member): "200 201 400 401 403 404 409 413 415 500 503",
        ("DELETE", member): "204 400 401 403 404 409 500 503",
        ("POST", f"{ws}/tasks"): "201 400 401 403 404 413 415 422 500 503",
        ("GET", f"{ws}/tasks"): "200 400 401 404 500 503",
        ("GET", task): "200 400 401 404 500 503",
        ("PUT", task): "200 400 401 403 404 409 412 413 415 428 500 503",
        ("DELETE", task): "204 400 401 403 404 409 412 500 503",
        ("GET", f"{task}/dependents"): "200 400 401 404 500 503",
    }
    # The framework's default 422 "HTTPValidationError" is not this API's contract.
    assert "HTTPValidationError" not in json.dumps(document)
    assert document["info"]["title"] == "taskapi"


def test_every_error_response_in_the_document_shows_real_errors(harness: ServiceHarness) -> None:
    document = call("GET", "/openapi.json").json()
    codes = {}  # status -> the error codes the table answers it with
    for rule in ERROR_TABLE.values():
        codes.setdefault(str(int(rule.status)), set()).add(rule.code)
    # The gateway's own answer (API Gateway's, or the local one's), never the table's.
    codes["401"] = {"not_authenticated"}
    models = {
        model.__name__: model
        for model in (
            ErrorBody,
            VersionConflictBody,
            DeleteConflictBody,
            WorkspaceConflictBody,
        )
    }
    shown = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                content = response["content"]["application/json"]
                model = models[content["schema"]["$ref"].rsplit("/", 1)[-1]]
                examples = content.get("examples", {})
                assert examples, (method, path, status)
                for example in examples.values():
                    body = model.model_validate(example["value"])
                    assert body.error in codes[status], (method, path, status, body.error)
                    assert body.message not in ("", "string")
                    shown.add(body.error)
    # Between them, the examples show every code in the table but routing's, which belong to
    # no operation, and the fallback of the DomainError base class, which no error carries.
    unshown = {DomainError.code, "not_found", "method_not_allowed"}
    assert shown == {rule.code for rule in ERROR_TABLE.values()} - unshown | {"not_authenticated"}


def test_swagger_ui_is_served(harness: ServiceHarness) -> None:
    reply = call("GET", "/swagger")

    assert reply.status == 200
    assert reply.header("Content-Type") == "text/html"
    assert b"swagger" in reply.body.lower()
