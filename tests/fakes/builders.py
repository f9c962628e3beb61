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
from tests.fakes.clock import DEFAULT_NOW


def make_task(**fields: Any) -> Task:
    """A valid version-1 task; any field can be overridden (``created_at`` sets both
    timestamps unless ``updated_at`` is given too)."""
    created_at = fields.pop("created_at", DEFAULT_NOW)
    values: dict[str, Any] = {
        "task_id": uuid.uuid4(),
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
