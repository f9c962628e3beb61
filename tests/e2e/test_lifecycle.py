"""A task's whole life over HTTP, against a running taskapi (see conftest.py).

Each test works in a workspace of its own (the ``workspace`` fixture), so the tests can share
one server (or a deployed stack with other data in it) and still list exactly their own tasks.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.e2e.http_client import ApiClient
from tests.e2e.workspaces import Workspace, create_task, create_workspace

pytestmark = pytest.mark.e2e


def unique_assignee() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


def path_of(api: ApiClient, location: str) -> str:
    """The API path a Location header points to, without the base URL's stage prefix."""
    prefix = urlsplit(api.base_url).path.rstrip("/")
    return location[len(prefix) :] if prefix and location.startswith(prefix + "/") else location


def test_the_lifecycle_of_tasks_with_dependencies(api: ApiClient, workspace: Workspace) -> None:
    owner = unique_assignee()

    # Create; the Location and ETag identify the new version.
    reply = api.post(
        workspace.tasks,
        json_body={"title": "Design the schema", "assignee": owner, "priority": "high"},
    )
    assert reply.status == 201
    base = reply.json()
    assert base["workspace_id"] == workspace.workspace_id
    location = reply.header("Location")
    assert location is not None
    assert location.endswith(workspace.task(base["task_id"]))
    assert reply.header("ETag") == '"1"'

    fetched = api.get(path_of(api, location))
    assert fetched.status == 200
    assert fetched.json() == base
    assert fetched.header("ETag") == '"1"'

    # Two tasks wait on it.
    depends = [base["task_id"]]
    build = create_task(api, workspace, title="Build the API", assignee=owner, dependencies=depends)
    test = create_task(api, workspace, title="Test the API", assignee=owner, dependencies=depends)
    create_task(api, workspace, title="Someone else's")  # filtered out below

    # List the owner's tasks, two per page, following next_token to the end.
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2, "assignee": owner}
    pages = 0
    while True:
        page = api.get(workspace.tasks, params=params)
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
    task_path = workspace.task(base["task_id"])
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
    assert api.delete(workspace.task(build["task_id"])).status == 204
    assert api.delete(workspace.task(test["task_id"]), headers={"If-Match": '"1"'}).status == 204
    assert api.delete(task_path, headers={"If-Match": '"3"'}).status == 204
    assert api.get(task_path).status == 404
    assert api.get(workspace.tasks, params={"assignee": owner}).json()["tasks"] == []


def test_a_retried_create_with_an_idempotency_key_creates_once(
    api: ApiClient, workspace: Workspace
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Send the invoice", "assignee": unique_assignee()}

    first = api.post(workspace.tasks, json_body=body, headers=key)
    retry = api.post(workspace.tasks, json_body=body, headers=key)
    changed = api.post(
        workspace.tasks, json_body={**body, "title": "Send two invoices"}, headers=key
    )

    assert (first.status, retry.status, changed.status) == (201, 201, 422)
    assert retry.json() == first.json()
    assert retry.header("Idempotent-Replayed") == "true"
    assert [t["task_id"] for t in api.get(workspace.tasks).json()["tasks"]] == [
        first.json()["task_id"]
    ]


def test_a_workspace_is_renamed_and_deleted_once_it_holds_no_tasks(api: ApiClient) -> None:
    workspace = create_workspace(api)
    task = create_task(api, workspace, title="Keeps the workspace")

    renamed = api.put(workspace.path, json_body={"name": "Renamed"}, headers={"If-Match": '"1"'})
    assert (renamed.status, renamed.header("ETag"), renamed.json()["name"]) == (
        200,
        '"2"',
        "Renamed",
    )
    assert workspace.workspace_id in {
        w["workspace_id"] for w in listed_workspaces(api) if w["name"] == "Renamed"
    }

    refused = api.delete(workspace.path)
    assert (refused.status, refused.json()["error"]) == (409, "workspace_not_empty")
    assert api.delete(workspace.task(task["task_id"])).status == 204
    assert api.delete(workspace.path, headers={"If-Match": '"2"'}).status == 204

    gone = api.get(workspace.path)
    assert (gone.status, gone.json()["error"]) == (404, "workspace_not_found")
    assert api.get(workspace.tasks).status == 404
    assert workspace.workspace_id not in {w["workspace_id"] for w in listed_workspaces(api)}


def listed_workspaces(api: ApiClient) -> list[dict[str, Any]]:
    """Every workspace of ``api``'s caller, following next_token to the end."""
    listed: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 100}
    while True:
        reply = api.get("/workspaces", params=params)
        assert reply.status == 200, reply.body
        listed += reply.json()["workspaces"]
        token = reply.json()["pagination"]["next_token"]
        if token is None:
            return listed
        params["next_token"] = token


def test_http_errors_over_the_wire(api: ApiClient, workspace: Workspace) -> None:
    wrong_type = api.post(
        workspace.tasks, json_body={"title": "t"}, headers={"content-type": "text/plain"}
    )
    wrong_method = api.request("PATCH", workspace.tasks)
    unknown = api.get("/no/such/route")
    old_route = api.get("/tasks")  # before 0.2.0, tasks had no workspace
    too_big = api.post(workspace.tasks, json_body={"title": "t", "description": "x" * 70_000})
    not_a_uuid = api.get(workspace.task("42"))
    not_a_workspace_id = api.get("/workspaces/42/tasks")

    assert (wrong_type.status, wrong_type.json()["error"]) == (415, "unsupported_media_type")
    # HEAD wherever GET is: the function answers it as GET.
    assert (wrong_method.status, wrong_method.header("Allow")) == (405, "GET, HEAD, POST")
    assert (unknown.status, unknown.json()["error"]) == (404, "not_found")
    assert (old_route.status, old_route.json()["error"]) == (404, "not_found")
    assert (too_big.status, too_big.json()["error"]) == (413, "payload_too_large")
    assert (not_a_uuid.status, not_a_uuid.json()["error"]) == (400, "validation_error")
    assert (not_a_workspace_id.status, not_a_workspace_id.json()["error"]) == (
        400,
        "validation_error",
    )


def test_the_openapi_document_is_served(api: ApiClient) -> None:
    reply = api.get("/openapi.json")

    assert reply.status == 200
    paths = reply.json()["paths"]
    assert "/workspaces/{workspace_id}/tasks/{task_id}" in paths
    assert "/workspaces/{workspace_id}/members/{member}" in paths
    assert not [path for path in paths if path.startswith("/tasks")]


@pytest.mark.parametrize("blank", ["   ", "\u00a0", "\u3000\u2028"])
def test_a_blank_workspace_name_is_refused_and_the_workspace_stays_readable(
    api: ApiClient, workspace: Workspace, blank: str
) -> None:
    # Non-ASCII spaces once passed as a name and were stored empty: no read of the workspace
    # (or of its members' lists of workspaces) could validate it again.
    renamed = api.put(workspace.path, json_body={"name": blank})
    created = api.post("/workspaces", json_body={"name": blank})

    for reply in (renamed, created):
        assert (reply.status, reply.json()["error"]) == (400, "validation_error")
        assert [d["field"] for d in reply.json()["details"]] == ["body.name"]
    read = api.get(workspace.path)
    assert (read.status, read.json()["name"], read.json()["version"]) == (200, workspace.name, 1)
    assert workspace.workspace_id in {w["workspace_id"] for w in listed_workspaces(api)}
