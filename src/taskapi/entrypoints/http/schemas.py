"""Response bodies of the HTTP API and their OpenAPI descriptions.

Request bodies are the service's command models and the task is the domain model; this module
adds only what exists because of HTTP: list envelopes, error bodies, response headers, examples.
Every status a route can answer is documented, so the OpenAPI document is a contract that the
fuzz tests hold the implementation to.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseHeader,
)
from pydantic import BaseModel, ConfigDict, Field

from taskapi.domain.model import Task

EXAMPLE_TASK: dict[str, Any] = {
    "task_id": "0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21",
    "title": "Write the release notes",
    "description": "Cover the API changes and the migration steps.",
    "status": "pending",
    "priority": "high",
    "dependencies": ["5f1c2d3e-8a9b-4c7d-9e0f-1a2b3c4d5e6f"],
    "due_at": "2030-05-01T17:00:00Z",
    "assignee": "ana@example.com",
    "created_at": "2030-04-20T09:30:00Z",
    "updated_at": "2030-04-20T09:30:00Z",
    "version": 1,
}


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
    """The tasks whose dependencies include the given task."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[Task]


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


# -- OpenAPI response objects --------------------------------------------------------------

_ETAG: OpenAPIResponseHeader = {
    "description": 'The task\'s version as a strong entity tag, e.g. "3". Send it back in '
    "If-Match to update or delete only that version.",
    "schema": {"type": "string"},
}
_LOCATION: OpenAPIResponseHeader = {
    "description": "URL path of the new task.",
    "schema": {"type": "string"},
}
_REPLAYED: OpenAPIResponseHeader = {
    "description": "Present (true) when this is the stored response to an earlier request "
    "with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}
_CURRENT_ETAG: OpenAPIResponseHeader = {
    "description": "The task's current ETag.",
    "schema": {"type": "string"},
}
_RETRY_AFTER: OpenAPIResponseHeader = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "string"},
}


def task_response(description: str, *, created: bool = False) -> OpenAPIResponse:
    headers = {"ETag": _ETAG}
    if created:
        headers |= {"Location": _LOCATION, "Idempotent-Replayed": _REPLAYED}
    return {
        "description": description,
        "headers": headers,
        "content": {
            "application/json": {
                "model": Task,
                "examples": {"task": {"summary": "A task", "value": EXAMPLE_TASK}},
            }
        },
    }


def body_response(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def error_response(description: str, *, model: type[ErrorBody] = ErrorBody) -> OpenAPIResponse:
    """An error status with the ``{error, message, details}`` body (or a subclass of it)."""
    return body_response(description, model)


def precondition_failed_response() -> OpenAPIResponse:
    return {
        **error_response("If-Match does not match the task's current ETag."),
        "headers": {"ETag": _CURRENT_ETAG},
    }


NO_CONTENT: OpenAPIResponse = {"description": "Deleted. No body.", "content": {}}

# Answers any route can give.
COMMON_ERRORS: dict[int, OpenAPIResponse] = {
    500: error_response("Unexpected failure; details.request_id identifies it in the logs."),
    503: {
        **error_response("The store is throttling; retry after Retry-After seconds."),
        "headers": {"Retry-After": _RETRY_AFTER},
    },
}
BODY_ERRORS: dict[int, OpenAPIResponse] = {
    413: error_response("The body is larger than 64 KiB."),
    415: error_response("The Content-Type is not application/json."),
}
