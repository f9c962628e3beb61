"""A task's whole life over HTTP, against a running taskapi (see conftest.py).

Each test tags its tasks with an assignee address of its own, so the tests can share one
server (or a deployed stack with other data in it) and still list exactly their own tasks.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.e2e.http_client import ApiClient

pytestmark = pytest.mark.e2e


def unique_assignee() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


def created(api: ApiClient, **fields: Any) -> dict[str, Any]:
    reply = api.post("/tasks", json_body=fields)
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task


def path_of(api: ApiClient, location: str) -> str:
    """The API path a Location header points to, without the base URL's stage prefix."""
    prefix = urlsplit(api.base_url).path.rstrip("/")
    return location[len(prefix) :] if prefix and location.startswith(prefix + "/") else location


def test_the_lifecycle_of_tasks_with_dependencies(api: ApiClient) -> None:
    owner = unique_assignee()

    # Create; the Location and ETag identify the new version.
    reply = api.post(
        "/tasks", json_body={"title": "Design the schema", "assignee": owner, "priority": "high"}
    )
    assert reply.status == 201
    base = reply.json()
    location = reply.header("Location")
    assert location is not None
    assert location.endswith(f"/tasks/{base['task_id']}")
    assert reply.header("ETag") == '"1"'

    fetched = api.get(path_of(api, location))
    assert fetched.status == 200
    assert fetched.json() == base
    assert fetched.header("ETag") == '"1"'

    # Two tasks wait on it.
    build = created(api, title="Build the API", assignee=owner, dependencies=[base["task_id"]])
    test = created(api, title="Test the API", assignee=owner, dependencies=[base["task_id"]])

    # List this test's tasks, two per page, following next_token to the end.
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2, "assignee": owner}
    pages = 0
    while True:
        page = api.get("/tasks", params=params)
        assert page.status == 200
        body = page.json()
        assert body["pagination"]["limit"] == 2
        seen += [task["task_id"] for task in body["tasks"]]
        pages += 1
        if body["pagination"]["next_token"] is None:
            break
        params["next_token"] = body["pagination"]["next_token"]
    assert pages == 2
    assert seen == [base["task_id"], build["task_id"], test["task_id"]]  # oldest first

    # Update with the version in the body; a stale version loses, with the current task.
    task_path = f"/tasks/{base['task_id']}"
    started = api.put(task_path, json_body={"status": "in_progress", "version": 1})
    assert started.status == 200
    assert started.json()["version"] == 2
    assert started.header("ETag") == '"2"'

    stale = api.put(task_path, json_body={"title": "Lost update", "version": 1})
    assert stale.status == 409
    assert stale.json()["error"] == "version_conflict"
    assert stale.json()["current_task"] == started.json()

    # The same with If-Match: a stale ETag is a 412, the current one wins.
    refused = api.put(task_path, json_body={"title": "Lost"}, headers={"If-Match": '"1"'})
    assert refused.status == 412
    done = api.put(task_path, json_body={"status": "completed"}, headers={"If-Match": '"2"'})
    assert done.status == 200
    assert done.json()["status"] == "completed"
    assert done.header("ETag") == '"3"'

    # Who depends on it.
    dependents = api.get(f"{task_path}/dependents")
    assert dependents.status == 200
    assert {t["task_id"] for t in dependents.json()["tasks"]} == {build["task_id"], test["task_id"]}

    # Deleting it is refused while they do; then allowed.
    blocked = api.delete(task_path)
    assert blocked.status == 409
    assert set(blocked.json()["details"]["dependents"]) == {build["task_id"], test["task_id"]}
    assert api.delete(f"/tasks/{build['task_id']}").status == 204
    assert api.delete(f"/tasks/{test['task_id']}", headers={"If-Match": '"1"'}).status == 204
    assert api.delete(task_path, headers={"If-Match": '"3"'}).status == 204
    assert api.get(task_path).status == 404
    assert api.get("/tasks", params={"assignee": owner}).json()["tasks"] == []


def test_a_retried_create_with_an_idempotency_key_creates_once(api: ApiClient) -> None:
    owner = unique_assignee()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Send the invoice", "assignee": owner}

    first = api.post("/tasks", json_body=body, headers=key)
    retry = api.post("/tasks", json_body=body, headers=key)
    changed = api.post("/tasks", json_body={**body, "title": "Send two invoices"}, headers=key)

    assert (first.status, retry.status, changed.status) == (201, 201, 422)
    assert retry.json() == first.json()
    assert retry.header("Idempotent-Replayed") == "true"
    assert len(api.get("/tasks", params={"assignee": owner}).json()["tasks"]) == 1


def test_http_errors_over_the_wire(api: ApiClient) -> None:
    wrong_type = api.post(
        "/tasks", json_body={"title": "t"}, headers={"content-type": "text/plain"}
    )
    wrong_method = api.request("PATCH", "/tasks")
    unknown = api.get("/no/such/route")
    too_big = api.post("/tasks", json_body={"title": "t", "description": "x" * 70_000})
    not_a_uuid = api.get("/tasks/42")

    assert (wrong_type.status, wrong_type.json()["error"]) == (415, "unsupported_media_type")
    # HEAD wherever GET is: the function answers it as GET.
    assert (wrong_method.status, wrong_method.header("Allow")) == (405, "GET, HEAD, POST")
    assert (unknown.status, unknown.json()["error"]) == (404, "not_found")
    assert (too_big.status, too_big.json()["error"]) == (413, "payload_too_large")
    assert (not_a_uuid.status, not_a_uuid.json()["error"]) == (400, "validation_error")


def test_the_openapi_document_is_served(api: ApiClient) -> None:
    reply = api.get("/openapi.json")

    assert reply.status == 200
    assert "/tasks/{task_id}" in reply.json()["paths"]
