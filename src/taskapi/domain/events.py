"""Domain events: the public record of every state change.

They are written to the outbox in the same atomic write as the change and published at least
once, so every event has a unique ``event_id`` that consumers de-duplicate on. The models are
the source of the published JSON Schemas: changing them is changing a public contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, model_validator

from taskapi.domain.model import Task, UtcDateTime


class FieldChange(BaseModel):
    """One changed field of a task: the value before and after the write (JSON form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    previous: JsonValue = Field(
        description="The value before the write, in the task's JSON form (null if unset).",
        examples=["pending", None],
    )
    current: JsonValue = Field(
        description="The value after the write, in the task's JSON form (null if cleared).",
        examples=["completed", "ana@example.com"],
    )


# The major version of the task events' schemas, carried by every event as ``schema_version``.
# One version for all of them: they share the ``Task`` snapshot, where a breaking change is most
# likely, and one pin in a subscriber's rule covers them all. Bump it on a breaking change to
# any task event (the contract test says when).
# Version 2 (workspaces): every event names its workspace (``workspace_id``, also in the task
# snapshot). Version 1 events have no workspace; see docs/events.md#version-2-workspaces for
# what our consumers do with them.
SCHEMA_VERSION = 2
# The last major version before this one: what our readers still accept from the outbox, the
# bus, dead-letter queues and archives during and after the upgrade.
PREVIOUS_SCHEMA_VERSION = 1


# A correlation id: 1 to 128 visible ASCII characters (no space, no control character), so it
# is safe in a log line, a header and an EventBridge pattern. The API takes the caller's
# ``X-Correlation-Id`` when it is one, else API Gateway's request id (docs/api.md#correlation).
CORRELATION_ID_MAX_LENGTH = 128
CORRELATION_ID_PATTERN = r"^[!-~]+$"
CorrelationId = Annotated[
    str,
    Field(min_length=1, max_length=CORRELATION_ID_MAX_LENGTH, pattern=CORRELATION_ID_PATTERN),
]
_correlation_id: TypeAdapter[str] = TypeAdapter(CorrelationId)


def is_correlation_id(value: str) -> bool:
    """Whether ``value`` is a well-formed correlation id (the events' ``correlation_id``)."""
    try:
        _correlation_id.validate_python(value)
    except ValueError:
        return False
    return True


class TaskEvent(BaseModel):
    """What every task event has; the concrete events below add their ``event_type``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(
        description="Unique per event, the same on every redelivery: consumers de-duplicate on it.",
        examples=["0b6f1f5c-8f0e-4f57-9a40-5d2d7c1c4a10"],
    )
    schema_version: int = Field(
        description="Major version of this event's schema. It increases only on a breaking "
        "change; compatible additions keep it.",
        examples=[2],
    )
    workspace_id: UUID = Field(
        description="The workspace the task belongs to (the same as task.workspace_id), so that "
        "a subscriber can route or filter on it without reading the snapshot.",
        examples=["5a5a5a5a-0000-4000-8000-000000000001"],
    )
    occurred_at: UtcDateTime = Field(
        description="When the change was committed (UTC, ISO 8601).",
        examples=["2025-01-15T09:30:00Z"],
    )
    task: Task = Field(description="Snapshot of the task after the change (before, if deleted).")
    # Added in a compatible (minor) revision of version 2: optional, so an event without it (
    # committed before, or by a write no request caused) is still valid.
    correlation_id: CorrelationId | None = Field(
        default=None,
        description="The correlation id of the request that caused the change (the caller's "
        "X-Correlation-Id, else API Gateway's request id), also in the log lines of every "
        "function that handled it; null when no request caused it. Added in a minor revision "
        "of version 2: events committed before it lack the field.",
        examples=["c6a4f0de-93a3-4c1e-b1a5-0f2b6f3a9d11"],
    )

    @model_validator(mode="after")
    def _names_the_task_workspace(self) -> TaskEvent:
        if self.workspace_id != self.task.workspace_id:
            raise ValueError("workspace_id must be the task's workspace_id")
        return self

    @property
    def task_id(self) -> UUID:
        return self.task.task_id


_EVENT_TYPE_DESCRIPTION = "The event's type; equal to the EventBridge detail-type."


class TaskCreated(TaskEvent):
    """A task was created; task is the new task, at version 1."""

    event_type: Literal["TaskCreated"] = Field(
        default="TaskCreated", description=_EVENT_TYPE_DESCRIPTION
    )


class TaskUpdated(TaskEvent):
    """A task was changed; task is the task after the change and changes holds exactly the
    fields whose values differ, so a subscriber can match a transition (such as status to
    completed) without comparing snapshots."""

    event_type: Literal["TaskUpdated"] = Field(
        default="TaskUpdated", description=_EVENT_TYPE_DESCRIPTION
    )
    changes: dict[str, FieldChange] = Field(
        description="Each changed field, keyed by its name in the task (title, description, "
        "status, priority, dependencies, due_at, assignee), with its previous and current value.",
        examples=[{"status": {"previous": "in_progress", "current": "completed"}}],
    )


class TaskDeleted(TaskEvent):
    """A task was deleted; task is its last stored version."""

    event_type: Literal["TaskDeleted"] = Field(
        default="TaskDeleted", description=_EVENT_TYPE_DESCRIPTION
    )


DomainEvent = Annotated[TaskCreated | TaskUpdated | TaskDeleted, Field(discriminator="event_type")]
EVENT_TYPES: tuple[type[TaskEvent], ...] = (TaskCreated, TaskUpdated, TaskDeleted)
_event_adapter: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)


def parse_event(data: str | bytes | dict[str, Any]) -> TaskCreated | TaskUpdated | TaskDeleted:
    """Rebuild an event from its JSON (outbox rows, stream images, bus details)."""
    if isinstance(data, str | bytes):
        return _event_adapter.validate_json(data)
    return _event_adapter.validate_python(data)


def diff(before: Task, after: Task, fields: tuple[str, ...]) -> dict[str, FieldChange]:
    """The fields whose values differ between two versions of a task, in JSON form."""
    # ``include`` only spares dumping the other fields: the result reads ``fields`` alone, so
    # dropping it changes nothing a caller can see (its mutants are equivalent).
    old = before.model_dump(mode="json", include=set(fields))  # pragma: no mutate
    new = after.model_dump(mode="json", include=set(fields))  # pragma: no mutate
    return {
        name: FieldChange(previous=old[name], current=new[name])
        for name in fields
        if old[name] != new[name]
    }


def new_event_fields(
    event_id: UUID, occurred_at: datetime, task: Task, correlation_id: str | None = None
) -> dict[str, Any]:
    """The envelope fields every event shares; the workspace is the task's."""
    return {
        "event_id": event_id,
        "schema_version": SCHEMA_VERSION,
        "workspace_id": task.workspace_id,
        "occurred_at": occurred_at,
        "task": task,
        "correlation_id": correlation_id,
    }
