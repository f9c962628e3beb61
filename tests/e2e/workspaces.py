"""Workspaces for the e2e tests: every test works in a workspace of its own, so tests share one
server (or a deployed stack with other data in it) and still see exactly their own tasks.

The paths are the API's (docs/api.md#workspaces): a workspace's tasks live under
``/workspaces/{workspace_id}/tasks``, and a member is named by their identity, percent-encoded
in the path (an IAM principal ARN has slashes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.e2e.http_client import ApiClient

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    name: str

    @property
    def path(self) -> str:
        return f"/workspaces/{self.workspace_id}"

    @property
    def tasks(self) -> str:
        return f"{self.path}/tasks"

    @property
    def members(self) -> str:
        return f"{self.path}/members"

    def task(self, task_id: str) -> str:
        return f"{self.tasks}/{task_id}"

    def dependents(self, task_id: str) -> str:
        return f"{self.task(task_id)}/dependents"

    def member(self, identity: str) -> str:
        return f"{self.members}/{quote(identity, safe='')}"


def create_workspace(api: ApiClient, name: str | None = None) -> Workspace:
    """A new workspace whose owner is ``api``'s caller."""
    name = name or f"e2e {uuid.uuid4().hex[:12]}"
    reply = api.post("/workspaces", json_body={"name": name})
    assert reply.status == 201, reply.body
    body = reply.json()
    assert (body["name"], body["role"]) == (name, "owner")
    return Workspace(workspace_id=body["workspace_id"], name=name)


def create_task(api: ApiClient, workspace: Workspace, **fields: Any) -> dict[str, Any]:
    """A new task of ``workspace``, created by ``api``'s caller; its JSON."""
    reply = api.post(workspace.tasks, json_body=fields)
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    assert task["workspace_id"] == workspace.workspace_id
    return task
