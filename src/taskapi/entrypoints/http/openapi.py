"""How each route is documented in OpenAPI: parameters, examples and the statuses it answers.

Every status a route can answer is listed, so the OpenAPI document is a contract that the fuzz
tests hold the implementation to. See docs/api.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseHeader,
)
from pydantic import BaseModel

from taskapi.domain.model import Assignee, Priority, Status, Task
from taskapi.entrypoints.http.conditions import IF_MATCH_PATTERN
from taskapi.entrypoints.http.schemas import (
    DeleteConflictBody,
    DependentTasks,
    ErrorBody,
    Health,
    TaskList,
    VersionConflictBody,
)
from taskapi.service.commands import CreateTask, TaskId, UpdateTask

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


# -- parameters ----------------------------------------------------------------------------

TaskIdPath = Annotated[
    TaskId, Path(description="The task's id: a UUID, 8-4-4-4-12 hexadecimal digits.")
]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1024,
        # Documented, but checked by IfMatch.parse, whose 400 explains the syntax in words.
        json_schema_extra={"pattern": IF_MATCH_PATTERN},
        description='The ETag you read, e.g. "3": write only if the task is still at that '
        "version (else 412). `*` matches any version.",
    ),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID is ideal), at most 255 visible ASCII "
        "characters. Remembered for 24 hours.",
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size, 1-100.")]
NextTokenQuery = Annotated[
    str | None,
    Query(
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="From the previous page's pagination.next_token.",
    ),
]
StatusQuery = Annotated[Status | None, Query(description="Only tasks in this status.")]
PriorityQuery = Annotated[Priority | None, Query(description="Only this priority.")]
AssigneeQuery = Annotated[
    Assignee | None,
    Query(
        description="Only tasks assigned to this email address (its domain is compared "
        "case-insensitively, as a task's assignee is stored with its domain in lower case)."
    ),
]

# -- request bodies ------------------------------------------------------------------------

_CREATE_FIELDS = ("title", "description", "priority", "dependencies", "due_at", "assignee")
CreateTaskBody = Annotated[
    CreateTask,
    Body(
        description="The new task. Only title is required.",
        openapi_examples={
            "minimal": {"summary": "Just a title", "value": {"title": "Book the venue"}},
            "full": {
                "summary": "Every field",
                "value": {key: EXAMPLE_TASK[key] for key in _CREATE_FIELDS},
            },
        },
    ),
]
UpdateTaskBody = Annotated[
    UpdateTask,
    Body(
        description="The fields to change, and optionally the version they are based on.",
        openapi_examples={
            "start": {
                "summary": "Start work, based on version 1",
                "value": {"status": "in_progress", "version": 1},
            },
            "reassign": {
                "summary": "Reassign (send If-Match instead of version)",
                "value": {"assignee": "bo@example.com"},
            },
        },
    ),
]

# -- what each route answers ---------------------------------------------------------------

HEALTH_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("The API is up.", Health),
    **COMMON_ERRORS,
}
CREATE_RESPONSES: dict[int, OpenAPIResponse] = {
    201: task_response("Created.", created=True),
    400: error_response("Invalid body, unknown dependencies, or a rule violated."),
    409: error_response("A request with this Idempotency-Key is still in progress."),
    422: error_response("This Idempotency-Key was used with a different body."),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
LIST_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("A page of tasks.", TaskList),
    400: error_response("Bad limit or filter, or a next_token that is not ours."),
    **COMMON_ERRORS,
}
GET_RESPONSES: dict[int, OpenAPIResponse] = {
    200: task_response("The task."),
    400: error_response("The id is not a UUID."),
    404: error_response("No such task."),
    **COMMON_ERRORS,
}
UPDATE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: task_response("The updated task (unchanged, same version, if nothing changed)."),
    400: error_response("Invalid body, transition, dependencies, or a malformed If-Match."),
    404: error_response("No such task."),
    409: error_response(
        "The version in the body is stale; current_task is the task as it is now.",
        model=VersionConflictBody,
    ),
    412: precondition_failed_response(),
    428: error_response("Neither If-Match nor version was given."),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
DELETE_RESPONSES: dict[int, OpenAPIResponse] = {
    204: NO_CONTENT,
    400: error_response("The id is not a UUID, or If-Match is malformed."),
    404: error_response("No such task."),
    409: error_response(
        "Other tasks depend on it (details.dependents), or it changed meanwhile.",
        model=DeleteConflictBody,
    ),
    412: precondition_failed_response(),
    **COMMON_ERRORS,
}
DEPENDENTS_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("The tasks whose dependencies include this one.", DependentTasks),
    400: error_response("The id is not a UUID."),
    404: error_response("No such task."),
    **COMMON_ERRORS,
}
