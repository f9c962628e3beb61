"""The task aggregate and its value types. Pure: standard library and Pydantic only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.networks import validate_email

MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_DEPENDENCIES = 100


class Status(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def to_utc(value: datetime) -> datetime:
    """Store every instant in UTC; a naive timestamp is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        # e.g. 0001-01-01T00:00+05:00 has no UTC equivalent. A ValueError makes it a
        # validation error (400) instead of an unhandled exception (500).
        raise ValueError("the timestamp is out of range once converted to UTC") from exc


def unique_ids(ids: tuple[UUID, ...]) -> tuple[UUID, ...]:
    """Dependencies are a set: refuse a repeated id (naming it)."""
    duplicates = sorted(str(i) for i, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise ValueError(f"dependencies must be unique; repeated: {', '.join(duplicates)}")
    return ids


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_LENGTH),
]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH)]
UtcDateTime = Annotated[datetime, AfterValidator(to_utc)]
Dependencies = Annotated[
    tuple[UUID, ...], Field(max_length=MAX_DEPENDENCIES), AfterValidator(unique_ids)
]


# The validation context of a task read back from a store: every repository passes it. The
# assignee's address was checked and normalised when the task was written, so it is taken as
# stored (still a string). Checking it again would cost each container's first read of a task
# email-validator's import (~25 ms, docs/performance.md#cold-start), and a task written under
# an older release's check would become unreadable if a newer email-validator refused it: a
# reader is tolerant of what its own store holds. Input (requests, events) is always checked.
FROM_STORE: Final[Mapping[str, bool]] = MappingProxyType({"from_store": True})


def _email_address(value: str, info: ValidationInfo) -> str:
    if isinstance(info.context, Mapping) and info.context.get("from_store") is True:
        return value
    # Pydantic's own EmailStr check, called on first use: EmailStr would import
    # email-validator (~50 ms) when the model is defined, at every cold start.
    address = validate_email(value)[1]
    if "<" in value:
        # Pydantic also takes "Name <address>" and keeps the address: an assignee is an
        # address alone, and quietly dropping what was sent would store something else.
        raise ValueError("must be an email address alone, without a display name")
    return address


# An email address, normalised as Pydantic's EmailStr normalises it.
Assignee = Annotated[
    str, AfterValidator(_email_address), WithJsonSchema({"type": "string", "format": "email"})
]


class Task(BaseModel):
    """A task: what the HTTP API returns and what every task event carries as its snapshot.
    Its version increases by one on every write: of two snapshots of one task, the higher
    version is the newer."""

    # The docstring above is public: it is the Task description in the OpenAPI document and in
    # the published event schemas. (Instances are immutable: every write builds a new one.)

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Descriptions are public documentation: they appear in the OpenAPI document and in the
    # published event schemas (schemas/events/), where the task is the payload's snapshot.
    task_id: UUID = Field(description="Identifier assigned by the service.")
    workspace_id: UUID = Field(description="The workspace the task belongs to.")
    title: Title = Field(description="Short summary; surrounding whitespace is trimmed.")
    description: Description | None = Field(default=None, description="Free-text details.")
    status: Status = Field(default=Status.PENDING, description="Workflow state.")
    priority: Priority = Field(default=Priority.MEDIUM, description="Relative importance.")
    dependencies: Dependencies = Field(
        default=(), description="Ids of the tasks this task waits on; never forms a cycle."
    )
    due_at: UtcDateTime | None = Field(default=None, description="Deadline (UTC), if any.")
    assignee: Assignee | None = Field(
        default=None, description="Email address of the person responsible, if any."
    )
    created_at: UtcDateTime = Field(description="When the task was created (UTC).")
    updated_at: UtcDateTime = Field(description="When the task was last written (UTC).")
    version: int = Field(
        ge=1, description="Increases by one on every write; the optimistic-concurrency token."
    )

    @model_validator(mode="after")
    def _not_its_own_dependency(self) -> Self:
        if self.task_id in self.dependencies:
            raise ValueError("a task cannot depend on itself")
        return self

    @property
    def etag(self) -> str:
        """The HTTP entity tag for this version: a strong validator, quoted per RFC 9110."""
        return f'"{self.version}"'


# Fields a client may change; everything else is owned by the service.
MUTABLE_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "status",
    "priority",
    "dependencies",
    "due_at",
    "assignee",
)
