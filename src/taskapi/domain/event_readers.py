"""How taskapi's own readers read task events: as tolerant readers.

The models in ``events`` are the writer's: strict, and the source of the published schemas.
The consumer models here accept what the compatibility gate lets a later minor revision of
the same major version send: unknown fields are ignored, a status or priority added later is
kept as its string, every other rule still holds; another major version is refused.
``EventEnvelope`` is the forwarder's view: only what routing needs, the rest kept as it came.
See docs/events.md#versioning.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from taskapi.domain.events import SCHEMA_VERSION
from taskapi.domain.model import (
    Assignee,
    Dependencies,
    Description,
    Priority,
    Status,
    Title,
    UtcDateTime,
)


def _readable_major(version: int) -> int:
    # A new major version is a breaking change: guessing at its meaning would be worse than
    # refusing it (the platform retries, then parks it for a release that reads it).
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is not {SCHEMA_VERSION}, the major version this "
            "release reads"
        )
    return version


# Open enums: a known value becomes the member, a value added later stays a plain string.
OpenStatus = Annotated[Status | str, Field(union_mode="left_to_right")]
OpenPriority = Annotated[Priority | str, Field(union_mode="left_to_right")]
ReadableMajor = Annotated[int, AfterValidator(_readable_major)]

_TOLERANT = ConfigDict(frozen=True, extra="ignore")


class ReceivedTask(BaseModel):
    """The task snapshot of a received event: ``Task``'s fields, rules and defaults, with the
    enums open (a test keeps the field list equal to ``Task``'s)."""

    model_config = _TOLERANT

    task_id: UUID
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
    model_config = _TOLERANT

    event_id: UUID
    schema_version: ReadableMajor
    occurred_at: UtcDateTime
    task: ReceivedTask

    @property
    def task_id(self) -> UUID:
        return self.task.task_id


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
    known to this release or not, is kept and written back unchanged by ``model_dump_json``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: UUID
    event_type: str = Field(min_length=1)
    schema_version: int
    occurred_at: UtcDateTime


def read_envelope(data: str | bytes) -> EventEnvelope:
    """The envelope of a task event's JSON, of any type or version; ``ValueError`` if the JSON
    has no valid ``event_id``, ``event_type``, ``schema_version`` and ``occurred_at``."""
    return EventEnvelope.model_validate_json(data)
