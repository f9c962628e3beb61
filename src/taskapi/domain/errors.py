"""Domain errors. Each one is a business outcome with a stable code; the HTTP layer maps the
type (never the message) to a status code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from taskapi.domain.model import Status, Task
    from taskapi.domain.workspaces import Workspace


def _ids(ids: Iterable[UUID]) -> list[str]:
    return [str(i) for i in ids]


class DomainError(Exception):
    """Base of every business-rule violation."""

    code: str = "domain_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class TaskNotFound(DomainError):
    code = "task_not_found"

    def __init__(self, task_id: UUID) -> None:
        super().__init__(f"task {task_id} does not exist", {"task_id": str(task_id)})
        self.task_id = task_id


class InvalidTransition(DomainError):
    code = "invalid_status_transition"

    def __init__(self, current: Status, target: Status, allowed: Sequence[Status]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"cannot move a task from {current} to {target}; allowed: {allowed_text}",
            {"from": str(current), "to": str(target), "allowed": [str(s) for s in allowed]},
        )


class DependenciesNotCompleted(DomainError):
    """A completed task would have dependencies that are not completed: because the write
    completes it, or because it changes the dependencies of a task that stays completed."""

    code = "dependencies_not_completed"

    def __init__(self, blocking: Sequence[UUID], *, stays_completed: bool = False) -> None:
        if stays_completed:
            what = (
                "cannot change the dependencies of a completed task while ones it keeps are "
                "not completed (complete them, or reopen it: status pending in this update)"
            )
        else:
            what = "cannot complete the task while dependencies are not completed"
        super().__init__(
            f"{what}: {', '.join(_ids(blocking))}", {"blocking_dependencies": _ids(blocking)}
        )
        self.blocking = tuple(blocking)


class DependenciesNotFound(DomainError):
    code = "dependencies_not_found"

    def __init__(self, missing: Sequence[UUID]) -> None:
        super().__init__(
            f"dependencies do not exist: {', '.join(_ids(missing))}",
            {"missing_dependencies": _ids(missing)},
        )
        self.missing = tuple(missing)


class DependencyCycle(DomainError):
    code = "dependency_cycle"

    def __init__(self, path: Sequence[UUID]) -> None:
        super().__init__(
            f"the dependencies would form a cycle: {' -> '.join(_ids(path))}",
            {"cycle": _ids(path)},
        )
        self.path = tuple(path)


class HasDependents(DomainError):
    code = "task_has_dependents"

    def __init__(self, task_id: UUID, dependents: Sequence[UUID]) -> None:
        super().__init__(
            f"task {task_id} cannot be deleted: other tasks depend on it: "
            f"{', '.join(_ids(dependents))}",
            {"task_id": str(task_id), "dependents": _ids(dependents)},
        )
        self.dependents = tuple(dependents)


class VersionConflict(DomainError):
    """The write was based on a version that is no longer current (first writer won)."""

    code = "version_conflict"

    def __init__(self, current: Task, expected_version: int) -> None:
        super().__init__(
            f"task {current.task_id} is at version {current.version}, "
            f"not {expected_version}; re-read it and retry",
            {"expected_version": expected_version, "current_version": current.version},
        )
        self.current = current
        self.expected_version = expected_version


class InvalidPageToken(DomainError):
    code = "invalid_next_token"

    def __init__(self, reason: str) -> None:
        super().__init__(f"next_token is not valid: {reason}", {"parameter": "next_token"})


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used with a different request body; use a new "
            "key for a new request"
        )


# -- workspaces ---------------------------------------------------------------------------


class WorkspaceNotFound(DomainError):
    """The workspace does not exist, or the caller is not one of its members: the two are
    indistinguishable to the caller, so a workspace's existence is never revealed."""

    code = "workspace_not_found"

    def __init__(self, workspace_id: UUID) -> None:
        super().__init__(
            f"workspace {workspace_id} does not exist", {"workspace_id": str(workspace_id)}
        )
        self.workspace_id = workspace_id


class NotPermitted(DomainError):
    """A member asked for something their role does not allow."""

    code = "not_permitted"

    def __init__(self, role: str, needed: str) -> None:
        super().__init__(
            f"your role in this workspace ({role}) does not allow this ({needed})",
            {"role": role, "needed": needed},
        )


class MemberNotFound(DomainError):
    code = "member_not_found"

    def __init__(self, workspace_id: UUID, member: str) -> None:
        super().__init__(
            f"{member[:100]} is not a member of workspace {workspace_id}",
            {"workspace_id": str(workspace_id), "member": member[:100]},
        )


class LastOwner(DomainError):
    code = "workspace_needs_an_owner"

    def __init__(self, workspace_id: UUID) -> None:
        super().__init__(
            f"workspace {workspace_id} must keep at least one owner: make another member an "
            "owner first",
            {"workspace_id": str(workspace_id)},
        )


class WorkspaceNotEmpty(DomainError):
    code = "workspace_not_empty"

    def __init__(self, workspace_id: UUID) -> None:
        super().__init__(
            f"workspace {workspace_id} still holds tasks: delete them first",
            {"workspace_id": str(workspace_id)},
        )


class WorkspaceVersionConflict(DomainError):
    """A write to a workspace (rename, members) was based on a version no longer current."""

    code = "version_conflict"

    def __init__(self, current: Workspace, expected_version: int) -> None:
        super().__init__(
            f"workspace {current.workspace_id} is at version {current.version}, "
            f"not {expected_version}; re-read it and retry",
            {"expected_version": expected_version, "current_version": current.version},
        )
        self.current = current
        self.expected_version = expected_version
