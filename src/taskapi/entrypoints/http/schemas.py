"""Response bodies that exist because of HTTP: list envelopes, error bodies, health.

Request bodies are the service's command models and the task is the domain model; how each
route documents them is in ``openapi``. See docs/api.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskapi.domain.model import Task
from taskapi.domain.workspaces import Membership, Role, Workspace


class Pagination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(description="The page size that was applied.")
    next_token: str | None = Field(
        description="Pass as next_token to get the next page (with the same filters); "
        "null on the last page. Opaque and tamper-evident."
    )


class TaskList(BaseModel):
    """A page of tasks, oldest first (created_at, then task_id): a stable order."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[Task]
    pagination: Pagination


class DependentTasks(BaseModel):
    """A page of the tasks whose dependencies include the given task, in task id order."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[Task]
    pagination: Pagination


class WorkspaceView(Workspace):
    """A workspace as one of its members sees it: with their role in it."""

    role: Role = Field(description="Your role: owner, member or viewer.")

    @classmethod
    def of(cls, workspace: Workspace, role: Role) -> WorkspaceView:
        return cls(**workspace.model_dump(), role=role)


class WorkspaceList(BaseModel):
    """A page of the caller's workspaces, in the order they joined them."""

    model_config = ConfigDict(extra="forbid")

    workspaces: list[WorkspaceView]
    pagination: Pagination


class MemberList(BaseModel):
    """A page of a workspace's members, in member order."""

    model_config = ConfigDict(extra="forbid")

    members: list[Membership]
    pagination: Pagination


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Where: body.<field>, query.<name>, path.<name> or header.")
    message: str


class ErrorBody(BaseModel):
    """Every error response. ``error`` is a stable code to branch on; ``message`` is for
    people; ``details`` is code-specific (a list of field problems for validation errors)."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="Stable error code, e.g. task_not_found.")
    message: str
    details: dict[str, Any] | list[FieldProblem]


class VersionConflictBody(ErrorBody):
    """409 on a stale ``version``: the task as it is now, so the client can merge and retry."""

    current_task: Task


class DeleteConflictBody(ErrorBody):
    """409 on a delete: other tasks depend on this one (``details.dependents``), or, rarely, it
    changed while being deleted (``current_task`` is then the task as it is now)."""

    current_task: Task | None = None


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
    service: str
    version: str


class WorkspaceConflictBody(ErrorBody):
    """409 on a workspace: it changed meanwhile (``current_workspace`` is it as it is now),
    or a rule refused the change (``current_workspace`` is then absent)."""

    current_workspace: Workspace | None = None
