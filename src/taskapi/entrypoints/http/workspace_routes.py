"""The routes of workspaces and their members: each translates one request into a call of the
workspace service and back. The tasks of a workspace are in ``routes``. See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit

from taskapi import bootstrap
from taskapi.domain.errors import WorkspaceVersionConflict
from taskapi.domain.workspaces import Membership, Role
from taskapi.entrypoints.http.app import app
from taskapi.entrypoints.http.conditions import IfMatch, version_for_update
from taskapi.entrypoints.http.errors import PreconditionFailed
from taskapi.entrypoints.http.identity import current_caller
from taskapi.entrypoints.http.openapi import (
    CREATE_WORKSPACE_RESPONSES,
    DELETE_WORKSPACE_RESPONSES,
    GET_WORKSPACE_RESPONSES,
    LIST_WORKSPACES_RESPONSES,
    MEMBERS_RESPONSES,
    PUT_MEMBER_RESPONSES,
    REMOVE_MEMBER_RESPONSES,
    UPDATE_WORKSPACE_RESPONSES,
    CreateWorkspaceBody,
    IfMatchHeader,
    LimitQuery,
    MemberPath,
    NextTokenQuery,
    PutMemberBody,
    UpdateWorkspaceBody,
    WorkspaceIdPath,
)
from taskapi.entrypoints.http.routes import base_path
from taskapi.entrypoints.http.schemas import MemberList, Pagination, WorkspaceList, WorkspaceView
from taskapi.entrypoints.observability import metrics
from taskapi.service.commands import ListPage
from taskapi.service.workspaces import WorkspaceService

T = TypeVar("T")


@app.post(
    "/workspaces",
    status_code=HTTPStatus.CREATED,
    summary="Create a workspace",
    description="You become its owner. Its tasks live under /workspaces/{workspace_id}/tasks.",
    tags=["workspaces"],
    responses=CREATE_WORKSPACE_RESPONSES,
)
def create_workspace(command: CreateWorkspaceBody) -> Response[WorkspaceView]:
    workspace = _service().create(current_caller(), command)
    metrics.add_metric(name="WorkspaceCreated", unit=MetricUnit.Count, value=1)
    location = f"{base_path()}/workspaces/{workspace.workspace_id}"
    view = WorkspaceView.of(workspace, Role.OWNER)
    headers = {"Location": location, "ETag": workspace.etag}
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, view, headers)


@app.get(
    "/workspaces",
    summary="List your workspaces",
    description="The workspaces you are a member of, with your role in each, in the order you "
    "joined them. Follow pagination.next_token until it is null.",
    tags=["workspaces"],
    responses=LIST_WORKSPACES_RESPONSES,
)
def list_workspaces(limit: LimitQuery = 50, next_token: NextTokenQuery = None) -> WorkspaceList:
    page = _service().list_mine(current_caller(), ListPage(limit=limit, next_token=next_token))
    views = [WorkspaceView.of(w.workspace, w.role) for w in page.workspaces]
    return WorkspaceList(
        workspaces=views, pagination=Pagination(limit=page.limit, next_token=page.next_token)
    )


@app.get(
    "/workspaces/<workspace_id>",
    summary="Get a workspace",
    description="404 unless you are a member: a workspace's existence is not revealed.",
    tags=["workspaces"],
    responses=GET_WORKSPACE_RESPONSES,
)
def get_workspace(workspace_id: WorkspaceIdPath) -> Response[WorkspaceView]:
    found = _service().get(current_caller(), workspace_id)
    return _workspace_response(WorkspaceView.of(found.workspace, found.role))


@app.put(
    "/workspaces/<workspace_id>",
    summary="Rename a workspace",
    description="Owners only. `If-Match` (412 if stale) or `version` in the body (409 if "
    "stale) make it conditional; without either, the rename applies to the current version.",
    tags=["workspaces"],
    responses=UPDATE_WORKSPACE_RESPONSES,
)
def update_workspace(
    workspace_id: WorkspaceIdPath, command: UpdateWorkspaceBody, if_match: IfMatchHeader = None
) -> Response[WorkspaceView]:
    service, caller = _service(), current_caller()
    expected = None
    if if_match is not None:
        expected = version_for_update(
            if_match, command.version, lambda: service.get(caller, workspace_id).workspace
        )
    # None: no header, or one that leaves the condition to the body's version (stale: 409).
    header = None if expected is None else if_match
    renamed = _conditional(lambda: service.rename(caller, workspace_id, command, expected), header)
    return _workspace_response(WorkspaceView.of(renamed, Role.OWNER))


@app.delete(
    "/workspaces/<workspace_id>",
    status_code=HTTPStatus.NO_CONTENT,
    summary="Delete a workspace",
    description="Owners only; refused (409 workspace_not_empty) while it holds tasks: delete "
    "them first. Its members go with it. If-Match is optional.",
    tags=["workspaces"],
    responses=DELETE_WORKSPACE_RESPONSES,
)
def delete_workspace(
    workspace_id: WorkspaceIdPath, if_match: IfMatchHeader = None
) -> Response[None]:
    service, caller = _service(), current_caller()
    expected = None
    if if_match is not None:
        expected = IfMatch.parse(if_match).expected_version(
            lambda: service.get(caller, workspace_id).workspace
        )
    _conditional(lambda: service.delete(caller, workspace_id, expected), if_match)
    metrics.add_metric(name="WorkspaceDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# -- members -------------------------------------------------------------------------------


@app.get(
    "/workspaces/<workspace_id>/members",
    summary="List a workspace's members",
    description="Every member may see who else is one.",
    tags=["workspaces"],
    responses=MEMBERS_RESPONSES,
)
def list_members(
    workspace_id: WorkspaceIdPath, limit: LimitQuery = 50, next_token: NextTokenQuery = None
) -> MemberList:
    query = ListPage(limit=limit, next_token=next_token)
    page = _service().members(current_caller(), workspace_id, query)
    return MemberList(
        members=page.members, pagination=Pagination(limit=page.limit, next_token=page.next_token)
    )


@app.put(
    "/workspaces/<workspace_id>/members/<member>",
    summary="Add a member or set their role",
    description="Owners only. `member` is the caller identity: cognito:<sub> or "
    "iam:<principal ARN> (percent-encoded). The last owner cannot step down.",
    tags=["workspaces"],
    responses=PUT_MEMBER_RESPONSES,
)
def put_member(
    workspace_id: WorkspaceIdPath, member: MemberPath, command: PutMemberBody
) -> Response[Membership]:
    service = _service()
    change = service.put_member(current_caller(), workspace_id, unquote(member), command.role)
    status = HTTPStatus.CREATED if change.added else HTTPStatus.OK
    return Response(status, content_types.APPLICATION_JSON, change.membership)


@app.delete(
    "/workspaces/<workspace_id>/members/<member>",
    status_code=HTTPStatus.NO_CONTENT,
    summary="Remove a member",
    description="Owners remove anyone; any member may remove themselves (leave). The last "
    "owner cannot.",
    tags=["workspaces"],
    responses=REMOVE_MEMBER_RESPONSES,
)
def remove_member(workspace_id: WorkspaceIdPath, member: MemberPath) -> Response[None]:
    _service().remove_member(current_caller(), workspace_id, unquote(member))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


# -- helpers -------------------------------------------------------------------------------


def _service() -> WorkspaceService:
    return bootstrap.get_workspace_service()


def _workspace_response(view: WorkspaceView) -> Response[WorkspaceView]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, view, {"ETag": view.etag})


def _conditional(write: Callable[[], T], if_match: str | None) -> T:
    """``write``; a version conflict under If-Match is a 412 (the header was stale)."""
    try:
        return write()
    except WorkspaceVersionConflict as conflict:
        if if_match is None:
            raise
        raise PreconditionFailed(conflict.current) from conflict
