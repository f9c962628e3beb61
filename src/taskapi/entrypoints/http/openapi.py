"""How each route is documented in OpenAPI: parameters, examples and the statuses it answers.

Every status a route can answer is listed, so the OpenAPI document is a contract that the fuzz
tests hold the implementation to; each error status shows the bodies it answers with, rendered
by the error table from real exceptions. See docs/api.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseHeader,
)
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    HasDependents,
    IdempotencyKeyReused,
    InvalidPageToken,
    LastOwner,
    MemberNotFound,
    NotPermitted,
    TaskNotFound,
    VersionConflict,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.model import Assignee, Priority, Status, Task
from taskapi.domain.rules import check_transition
from taskapi.domain.workspaces import MAX_MEMBER_LENGTH, Membership, Workspace
from taskapi.entrypoints.http.body import MAX_BODY_BYTES
from taskapi.entrypoints.http.conditions import IF_MATCH_PATTERN, IfMatch
from taskapi.entrypoints.http.errors import (
    NOT_AUTHENTICATED_MESSAGE,
    URL_SAFE_PATTERN,
    VISIBLE_ASCII_PATTERN,
    MalformedBody,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    UnsupportedMediaType,
    error_body,
    error_reply,
)
from taskapi.entrypoints.http.schemas import (
    DeleteConflictBody,
    DependentTasks,
    ErrorBody,
    Health,
    MemberList,
    TaskList,
    VersionConflictBody,
    WorkspaceConflictBody,
    WorkspaceList,
    WorkspaceView,
)
from taskapi.service.commands import (
    CreateTask,
    CreateWorkspace,
    PutMember,
    TaskId,
    UpdateTask,
    UpdateWorkspace,
)
from taskapi.service.ports import StoreFailure, StoreUnavailable

EXAMPLE_WORKSPACE: dict[str, Any] = {
    "workspace_id": "3d6f0a52-1c8e-4b7a-9f21-6e5d4c3b2a10",
    "name": "Platform team",
    "created_at": "2030-04-01T08:00:00Z",
    "updated_at": "2030-04-02T10:15:00Z",
    "version": 2,
}
EXAMPLE_MEMBER = "cognito:7c2a9f4e-0b1d-4e8a-a3c5-9d8e7f6a5b4c"
EXAMPLE_MEMBERSHIP: dict[str, Any] = {
    "workspace_id": EXAMPLE_WORKSPACE["workspace_id"],
    "member": EXAMPLE_MEMBER,
    "role": "member",
    "added_at": "2030-04-02T10:15:00Z",
}
EXAMPLE_TASK: dict[str, Any] = {
    "task_id": "0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21",
    "workspace_id": EXAMPLE_WORKSPACE["workspace_id"],
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
_WORKSPACE_ETAG: OpenAPIResponseHeader = {
    "description": 'The workspace\'s version as a strong entity tag, e.g. "2". It changes on '
    "a rename and on every change of its members.",
    "schema": {"type": "string"},
}
_CURRENT_ETAG: OpenAPIResponseHeader = {
    "description": "The task's (or workspace's) current ETag.",
    "schema": {"type": "string"},
}
_RETRY_AFTER: OpenAPIResponseHeader = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "string"},
}


# -- error examples: real answers, rendered by the error table from real exceptions -----------

_EXAMPLE_ID = UUID(EXAMPLE_TASK["task_id"])
_EXAMPLE_WORKSPACE_ID = UUID(EXAMPLE_WORKSPACE["workspace_id"])
_EXAMPLE_DEPENDENCY = UUID(EXAMPLE_TASK["dependencies"][0])


def _raised(action: Callable[[], object]) -> Exception:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("the example action raised nothing")


def _invalid(where: tuple[str, ...], annotation: Any, value: object) -> Exception:
    """The request validation error of ``value`` as the ``annotation`` at ``where``."""
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        return RequestValidationError([{**e, "loc": (*where, *e["loc"])} for e in exc.errors()])
    raise AssertionError(f"{value!r} is valid")


@functools.cache
def error_examples() -> dict[str, dict[str, Any]]:
    """Every example error body, rendered by the error table from a real exception. Built the
    first time the OpenAPI document is (validating the examples loads what no request
    needs at a cold start, such as the email checker)."""
    current = Task.model_validate({**EXAMPLE_TASK, "status": "in_progress", "version": 2})
    workspace = Workspace.model_validate(EXAMPLE_WORKSPACE)
    errors: dict[str, tuple[str, Exception]] = {
        "invalid_body": (
            "A body field is missing or invalid",
            _invalid(("body",), CreateTask, {"description": "no title"}),
        ),
        "invalid_id": (
            "The id is not a UUID in its 8-4-4-4-12 spelling",
            _invalid(("path", "task_id"), TaskId, "0b7e3f9a5d0c4c619a573f4f2b1f8e21"),
        ),
        "invalid_query": (
            "A query parameter is out of range",
            _invalid(("query", "limit"), Annotated[int, Field(ge=1, le=100)], 500),
        ),
        "malformed_body": (
            "The body is not UTF-8",
            MalformedBody("the request body is not valid UTF-8"),
        ),
        "dependencies_not_found": (
            "A dependency does not exist",
            DependenciesNotFound([_EXAMPLE_DEPENDENCY]),
        ),
        "dependency_cycle": (
            "The dependencies would close a cycle",
            DependencyCycle([_EXAMPLE_ID, _EXAMPLE_DEPENDENCY, _EXAMPLE_ID]),
        ),
        "invalid_status_transition": (
            "The status cannot move that way",
            _raised(lambda: check_transition(Status.COMPLETED, Status.IN_PROGRESS)),
        ),
        "dependencies_not_completed": (
            "Completing before the dependencies",
            DependenciesNotCompleted([_EXAMPLE_DEPENDENCY]),
        ),
        "invalid_precondition": ("If-Match is malformed", _raised(lambda: IfMatch.parse("3"))),
        "invalid_next_token": (
            "next_token was not issued for these filters",
            InvalidPageToken("it was issued for different filters"),
        ),
        "invalid_dependents_token": (
            "next_token was not issued for this task's dependents",
            InvalidPageToken("it was issued for the dependents of another task"),
        ),
        "task_not_found": ("No such task", TaskNotFound(_EXAMPLE_ID)),
        "version_conflict": ("The version is stale", VersionConflict(current, 1)),
        "task_has_dependents": (
            "Other tasks depend on it",
            HasDependents(_EXAMPLE_DEPENDENCY, [_EXAMPLE_ID]),
        ),
        "idempotency_key_reused": ("The key was used with another body", IdempotencyKeyReused()),
        "precondition_failed": ("If-Match is stale", PreconditionFailed(current)),
        "precondition_required": ("Neither If-Match nor version", PreconditionRequired()),
        "payload_too_large": ("The body is too large", PayloadTooLarge(MAX_BODY_BYTES)),
        "unsupported_media_type": ("Not JSON", UnsupportedMediaType("text/plain")),
        "workspace_not_found": (
            "No such workspace, or you are not one of its members",
            WorkspaceNotFound(_EXAMPLE_WORKSPACE_ID),
        ),
        "not_permitted": ("A viewer tried to write", NotPermitted("viewer", "write")),
        "not_permitted_manage": (
            "A member tried to manage the workspace",
            NotPermitted("member", "manage"),
        ),
        "member_not_found": (
            "Not a member",
            MemberNotFound(_EXAMPLE_WORKSPACE_ID, EXAMPLE_MEMBER),
        ),
        "workspace_needs_an_owner": (
            "The last owner cannot step down or leave",
            LastOwner(_EXAMPLE_WORKSPACE_ID),
        ),
        "workspace_not_empty": (
            "The workspace still holds tasks",
            WorkspaceNotEmpty(_EXAMPLE_WORKSPACE_ID),
        ),
        "workspace_version_conflict": (
            "The version is stale",
            WorkspaceVersionConflict(workspace, 1),
        ),
        "workspace_precondition_failed": ("If-Match is stale", PreconditionFailed(workspace)),
        "invalid_workspaces_token": (
            "next_token was not issued for this listing",
            InvalidPageToken("it was issued to another caller"),
        ),
        "invalid_workspace_token": (
            "next_token was issued for another workspace",
            InvalidPageToken("it was issued for another workspace"),
        ),
        "internal_error": ("An unexpected failure", StoreFailure("the store failed")),
        "service_unavailable": ("The store is throttling", StoreUnavailable("throttled", 1)),
    }
    request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    examples = {
        name: {"summary": summary, "value": error_reply(exc, request_id).body}
        for name, (summary, exc) in errors.items()
    }
    # Answered by the gateway (API Gateway, or the local one), not by the error table.
    examples["not_authenticated"] = {
        "summary": "No token, or one the gateway does not accept",
        "value": error_body(
            "not_authenticated", NOT_AUTHENTICATED_MESSAGE, {"request_id": request_id}
        ),
    }
    return examples


class _Examples(Mapping[str, dict[str, Any]]):
    """The named examples of one response, looked up when the document is built."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self._names:
            raise KeyError(name)
        return error_examples()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


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


def error_response(
    description: str, *examples: str, model: type[ErrorBody] = ErrorBody
) -> OpenAPIResponse:
    """An error status with the ``{error, message, details}`` body (or a subclass of it), and
    the named ``error_examples()`` it can answer with."""
    return {
        "description": description,
        "content": {
            "application/json": {
                "model": model,
                "examples": _Examples(examples),  # type: ignore[typeddict-item]
            }
        },
    }


def precondition_failed_response() -> OpenAPIResponse:
    return {
        **error_response("If-Match does not match the task's current ETag.", "precondition_failed"),
        "headers": {"ETag": _CURRENT_ETAG},
    }


NO_CONTENT: OpenAPIResponse = {"description": "Deleted. No body.", "content": {}}

# Answers any route can give.
COMMON_ERRORS: dict[int, OpenAPIResponse] = {
    401: error_response(
        "No valid credentials (docs/api.md#authentication): answered by the gateway, before "
        "the API runs.",
        "not_authenticated",
    ),
    500: error_response(
        "Unexpected failure; details.request_id identifies it in the logs.", "internal_error"
    ),
    503: {
        **error_response(
            "The store is throttling; retry after Retry-After seconds.", "service_unavailable"
        ),
        "headers": {"Retry-After": _RETRY_AFTER},
    },
}
BODY_ERRORS: dict[int, OpenAPIResponse] = {
    413: error_response("The body is larger than 64 KiB.", "payload_too_large"),
    415: error_response("The Content-Type is not application/json.", "unsupported_media_type"),
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
        pattern=VISIBLE_ASCII_PATTERN,
        description="Any unique string (a UUID is ideal), at most 255 visible ASCII "
        "characters, remembered for 24 hours per caller: a retry with the same key and body "
        "gets the first response and creates nothing.",
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size, 1-100.")]
NextTokenQuery = Annotated[
    str | None,
    Query(
        max_length=2048,
        pattern=URL_SAFE_PATTERN,
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

_NO_WORKSPACE = "workspace_not_found"
_READ_ONLY = error_response("Your role is viewer: it does not allow writes.", "not_permitted")
_OWNERS_ONLY = error_response("Only the workspace's owners may do this.", "not_permitted_manage")


def _not_found(description: str, *examples: str) -> OpenAPIResponse:
    """404: the thing is missing, or the workspace is (or the caller is not a member of it:
    the two look the same)."""
    return error_response(description, *examples, _NO_WORKSPACE)


HEALTH_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("The API is up.", Health),
    **COMMON_ERRORS,
}
CREATE_RESPONSES: dict[int, OpenAPIResponse] = {
    201: task_response("Created.", created=True),
    400: error_response(
        "Invalid body, unknown dependencies, or a rule violated.",
        "invalid_body",
        "malformed_body",
        "dependencies_not_found",
        "dependencies_not_completed",
    ),
    403: _READ_ONLY,
    404: _not_found("No such workspace (or you are not a member)."),
    422: error_response(
        "This Idempotency-Key was used with a different body.", "idempotency_key_reused"
    ),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
LIST_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("A page of tasks.", TaskList),
    400: error_response(
        "Bad limit or filter, or a next_token that is not ours.",
        "invalid_query",
        "invalid_next_token",
        "invalid_workspace_token",
    ),
    404: _not_found("No such workspace (or you are not a member)."),
    **COMMON_ERRORS,
}
GET_RESPONSES: dict[int, OpenAPIResponse] = {
    200: task_response("The task."),
    400: error_response("The id is not a UUID.", "invalid_id"),
    404: _not_found("No such task or workspace.", "task_not_found"),
    **COMMON_ERRORS,
}
UPDATE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: task_response("The updated task (unchanged, same version, if nothing changed)."),
    400: error_response(
        "Invalid body, transition, dependencies, or a malformed If-Match.",
        "invalid_body",
        "invalid_status_transition",
        "dependency_cycle",
        "dependencies_not_completed",
        "invalid_precondition",
    ),
    403: _READ_ONLY,
    404: _not_found("No such task or workspace.", "task_not_found"),
    409: error_response(
        "The version in the body is stale; current_task is the task as it is now.",
        "version_conflict",
        model=VersionConflictBody,
    ),
    412: precondition_failed_response(),
    428: error_response("Neither If-Match nor version was given.", "precondition_required"),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
DELETE_RESPONSES: dict[int, OpenAPIResponse] = {
    204: NO_CONTENT,
    400: error_response(
        "The id is not a UUID, or If-Match is malformed.", "invalid_id", "invalid_precondition"
    ),
    403: _READ_ONLY,
    404: _not_found("No such task or workspace.", "task_not_found"),
    409: error_response(
        "Other tasks depend on it (details.dependents), or it changed meanwhile.",
        "task_has_dependents",
        "version_conflict",
        model=DeleteConflictBody,
    ),
    412: precondition_failed_response(),
    **COMMON_ERRORS,
}
DEPENDENTS_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("A page of the tasks whose dependencies include this one.", DependentTasks),
    400: error_response(
        "The id is not a UUID, a bad limit, or a next_token not issued for this listing.",
        "invalid_id",
        "invalid_query",
        "invalid_dependents_token",
    ),
    404: _not_found("No such task or workspace.", "task_not_found"),
    **COMMON_ERRORS,
}

# -- workspaces ----------------------------------------------------------------------------

WorkspaceIdPath = Annotated[
    TaskId, Path(description="The workspace's id: a UUID, 8-4-4-4-12 hexadecimal digits.")
]
MemberPath = Annotated[
    str,
    Path(
        # Percent-encoded in the path where it has a "/" (IAM ARNs): up to 3 bytes a character.
        max_length=3 * MAX_MEMBER_LENGTH,
        description="A caller identity: cognito:<sub> or iam:<principal ARN>, percent-encoded "
        "(a / as %2F).",
    ),
]
CreateWorkspaceBody = Annotated[
    CreateWorkspace,
    Body(
        description="The new workspace; you become its owner.",
        openapi_examples={"team": {"summary": "A team", "value": {"name": "Platform team"}}},
    ),
]
UpdateWorkspaceBody = Annotated[
    UpdateWorkspace,
    Body(
        description="The new name, and optionally the version it is based on.",
        openapi_examples={
            "rename": {
                "summary": "Rename, based on version 2",
                "value": {"name": "Infra", "version": 2},
            }
        },
    ),
]
PutMemberBody = Annotated[
    PutMember,
    Body(
        description="The member's role.",
        openapi_examples={
            "member": {"summary": "Read and write tasks", "value": {"role": "member"}}
        },
    ),
]


def workspace_response(description: str, *, created: bool = False) -> OpenAPIResponse:
    headers = {"ETag": _WORKSPACE_ETAG}
    if created:
        headers |= {
            "Location": {
                "description": "URL path of the new workspace.",
                "schema": {"type": "string"},
            }
        }
    example = {**EXAMPLE_WORKSPACE, "role": "owner"}
    return {
        "description": description,
        "headers": headers,
        "content": {
            "application/json": {
                "model": WorkspaceView,
                "examples": {"workspace": {"summary": "A workspace", "value": example}},
            }
        },
    }


def membership_response(description: str) -> OpenAPIResponse:
    return {
        "description": description,
        "content": {
            "application/json": {
                "model": Membership,
                "examples": {"member": {"summary": "A member", "value": EXAMPLE_MEMBERSHIP}},
            }
        },
    }


_WORKSPACE_PRECONDITION: OpenAPIResponse = {
    **error_response(
        "If-Match does not match the workspace's current ETag.", "workspace_precondition_failed"
    ),
    "headers": {"ETag": _CURRENT_ETAG},
}
_WORKSPACE_CONFLICT = error_response(
    "The version in the body is stale; current_workspace is the workspace as it is now.",
    "workspace_version_conflict",
    model=WorkspaceConflictBody,
)

CREATE_WORKSPACE_RESPONSES: dict[int, OpenAPIResponse] = {
    201: workspace_response("Created; you are its owner.", created=True),
    400: error_response("Invalid body.", "invalid_body", "malformed_body"),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
LIST_WORKSPACES_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("A page of your workspaces, with your role in each.", WorkspaceList),
    400: error_response(
        "A bad limit, or a next_token not issued to you.",
        "invalid_query",
        "invalid_workspaces_token",
    ),
    **COMMON_ERRORS,
}
GET_WORKSPACE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: workspace_response("The workspace, with your role in it."),
    400: error_response("The id is not a UUID.", "invalid_id"),
    404: _not_found("No such workspace (or you are not a member)."),
    **COMMON_ERRORS,
}
UPDATE_WORKSPACE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: workspace_response("The renamed workspace (unchanged if the name is the same)."),
    400: error_response(
        "Invalid body, or a malformed If-Match.", "invalid_body", "invalid_precondition"
    ),
    403: _OWNERS_ONLY,
    404: _not_found("No such workspace (or you are not a member)."),
    409: _WORKSPACE_CONFLICT,
    412: _WORKSPACE_PRECONDITION,
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
DELETE_WORKSPACE_RESPONSES: dict[int, OpenAPIResponse] = {
    204: NO_CONTENT,
    400: error_response(
        "The id is not a UUID, or If-Match is malformed.", "invalid_id", "invalid_precondition"
    ),
    403: _OWNERS_ONLY,
    404: _not_found("No such workspace (or you are not a member)."),
    409: error_response(
        "It still holds tasks, or it changed meanwhile.",
        "workspace_not_empty",
        "workspace_version_conflict",
        model=WorkspaceConflictBody,
    ),
    412: _WORKSPACE_PRECONDITION,
    **COMMON_ERRORS,
}
MEMBERS_RESPONSES: dict[int, OpenAPIResponse] = {
    200: body_response("A page of the workspace's members, in member order.", MemberList),
    400: error_response(
        "A bad limit, or a next_token not issued for this listing.",
        "invalid_query",
        "invalid_workspace_token",
    ),
    404: _not_found("No such workspace (or you are not a member)."),
    **COMMON_ERRORS,
}
PUT_MEMBER_RESPONSES: dict[int, OpenAPIResponse] = {
    200: membership_response("The member's role was set (or already was that)."),
    201: membership_response("The member was added."),
    400: error_response("Invalid role or member identity.", "invalid_body"),
    403: _OWNERS_ONLY,
    404: _not_found("No such workspace (or you are not a member)."),
    409: error_response(
        "The last owner cannot step down, or the workspace changed meanwhile.",
        "workspace_needs_an_owner",
        "workspace_version_conflict",
        model=WorkspaceConflictBody,
    ),
    **BODY_ERRORS,
    **COMMON_ERRORS,
}
REMOVE_MEMBER_RESPONSES: dict[int, OpenAPIResponse] = {
    204: NO_CONTENT,
    400: error_response("The member is not a caller identity.", "invalid_body"),
    403: _OWNERS_ONLY,
    404: _not_found("No such member or workspace.", "member_not_found"),
    409: error_response(
        "The last owner cannot leave, or the workspace changed meanwhile.",
        "workspace_needs_an_owner",
        "workspace_version_conflict",
        model=WorkspaceConflictBody,
    ),
    **COMMON_ERRORS,
}
