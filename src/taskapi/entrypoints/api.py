"""The HTTP API: API Gateway (REST, proxy integration) -> this Lambda handler -> TaskService.

``lambda_handler`` is the one entry point, in AWS and behind ``taskapi serve``. Routing,
request validation and the OpenAPI document come from Powertools' ``APIGatewayRestResolver``;
request and response bodies are the service's command models and the domain's ``Task``, so the
contract is written once. This module only translates: HTTP in, service call, HTTP out. The
service comes from ``bootstrap`` at request time, which is how tests swap in fakes.
"""

import functools
import json
from collections.abc import Mapping
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi import bootstrap
from taskapi.domain.errors import VersionConflict
from taskapi.domain.model import Priority, Status, Task
from taskapi.entrypoints.http.body import checked_body, parse_json_object
from taskapi.entrypoints.http.conditions import IF_MATCH_PATTERN, IfMatch
from taskapi.entrypoints.http.errors import (
    InvalidPrecondition,
    MethodNotAllowed,
    PreconditionFailed,
    PreconditionRequired,
    RequestRejected,
    RouteNotFound,
    error_reply,
)
from taskapi.entrypoints.http.idempotency import (
    ANONYMOUS_CALLER,
    REPLAYED_HEADER,
    StoredResponse,
    respond_once,
)
from taskapi.entrypoints.http.resolver import TaskApiResolver
from taskapi.entrypoints.http.schemas import (
    BODY_ERRORS,
    COMMON_ERRORS,
    EXAMPLE_TASK,
    NO_CONTENT,
    DeleteConflictBody,
    DependentTasks,
    Health,
    Pagination,
    TaskList,
    VersionConflictBody,
    body_response,
    error_response,
    precondition_failed_response,
    task_response,
)
from taskapi.entrypoints.observability import (
    SERVICE_NAME,
    invocation_log_keys,
    logger,
    metrics,
    tracer,
)
from taskapi.service.commands import CreateTask, ListTasks, UpdateTask
from taskapi.service.tasks import TaskService

try:
    API_VERSION = package_version("taskapi")
except PackageNotFoundError:  # running from a source tree that is not installed
    API_VERSION = "0.0.0"


app = TaskApiResolver(enable_validation=True, json_body_deserializer=parse_json_object)
app.configure_openapi(
    title="taskapi",
    version=API_VERSION,
    summary="Tasks with dependencies, optimistic concurrency and idempotent creates.",
    description=(
        "A task-management REST API. Every write is conditional on the version it was based "
        "on (`version` in the body, or `If-Match` with the task's `ETag`); creates accept an "
        "`Idempotency-Key`. Errors are `{error, message, details}` with a stable `error` code."
    ),
    tags=["tasks", "operations"],
)
app.enable_swagger(path="/swagger")

TaskId = Annotated[UUID, Path(description="The task's id (a UUID).")]
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


# -- operations ---------------------------------------------------------------------------


@app.get(
    "/health",
    summary="Liveness probe",
    tags=["operations"],
    responses={200: body_response("The API is up.", Health), **COMMON_ERRORS},
)
def health() -> Health:
    return Health(status="ok", service=SERVICE_NAME, version=API_VERSION)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=_openapi_json(),
    )


@functools.cache
def _openapi_json() -> str:
    # Every route is registered at import, so the document never changes: build it (several
    # milliseconds) on the first request for it, not on every one, nor at import.
    return app.get_openapi_json_schema()


# -- tasks --------------------------------------------------------------------------------


@app.post(
    "/tasks",
    status_code=HTTPStatus.CREATED,
    summary="Create a task",
    description=(
        "Dependencies must exist and may not form a cycle. Send an `Idempotency-Key` to make "
        "retries safe: the same key and body return the first response (with "
        "`Idempotent-Replayed: true`) and create nothing."
    ),
    tags=["tasks"],
    responses={
        201: task_response("Created.", created=True),
        400: error_response("Invalid body, unknown dependencies, or a rule violated."),
        409: error_response("A request with this Idempotency-Key is still in progress."),
        422: error_response("This Idempotency-Key was used with a different body."),
        **BODY_ERRORS,
        **COMMON_ERRORS,
    },
)
def create_task(
    command: Annotated[
        CreateTask,
        Body(
            description="The new task. Only title is required.",
            openapi_examples={
                "minimal": {"summary": "Just a title", "value": {"title": "Book the venue"}},
                "full": {
                    "summary": "Every field",
                    "value": {
                        key: EXAMPLE_TASK[key]
                        for key in (
                            "title",
                            "description",
                            "priority",
                            "dependencies",
                            "due_at",
                            "assignee",
                        )
                    },
                },
            },
        ),
    ],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Any unique string (a UUID is ideal), at most 255 visible ASCII "
            "characters. Remembered for 24 hours.",
        ),
    ] = None,
) -> Response[Task]:
    runtime = bootstrap.get_runtime()

    def create() -> StoredResponse:
        task = runtime.service.create(command)
        metrics.add_metric(name="TaskCreated", unit=MetricUnit.Count, value=1)
        logger.info("task created", extra={"task_id": str(task.task_id)})
        location = f"{_base_path()}/tasks/{task.task_id}"
        return StoredResponse(
            status_code=HTTPStatus.CREATED,
            headers={"Location": location, "ETag": task.etag},
            body=task.model_dump(mode="json"),
        )

    if idempotency_key is None:
        stored = create()
    else:
        stored = respond_once(
            runtime.idempotency,
            key=idempotency_key,
            caller=_caller(),
            body=app.current_event.json_body,
            context=app.lambda_context,
            respond=create,
        )
        if stored.replayed:
            metrics.add_metric(name="IdempotentReplay", unit=MetricUnit.Count, value=1)
    headers = dict(stored.headers)
    if stored.replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(
        status_code=stored.status_code,
        content_type=content_types.APPLICATION_JSON,
        body=Task.model_validate(stored.body),
        headers=headers,
    )


@app.get(
    "/tasks",
    summary="List tasks",
    description="A page of tasks in a stable order (oldest first). Filters combine with AND. "
    "Follow pagination.next_token until it is null.",
    tags=["tasks"],
    responses={
        200: body_response("A page of tasks.", TaskList),
        400: error_response("Bad limit or filter, or a next_token that is not ours."),
        **COMMON_ERRORS,
    },
)
def list_tasks(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1-100.")] = 50,
    next_token: Annotated[
        str | None,
        Query(
            max_length=2048,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="From the previous page's pagination.next_token.",
        ),
    ] = None,
    status: Annotated[Status | None, Query(description="Only tasks in this status.")] = None,
    priority: Annotated[Priority | None, Query(description="Only this priority.")] = None,
    assignee: Annotated[
        str | None, Query(max_length=320, description="Only tasks assigned to this email.")
    ] = None,
) -> TaskList:
    query = ListTasks(
        limit=limit, next_token=next_token, status=status, priority=priority, assignee=assignee
    )
    page = _service().list_tasks(query)
    return TaskList(
        tasks=page.tasks, pagination=Pagination(limit=page.limit, next_token=page.next_token)
    )


@app.get(
    "/tasks/<task_id>",
    summary="Get a task",
    tags=["tasks"],
    responses={
        200: task_response("The task."),
        400: error_response("The id is not a UUID."),
        404: error_response("No such task."),
        **COMMON_ERRORS,
    },
)
def get_task(task_id: TaskId) -> Response[Task]:
    task = _service().get(task_id)
    return _task_response(task)


@app.put(
    "/tasks/<task_id>",
    summary="Update a task",
    description=(
        "A partial update: only the fields sent change (null clears an optional field). Say "
        "which version the change is based on, with `If-Match` (412 if stale) or `version` in "
        "the body (409 with the current task if stale); without either, 428."
    ),
    tags=["tasks"],
    responses={
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
    },
)
def update_task(
    task_id: TaskId,
    command: Annotated[
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
    ],
    if_match: IfMatchHeader = None,
) -> Response[Task]:
    service = _service()
    if if_match is None:
        if command.version is None:
            raise PreconditionRequired
        task = service.update(task_id, command, command.version)
    else:
        condition = IfMatch.parse(if_match)
        expected = _expected_version(service, task_id, condition)
        if command.version is not None and command.version != expected:
            raise InvalidPrecondition(
                "version in the body and If-Match name different versions",
                {"version": command.version, "if_match": if_match[:100]},
            )
        try:
            task = service.update(task_id, command, expected)
        except VersionConflict as conflict:  # raced with another writer since If-Match matched
            raise PreconditionFailed(conflict.current) from conflict
    metrics.add_metric(name="TaskUpdated", unit=MetricUnit.Count, value=1)
    return _task_response(task)


@app.delete(
    "/tasks/<task_id>",
    status_code=HTTPStatus.NO_CONTENT,
    summary="Delete a task",
    description="Refused (409) while other tasks depend on it. If-Match is optional; when "
    "sent, the delete happens only if the ETag still matches (else 412).",
    tags=["tasks"],
    responses={
        204: NO_CONTENT,
        400: error_response("The id is not a UUID, or If-Match is malformed."),
        404: error_response("No such task."),
        409: error_response(
            "Other tasks depend on it (details.dependents), or it changed meanwhile.",
            model=DeleteConflictBody,
        ),
        412: precondition_failed_response(),
        **COMMON_ERRORS,
    },
)
def delete_task(task_id: TaskId, if_match: IfMatchHeader = None) -> Response[None]:
    service = _service()
    if if_match is None:
        service.delete(task_id)
    else:
        expected = _expected_version(service, task_id, IfMatch.parse(if_match))
        try:
            service.delete(task_id, expected)
        except VersionConflict as conflict:
            raise PreconditionFailed(conflict.current) from conflict
    metrics.add_metric(name="TaskDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


@app.get(
    "/tasks/<task_id>/dependents",
    summary="List the tasks that depend on a task",
    tags=["tasks"],
    responses={
        200: body_response("The tasks whose dependencies include this one.", DependentTasks),
        400: error_response("The id is not a UUID."),
        404: error_response("No such task."),
        **COMMON_ERRORS,
    },
)
def list_dependents(task_id: TaskId) -> DependentTasks:
    return DependentTasks(tasks=_service().dependents(task_id))


# -- helpers ------------------------------------------------------------------------------


def _service() -> TaskService:
    return bootstrap.get_task_service()


def _task_response(task: Task) -> Response[Task]:
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=task,
        headers={"ETag": task.etag},
    )


def _expected_version(service: TaskService, task_id: UUID, condition: IfMatch) -> int:
    """The version a conditional write must expect; reads the task only when the header
    names something other than exactly one version (``*``, or a list)."""
    single = condition.single_version
    if single is not None:
        return single
    return condition.version_to_write(service.get(task_id))


def _base_path() -> str:
    # Behind a REST API stage the public path starts with /<stage>; Location must include it.
    context = app.current_event.request_context
    stage = context.stage
    if stage and stage != "$default" and context.path.startswith(f"/{stage}/"):
        return f"/{stage}"
    return ""


def _caller() -> str:
    """Who is calling (IAM principal in AWS), to scope idempotency keys per caller."""
    identity = (app.current_event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("userArn") or identity.get("caller") or ANONYMOUS_CALLER)


def _request_id(event: Mapping[str, Any]) -> str:
    """API Gateway's id for the request (``requestContext.requestId``): what a client can
    quote (``x-amzn-RequestId``) and what every log line of the request carries."""
    context = event.get("requestContext") or {}
    return str(context.get("requestId") or "unknown")


# -- errors -------------------------------------------------------------------------------


def handle_error(exc: Exception) -> Response[dict[str, Any]]:
    reply = error_reply(exc, _request_id(app.current_event.raw_event))
    if reply.status == HTTPStatus.SERVICE_UNAVAILABLE:
        logger.warning("store unavailable", exc_info=exc)
    elif reply.is_server_error:
        logger.exception("unhandled error", exc_info=exc)
    elif isinstance(exc, VersionConflict | PreconditionFailed):
        metrics.add_metric(name="VersionConflict", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=reply.status,
        content_type=content_types.APPLICATION_JSON,
        body=reply.body,
        headers=reply.headers,
    )


# Every exception, including Powertools' RequestValidationError, goes through the one table.
app.exception_handler(Exception)(handle_error)


@app.not_found
def handle_not_found(_exc: NotFoundError) -> Response[dict[str, Any]]:
    method = app.current_event.http_method.upper()
    path = app.current_event.path
    allowed = app.route_table.allowed_methods(path)
    # (A method in ``allowed`` means the path only looks like a route: e.g. an id with
    # characters the resolver does not accept in a path parameter. That is a 404.)
    if allowed and method not in allowed:
        return handle_error(MethodNotAllowed(method, allowed))
    return handle_error(RouteNotFound(path))


# -- the handler --------------------------------------------------------------------------


def _rejected(event: Mapping[str, Any], exc: RequestRejected) -> dict[str, Any]:
    """A proxy response for a request refused before routing (see http_body)."""
    reply = error_reply(exc, _request_id(event))
    logger.info("request refused", extra={"error": reply.body["error"]})
    return {
        "statusCode": int(reply.status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **reply.headers},
        "body": json.dumps(reply.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with invocation_log_keys(context, correlation_id=_request_id(event)):
        try:
            method, path = str(event.get("httpMethod", "")), str(event.get("path", ""))
            if app.route_table.takes_body(method, path):
                event = checked_body(event)
            return app.resolve(event, context)
        except RequestRejected as exc:
            return _rejected(event, exc)
        finally:
            # Flush only what this request recorded: a read records nothing, and an empty
            # flush only produces a warning.
            if metrics.metric_set:
                metrics.flush_metrics()
