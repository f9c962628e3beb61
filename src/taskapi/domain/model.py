"""The task aggregate and its value types. Pure: standard library and Pydantic only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

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
    return value.astimezone(UTC)


def _unique_ids(ids: tuple[UUID, ...]) -> tuple[UUID, ...]:
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
    tuple[UUID, ...], Field(max_length=MAX_DEPENDENCIES), AfterValidator(_unique_ids)
]
Assignee = EmailStr


class Task(BaseModel):
    """A task as stored. Immutable: every change produces a new instance with version + 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: UUID
    title: Title
    description: Description | None = None
    status: Status = Status.PENDING
    priority: Priority = Priority.MEDIUM
    dependencies: Dependencies = ()
    due_at: UtcDateTime | None = None
    assignee: Assignee | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int = Field(ge=1)

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
