"""The workspace routes through the Lambda handler, and the HTTP face of isolation: 401 without
an identity, 404 for non-members (never 403), 403 for a viewer's write."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from taskapi.domain.workspaces import Role
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import OWNER, TASKS, WORKSPACE, call, installed

ALICE = "cognito:11111111-1111-4111-8111-111111111111"
BOB = "cognito:22222222-2222-4222-8222-222222222222"


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def new_workspace(caller: str, name: str = "Team") -> dict[str, object]:
    reply = call("POST", "/workspaces", {"name": name}, caller=caller)
    assert reply.status == 201, reply.body
    workspace: dict[str, object] = reply.json()
    return workspace


def test_creating_a_workspace_makes_the_caller_its_owner(harness: ServiceHarness) -> None:
    reply = call("POST", "/workspaces", {"name": " Research "}, caller=ALICE)
    assert reply.status == 201
    body = reply.json()
    assert (body["name"], body["role"], body["version"]) == ("Research", "owner", 1)
    assert reply.header("Location") == f"/workspaces/{body['workspace_id']}"
    assert reply.header("ETag") == '"1"'
    members = call("GET", f"/workspaces/{body['workspace_id']}/members", caller=ALICE).json()
    assert [(m["member"], m["role"]) for m in members["members"]] == [(ALICE, "owner")]


def test_listing_shows_only_the_callers_workspaces_with_their_role(
    harness: ServiceHarness,
) -> None:
    mine = new_workspace(ALICE, "mine")
    new_workspace(BOB, "bob's")
    listed = call("GET", "/workspaces", caller=ALICE).json()
    assert [(w["workspace_id"], w["role"]) for w in listed["workspaces"]] == [
        (mine["workspace_id"], "owner")
    ]
    assert listed["pagination"] == {"limit": 50, "next_token": None}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/workspaces"),
        ("POST", "/workspaces"),
        ("GET", WORKSPACE),
        ("GET", f"{WORKSPACE}/members"),
        ("GET", TASKS),
        ("POST", TASKS),
    ],
)
def test_a_request_without_an_identity_is_401(
    harness: ServiceHarness, method: str, path: str
) -> None:
    body = {"name": "x"} if path == "/workspaces" and method == "POST" else None
    body = {"title": "x"} if path == TASKS and method == "POST" else body
    reply = call(method, path, body, caller=None)
    assert reply.status == 401
    assert reply.json()["error"] == "not_authenticated"
    assert harness.stored_tasks() == {}


def test_a_non_member_gets_404_for_the_workspace_and_everything_under_it(
    harness: ServiceHarness,
) -> None:
    task = call("POST", TASKS, {"title": "secret"}).json()
    task_path = f"{TASKS}/{task['task_id']}"
    requests = [
        ("GET", WORKSPACE, None),
        ("PUT", WORKSPACE, {"name": "taken"}),
        ("DELETE", WORKSPACE, None),
        ("GET", f"{WORKSPACE}/members", None),
        ("PUT", f"{WORKSPACE}/members/{BOB}", {"role": "owner"}),
        ("GET", TASKS, None),
        ("POST", TASKS, {"title": "planted"}),
        ("GET", task_path, None),
        ("PUT", task_path, {"title": "changed", "version": 1}),
        ("DELETE", task_path, None),
        ("GET", f"{task_path}/dependents", None),
    ]
    for method, path, body in requests:
        reply = call(method, path, body, caller=BOB)
        assert (method, path, reply.status) == (method, path, 404)
        assert reply.json()["error"] == "workspace_not_found"
    assert call("GET", task_path).json() == task
    assert [m["member"] for m in call("GET", f"{WORKSPACE}/members").json()["members"]] == [OWNER]


def test_a_viewer_reads_and_gets_403_on_writes(harness: ServiceHarness) -> None:
    harness.add_member(BOB, Role.VIEWER)
    task = call("POST", TASKS, {"title": "t"}).json()
    assert call("GET", f"{TASKS}/{task['task_id']}", caller=BOB).status == 200
    assert call("GET", WORKSPACE, caller=BOB).json()["role"] == "viewer"
    for method, path, body in [
        ("POST", TASKS, {"title": "no"}),
        ("PUT", f"{TASKS}/{task['task_id']}", {"title": "no", "version": 1}),
        ("DELETE", f"{TASKS}/{task['task_id']}", None),
        ("PUT", WORKSPACE, {"name": "no"}),
        ("PUT", f"{WORKSPACE}/members/{BOB}", {"role": "owner"}),
    ]:
        reply = call(method, path, body, caller=BOB)
        assert reply.status == 403, (method, path)
        assert reply.json()["error"] == "not_permitted"
    assert call("GET", f"{TASKS}/{task['task_id']}").json() == task


def test_members_are_put_and_removed_by_owners(harness: ServiceHarness) -> None:
    added = call("PUT", f"{WORKSPACE}/members/{ALICE}", {"role": "member"})
    assert added.status == 201
    assert added.json()["role"] == "member"
    changed = call("PUT", f"{WORKSPACE}/members/{ALICE}", {"role": "viewer"})
    assert changed.status == 200
    assert changed.json()["role"] == "viewer"
    assert call("DELETE", f"{WORKSPACE}/members/{ALICE}").status == 204
    gone = call("DELETE", f"{WORKSPACE}/members/{ALICE}")
    assert (gone.status, gone.json()["error"]) == (404, "member_not_found")


def test_an_iam_member_is_named_percent_encoded(harness: ServiceHarness) -> None:
    member = "iam:arn:aws:iam::123456789012:user/ops/bob"
    reply = call("PUT", f"{WORKSPACE}/members/{quote(member, safe=':')}", {"role": "viewer"})
    assert reply.status == 201, reply.body
    assert reply.json()["member"] == member


@pytest.mark.parametrize(
    "member", ["bob", "cognito:", "cognito:has space", "google:123", "cognito:" + "x" * 600]
)
def test_a_member_that_is_not_a_caller_identity_is_400(
    harness: ServiceHarness, member: str
) -> None:
    reply = call("PUT", f"{WORKSPACE}/members/{quote(member)}", {"role": "viewer"})
    assert reply.status == 400
    assert harness.workspaces.get(OWNER, harness.tasks.access.workspace_id).workspace.version == 1


def test_a_member_too_long_is_counted_in_characters(harness: ServiceHarness) -> None:
    reply = call("PUT", f"{WORKSPACE}/members/cognito:{'x' * 600}", {"role": "viewer"})
    assert reply.json()["details"] == [
        {"field": "member", "message": "at most 512 characters, not 608"}
    ]


def test_the_last_owner_cannot_leave(harness: ServiceHarness) -> None:
    reply = call("DELETE", f"{WORKSPACE}/members/{OWNER}")
    assert (reply.status, reply.json()["error"]) == (409, "workspace_needs_an_owner")


def test_a_rename_with_a_stale_if_match_is_412_and_a_stale_version_409(
    harness: ServiceHarness,
) -> None:
    renamed = call("PUT", WORKSPACE, {"name": "Renamed"}, [("If-Match", '"1"')])
    assert (renamed.status, renamed.header("ETag")) == (200, '"2"')
    stale = call("PUT", WORKSPACE, {"name": "Lost"}, [("If-Match", '"1"')])
    assert (stale.status, stale.header("ETag")) == (412, '"2"')
    conflict = call("PUT", WORKSPACE, {"name": "Lost", "version": 1})
    assert conflict.status == 409
    assert conflict.json()["current_workspace"]["name"] == "Renamed"
    # "*" names no version: the stale body version is the same 409, not a disagreement.
    starred = call("PUT", WORKSPACE, {"name": "Lost", "version": 1}, [("If-Match", "*")])
    assert (starred.status, starred.json()["error"]) == (409, "version_conflict")
    assert starred.json()["current_workspace"]["name"] == "Renamed"
    assert call("GET", WORKSPACE).json()["name"] == "Renamed"


def test_a_workspace_holding_tasks_is_not_deleted(harness: ServiceHarness) -> None:
    task = call("POST", TASKS, {"title": "t"}).json()
    refused = call("DELETE", WORKSPACE)
    assert (refused.status, refused.json()["error"]) == (409, "workspace_not_empty")
    assert call("DELETE", f"{TASKS}/{task['task_id']}").status == 204
    assert call("DELETE", WORKSPACE).status == 204
    assert call("GET", WORKSPACE).status == 404


def test_a_page_token_from_one_workspace_is_400_in_another(harness: ServiceHarness) -> None:
    for title in "ab":
        call("POST", TASKS, {"title": title})
    token = call("GET", f"{TASKS}?limit=1").json()["pagination"]["next_token"]
    other = new_workspace(OWNER, "other")
    reply = call("GET", f"/workspaces/{other['workspace_id']}/tasks?limit=1&next_token={token}")
    assert reply.status == 400
    assert "another workspace" in reply.json()["message"]


def test_a_dependency_on_another_workspaces_task_does_not_exist(harness: ServiceHarness) -> None:
    elsewhere = call("POST", TASKS, {"title": "in the default workspace"}).json()
    other = new_workspace(OWNER, "other")
    reply = call(
        "POST",
        f"/workspaces/{other['workspace_id']}/tasks",
        {"title": "t", "dependencies": [elsewhere["task_id"]]},
    )
    assert reply.status == 400
    assert reply.json()["details"]["missing_dependencies"] == [elsewhere["task_id"]]
