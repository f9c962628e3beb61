"""Builders for valid domain values with sensible defaults: state only what a test is about."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from taskapi.domain.event_readers import ReceivedEvent, read_event
from taskapi.domain.events import (
    FieldChange,
    TaskCreated,
    TaskDeleted,
    TaskEvent,
    TaskUpdated,
    diff,
    new_event_fields,
)
from taskapi.domain.model import MUTABLE_FIELDS, Task
from taskapi.domain.workspaces import Membership, Role, Workspace
from tests.fakes.clock import DEFAULT_NOW

# The workspace tests build their tasks in unless they say otherwise, and its owner.
WORKSPACE_ID = uuid.UUID("5a5a5a5a-0000-4000-8000-000000000001")
OWNER = "cognito:00000000-0000-4000-8000-0000000000a1"


def make_workspace(**fields: Any) -> Workspace:
    """A valid version-1 workspace (``WORKSPACE_ID`` unless given)."""
    created_at = fields.pop("created_at", DEFAULT_NOW)
    values: dict[str, Any] = {
        "workspace_id": WORKSPACE_ID,
        "name": "Team",
        "created_at": created_at,
        "updated_at": created_at,
        "version": 1,
    }
    return Workspace.model_validate(values | fields)


def make_membership(
    workspace: Workspace, member: str = OWNER, role: Role = Role.OWNER
) -> Membership:
    return Membership(
        workspace_id=workspace.workspace_id, member=member, role=role, added_at=workspace.created_at
    )


def make_task(**fields: Any) -> Task:
    """A valid version-1 task; any field can be overridden (``created_at`` sets both
    timestamps unless ``updated_at`` is given too)."""
    created_at = fields.pop("created_at", DEFAULT_NOW)
    values: dict[str, Any] = {
        "task_id": uuid.uuid4(),
        "workspace_id": WORKSPACE_ID,
        "title": "Write the quarterly report",
        "created_at": created_at,
        "updated_at": created_at,
        "version": 1,
    }
    return Task.model_validate(values | fields)


def next_version(task: Task, **changes: Any) -> Task:
    """``task`` with ``changes`` applied and its version increased by one, as the service
    writes it."""
    return task.model_copy(update={**changes, "version": task.version + 1})


def created_event(task: Task, occurred_at: datetime | None = None) -> TaskCreated:
    return TaskCreated(**new_event_fields(uuid.uuid4(), occurred_at or task.updated_at, task))


def updated_event(before: Task, after: Task, occurred_at: datetime | None = None) -> TaskUpdated:
    changes: dict[str, FieldChange] = diff(before, after, MUTABLE_FIELDS)
    fields = new_event_fields(uuid.uuid4(), occurred_at or after.updated_at, after)
    return TaskUpdated(**fields, changes=changes)


def deleted_event(task: Task, occurred_at: datetime | None = None) -> TaskDeleted:
    return TaskDeleted(**new_event_fields(uuid.uuid4(), occurred_at or task.updated_at, task))


def received(event: TaskEvent) -> ReceivedEvent:
    """``event`` as a consumer gets it: its JSON, read back by the tolerant reader."""
    return read_event(event.model_dump_json())
