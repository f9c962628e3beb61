"""The routes of the HTTP API: each translates one request into a service call and back.

How each route is documented lives in ``openapi``; errors go through the table in ``errors``
(see ``app``). See docs/api.md.
"""

from __future__ import annotations

import functools
import json
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit

from taskapi import bootstrap
from taskapi.domain.errors import VersionConflict
from taskapi.domain.model import Task
from taskapi.entrypoints.http.app import API_VERSION, app
from taskapi.entrypoints.http.conditions import IfMatch, version_for_update
from taskapi.entrypoints.http.errors import (
    PreconditionFailed,
    PreconditionRequired,
)
from taskapi.entrypoints.http.identity import REPLAYED_HEADER, access_to
from taskapi.entrypoints.http.openapi import (
    CREATE_RESPONSES,
    DELETE_RESPONSES,
    DEPENDENTS_RESPONSES,
    GET_RESPONSES,
    HEALTH_RESPONSES,
    LIST_RESPONSES,
    UPDATE_RESPONSES,
    AssigneeQuery,
    CreateTaskBody,
    IdempotencyKeyHeader,
    IfMatchHeader,
    LimitQuery,
    NextTokenQuery,
    PriorityQuery,
    StatusQuery,
    TaskIdPath,
    UpdateTaskBody,
    WorkspaceIdPath,
)
from taskapi.entrypoints.http.schemas import DependentTasks, Health, Pagination, TaskList
from taskapi.entrypoints.http.swagger import swagger_page
from taskapi.entrypoints.observability import SERVICE_NAME, logger, metrics
from taskapi.service.commands import ListDependents, ListTasks
from taskapi.service.tasks import Created, TaskService

# -- operations ---------------------------------------------------------------------------


@app.get("/health", summary="Liveness probe", tags=["operations"], responses=HEALTH_RESPONSES)
def health() -> Health:
    return Health(status="ok", service=SERVICE_NAME, version=API_VERSION)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, openapi_json())


@app.get("/swagger", include_in_schema=False)
def swagger_ui() -> Response[str]:
    page = swagger_page(json.loads(openapi_json()), base_path())
    return Response(HTTPStatus.OK, "text/html", page)


@functools.cache
def openapi_json() -> str:
    """The OpenAPI document served at /openapi.json (and committed: ``contract``)."""
    # Every route is registered at import, so the document never changes: build it (several
    # milliseconds) on the first request for it, not on every one, nor at import.
    return app.get_openapi_json_schema()


# -- tasks --------------------------------------------------------------------------------


@app.post(
    "/workspaces/<workspace_id>/tasks",
    status_code=HTTPStatus.CREATED,
    summary="Create a task",
    description="Dependencies must exist and may not form a cycle. Send an `Idempotency-Key` "
    "to make retries safe: the same key and body return the first response (with "
    "`Idempotent-Replayed: true`) and create nothing.",
    tags=["tasks"],
    responses=CREATE_RESPONSES,
)
def create_task(
    workspace_id: WorkspaceIdPath,
    command: CreateTaskBody,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[Task]:
    service, access = _service(), access_to(workspace_id)
    if idempotency_key is None:
        created = Created(service.create(access, command), replayed=False)
    else:
        created = service.create_once(access, command, idempotency_key)
    task = created.task
    headers = {"Location": _task_path(task), "ETag": task.etag}
    if created.replayed:
        headers[REPLAYED_HEADER] = "true"
        metrics.add_metric(name="IdempotentReplay", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="TaskCreated", unit=MetricUnit.Count, value=1)
        # Debug, not info: at INFO this one line was a quarter of a create's time in Python
        # (docs/performance.md); the TaskCreated metric and event record every create.
        logger.debug("task created", extra={"task_id": str(task.task_id)})
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, task, headers)


@app.get(
    "/workspaces/<workspace_id>/tasks",
    summary="List tasks",
    description="A page of tasks in a stable order (oldest first). Filters combine with AND. "
    "Follow pagination.next_token until it is null.",
    tags=["tasks"],
    responses=LIST_RESPONSES,
)
def list_tasks(
    workspace_id: WorkspaceIdPath,
    *,
    limit: LimitQuery = 50,
    next_token: NextTokenQuery = None,
    status: StatusQuery = None,
    priority: PriorityQuery = None,
    assignee: AssigneeQuery = None,
) -> TaskList:
    query = ListTasks(
        limit=limit, next_token=next_token, status=status, priority=priority, assignee=assignee
    )
    page = _service().list_tasks(access_to(workspace_id), query)
    return TaskList(
        tasks=page.tasks, pagination=Pagination(limit=page.limit, next_token=page.next_token)
    )


@app.get(
    "/workspaces/<workspace_id>/tasks/<task_id>",
    summary="Get a task",
    tags=["tasks"],
    responses=GET_RESPONSES,
)
def get_task(workspace_id: WorkspaceIdPath, task_id: TaskIdPath) -> Response[Task]:
    return _task_response(_service().get(access_to(workspace_id), task_id))


@app.put(
    "/workspaces/<workspace_id>/tasks/<task_id>",
    summary="Update a task",
    description="A partial update: only the fields sent change (null clears an optional "
    "field). Say which version the change is based on, with `If-Match` (412 if stale) or "
    "`version` in the body (409 with the current task if stale); without either, 428.",
    tags=["tasks"],
    responses=UPDATE_RESPONSES,
)
def update_task(
    workspace_id: WorkspaceIdPath,
    task_id: TaskIdPath,
    command: UpdateTaskBody,
    if_match: IfMatchHeader = None,
) -> Response[Task]:
    service, access = _service(), access_to(workspace_id)
    expected = None
    if if_match is not None:
        expected = version_for_update(
            if_match, command.version, lambda: service.get(access, task_id)
        )
    if expected is None:  # the body's version is the condition
        if command.version is None:
            raise PreconditionRequired
        task = service.update(access, task_id, command, command.version)
    else:
        try:
            task = service.update(access, task_id, command, expected)
        except VersionConflict as conflict:  # raced with another writer since If-Match matched
            raise PreconditionFailed(conflict.current) from conflict
    metrics.add_metric(name="TaskUpdated", unit=MetricUnit.Count, value=1)
    return _task_response(task)


@app.delete(
    "/workspaces/<workspace_id>/tasks/<task_id>",
    status_code=HTTPStatus.NO_CONTENT,
    summary="Delete a task",
    description="Refused (409) while other tasks depend on it. If-Match is optional; when "
    "sent, the delete happens only if the ETag still matches (else 412).",
    tags=["tasks"],
    responses=DELETE_RESPONSES,
)
def delete_task(
    workspace_id: WorkspaceIdPath, task_id: TaskIdPath, if_match: IfMatchHeader = None
) -> Response[None]:
    service, access = _service(), access_to(workspace_id)
    if if_match is None:
        service.delete(access, task_id)
    else:
        expected = IfMatch.parse(if_match).expected_version(lambda: service.get(access, task_id))
        try:
            service.delete(access, task_id, expected)
        except VersionConflict as conflict:
            raise PreconditionFailed(conflict.current) from conflict
    metrics.add_metric(name="TaskDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


@app.get(
    "/workspaces/<workspace_id>/tasks/<task_id>/dependents",
    summary="List the tasks that depend on a task",
    description="A page of the tasks whose dependencies include this one, in task id order. "
    "Follow pagination.next_token until it is null.",
    tags=["tasks"],
    responses=DEPENDENTS_RESPONSES,
)
def list_dependents(
    workspace_id: WorkspaceIdPath,
    task_id: TaskIdPath,
    limit: LimitQuery = 50,
    next_token: NextTokenQuery = None,
) -> DependentTasks:
    query = ListDependents(limit=limit, next_token=next_token)
    page = _service().dependents(access_to(workspace_id), task_id, query)
    return DependentTasks(
        tasks=page.tasks, pagination=Pagination(limit=page.limit, next_token=page.next_token)
    )


# -- helpers ------------------------------------------------------------------------------


def _service() -> TaskService:
    return bootstrap.get_task_service()


def _task_response(task: Task) -> Response[Task]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, task, {"ETag": task.etag})


def _task_path(task: Task) -> str:
    """The public URL path of ``task``: what Location says."""
    return f"{base_path()}/workspaces/{task.workspace_id}/tasks/{task.task_id}"


def base_path() -> str:
    # Behind a REST API stage the public path starts with /<stage>; Location must include it.
    context = app.current_event.request_context
    stage = context.stage
    if stage and stage != "$default" and context.path.startswith(f"/{stage}/"):
        return f"/{stage}"
    return ""
