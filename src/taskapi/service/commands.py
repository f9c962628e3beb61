"""Inputs of the task service. They are also the HTTP request bodies, so the OpenAPI document
and the validation the API performs come from one definition."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from taskapi.domain.model import (
    Assignee,
    Dependencies,
    Description,
    Priority,
    Status,
    Title,
    UtcDateTime,
)


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    description: Description | None = None
    status: Status = Status.PENDING
    priority: Priority = Priority.MEDIUM
    dependencies: Dependencies = ()
    due_at: UtcDateTime | None = None
    assignee: Assignee | None = None


# Optional in a partial update, but a task always has them: an explicit null is an error.
_NOT_NULLABLE = ("title", "status", "priority", "dependencies")


class UpdateTask(BaseModel):
    """A partial update: only the fields present in the request change. ``version`` is the
    optimistic-concurrency token (the HTTP layer may take it from ``If-Match`` instead)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title | None = None
    description: Description | None = None
    status: Status | None = None
    priority: Priority | None = None
    dependencies: Dependencies | None = None
    due_at: UtcDateTime | None = None
    assignee: Assignee | None = None
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> Self:
        nulled = sorted(
            name
            for name in _NOT_NULLABLE
            if name in self.model_fields_set and getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)}")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client actually sent (an explicit null clears an optional field)."""
        sent = self.model_fields_set - {"version"}
        return {name: getattr(self, name) for name in sent}


class ListTasks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=100)
    next_token: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    assignee: str | None = None
