"""How taskapi's own readers read task events: as tolerant readers.

The models in ``events`` are the writer's: strict, and the source of the published schemas.
The consumer models here accept what the compatibility gate lets a later minor revision of
the same major version send: unknown fields are ignored, a status or priority added later is
kept as its string, every other rule still holds. The previous major version (1, from before
workspaces) is read too, with no workspace (``workspace_id`` is ``None``): each consumer
decides what such an event means to it. Any other major version is refused.
``EventEnvelope`` is the forwarder's view: only what routing needs, the rest kept as it came.
See docs/events.md#versioning.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)

from taskapi.domain.events import (
    PREVIOUS_SCHEMA_VERSION,
    SCHEMA_VERSION,
    CorrelationId,
    is_correlation_id,
)
from taskapi.domain.model import (
    Assignee,
    Dependencies,
    Description,
    Priority,
    Status,
    Title,
    UtcDateTime,
)

# The major versions this release reads: today's, and the one before it (events committed or
# published by the previous release, still in outboxes, queues and archives).
READABLE_SCHEMA_VERSIONS = (PREVIOUS_SCHEMA_VERSION, SCHEMA_VERSION)


def _readable_major(version: int) -> int:
    # A new major version is a breaking change: guessing at its meaning would be worse than
    # refusing it (the platform retries, then parks it for a release that reads it).
    if version not in READABLE_SCHEMA_VERSIONS:
        raise ValueError(
            f"schema_version {version} is not {SCHEMA_VERSION} (or {PREVIOUS_SCHEMA_VERSION}, "
            "from before workspaces), the major versions this release reads"
        )
    return version


# Open enums: a known value becomes the member, a value added later stays a plain string.
OpenStatus = Annotated[Status | str, Field(union_mode="left_to_right")]
OpenPriority = Annotated[Priority | str, Field(union_mode="left_to_right")]
ReadableMajor = Annotated[int, AfterValidator(_readable_major)]

_TOLERANT = ConfigDict(frozen=True, extra="ignore")


class ReceivedTask(BaseModel):
    """The task snapshot of a received event: ``Task``'s fields, rules and defaults, with the
    enums open (a test keeps the field list equal to ``Task``'s). ``workspace_id`` is
    optional here only because a version-1 snapshot has none; the event requires it of a
    version-2 one."""

    model_config = _TOLERANT

    task_id: UUID
    workspace_id: UUID | None = None
    title: Title
    description: Description | None = None
    status: OpenStatus = Status.PENDING
    priority: OpenPriority = Priority.MEDIUM
    dependencies: Dependencies = ()
    due_at: UtcDateTime | None = None
    assignee: Assignee | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int = Field(ge=1)


class ReceivedFieldChange(BaseModel):
    model_config = _TOLERANT

    previous: JsonValue
    current: JsonValue


class ReceivedTaskEvent(BaseModel):
    """A task event as our consumers read it. ``workspace_id`` is ``None`` exactly when the
    event is of the previous major version (1), written before tasks had workspaces."""

    model_config = _TOLERANT

    event_id: UUID
    schema_version: ReadableMajor
    workspace_id: UUID | None = None
    occurred_at: UtcDateTime
    task: ReceivedTask
    correlation_id: CorrelationId | None = None  # a minor addition to version 2

    @model_validator(mode="before")
    @classmethod
    def _no_workspace_before_version_2(cls, data: Any) -> Any:
        # Version 1 knew no workspaces: whatever such an event carries under that name is not
        # ours to interpret (and must not route it into a workspace).
        if isinstance(data, dict) and data.get("schema_version") == PREVIOUS_SCHEMA_VERSION:
            data = {key: value for key, value in data.items() if key != "workspace_id"}
            task = data.get("task")
            if isinstance(task, dict):
                data["task"] = {key: value for key, value in task.items() if key != "workspace_id"}
        return data

    @model_validator(mode="after")
    def _names_its_workspace(self) -> ReceivedTaskEvent:
        if self.schema_version == PREVIOUS_SCHEMA_VERSION:
            return self
        if self.workspace_id is None:
            raise ValueError(f"a version-{self.schema_version} event must have a workspace_id")
        if self.task.workspace_id != self.workspace_id:
            raise ValueError("workspace_id must be the task's workspace_id")
        return self

    @property
    def task_id(self) -> UUID:
        return self.task.task_id

    @property
    def before_workspaces(self) -> bool:
        """Whether the event is of version 1, which has no workspace."""
        return self.workspace_id is None


class ReceivedTaskCreated(ReceivedTaskEvent):
    event_type: Literal["TaskCreated"] = "TaskCreated"


class ReceivedTaskUpdated(ReceivedTaskEvent):
    event_type: Literal["TaskUpdated"] = "TaskUpdated"
    changes: dict[str, ReceivedFieldChange]


class ReceivedTaskDeleted(ReceivedTaskEvent):
    event_type: Literal["TaskDeleted"] = "TaskDeleted"


ReceivedEvent = ReceivedTaskCreated | ReceivedTaskUpdated | ReceivedTaskDeleted
_received: TypeAdapter[ReceivedEvent] = TypeAdapter(
    Annotated[ReceivedEvent, Field(discriminator="event_type")]
)


def read_event(data: str | bytes | dict[str, Any]) -> ReceivedEvent:
    """A task event as a consumer reads it (outbox rows, bus details); raises pydantic's
    ``ValidationError`` (a ``ValueError``) for anything else, an unknown event type included."""
    if isinstance(data, str | bytes):
        return _received.validate_json(data)
    return _received.validate_python(data)


class EventEnvelope(BaseModel):
    """What forwarding an event needs (the relay): its id, type and time. Every other field,
    known to this release or not (``workspace_id`` included), is kept and written back
    unchanged by ``model_dump_json``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: UUID
    event_type: str = Field(min_length=1)
    schema_version: int
    occurred_at: UtcDateTime

    @property
    def correlation_id(self) -> str | None:
        """The event's correlation id, if it has a well-formed one (for log lines only: it is
        not a field here, so forwarding writes back exactly what was committed)."""
        value = (self.model_extra or {}).get("correlation_id")
        return value if isinstance(value, str) and is_correlation_id(value) else None


def read_envelope(data: str | bytes) -> EventEnvelope:
    """The envelope of a task event's JSON, of any type or version; ``ValueError`` if the JSON
    has no valid ``event_id``, ``event_type``, ``schema_version`` and ``occurred_at``."""
    return EventEnvelope.model_validate_json(data)
