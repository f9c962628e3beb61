"""Workspace isolation, black box: a real ``taskapi serve`` subprocess, and three users with
tokens from its data directory (Alice, Bob and Carol, as ``taskapi token --user`` prints them).

No read, list, write, delete, dependency, page token, Idempotency-Key or notification crosses a
workspace; a viewer cannot write (403); to a non-member a workspace and everything under it is
a 404, never a 403, whether it exists or not; a removed member loses access at once; a missing
or bad token is the gateway's 401. The contract is docs/api.md#workspaces.

The suite needs users of its own, so it always runs against a local server: the session's when
there is one, else (``TASKAPI_API_URL`` names a deployed stack) one it starts for itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import local_bearer, start_local_server, stop_local_server
from tests.e2e.http_client import ApiClient, BearerToken, Response
from tests.e2e.mailbox import (
    assert_of_workspace,
    wait_for_notices,
)
from tests.e2e.workspaces import Workspace, create_task, create_workspace
from tests.tokens import token_for

from taskapi.local.identity import member_identity

pytestmark = pytest.mark.e2e


@dataclass(frozen=True, slots=True)
class User:
    address: str
    api: ApiClient

    @property
    def identity(self) -> str:
        """What ``taskapi token --user ADDRESS --identity`` prints: how the API names them."""
        return member_identity(self.address)


@dataclass(frozen=True, slots=True)
class LocalServer:
    url: str
    data_dir: Path

    @property
    def mailbox(self) -> Path:
        return self.data_dir / "mailbox.jsonl"

    def user(self, address: str) -> User:
        return User(address, ApiClient(self.url, authenticate=local_bearer(self.data_dir, address)))


@pytest.fixture(scope="module")
def server(
    api_url: str, local_data_dir: Path | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    if local_data_dir is not None:
        yield LocalServer(api_url, local_data_dir)
        return
    workdir = tmp_path_factory.mktemp("isolation")
    process, output, url = start_local_server(workdir)
    try:
        yield LocalServer(url, workdir / "data")
    finally:
        stop_local_server(process, output)


def _user(server: LocalServer, name: str) -> Iterator[User]:
    # A new address per module run: a shared server may hold an earlier run's workspaces.
    user = server.user(f"{name}-{uuid.uuid4().hex[:8]}@example.com")
    yield user
    user.api.close()


@pytest.fixture(scope="module")
def alice(server: LocalServer) -> Iterator[User]:
    yield from _user(server, "alice")


@pytest.fixture(scope="module")
def bob(server: LocalServer) -> Iterator[User]:
    yield from _user(server, "bob")


@pytest.fixture(scope="module")
def carol(server: LocalServer) -> Iterator[User]:
    yield from _user(server, "carol")


# -- helpers -------------------------------------------------------------------------------


def add_member(owner: User, workspace: Workspace, user: User, role: str) -> None:
    reply = owner.api.put(workspace.member(user.identity), json_body={"role": role})
    assert reply.status == 201, reply.body
    assert (reply.json()["member"], reply.json()["role"]) == (user.identity, role)


def error_of(reply: Response) -> tuple[int, str]:
    return reply.status, reply.json()["error"]


def task_ids(user: User, workspace: Workspace, **params: str | int) -> list[str]:
    """The ids of every task ``user`` lists in ``workspace``, following next_token."""
    ids: list[str] = []
    query: dict[str, str | int] = {"limit": 100, **params}
    while True:
        reply = user.api.get(workspace.tasks, params=query)
        assert reply.status == 200, reply.body
        ids += [task["task_id"] for task in reply.json()["tasks"]]
        token = reply.json()["pagination"]["next_token"]
        if token is None:
            return ids
        query["next_token"] = token


def workspace_ids(user: User) -> set[str]:
    reply = user.api.get("/workspaces", params={"limit": 100})
    assert reply.status == 200, reply.body
    assert reply.json()["pagination"]["next_token"] is None  # these users have a few
    return {w["workspace_id"] for w in reply.json()["workspaces"]}


def member_ids(user: User, workspace: Workspace) -> set[str]:
    reply = user.api.get(workspace.members)
    assert reply.status == 200, reply.body
    return {m["member"] for m in reply.json()["members"]}


def every_request_under(
    workspace: Workspace, task_id: str, someone: str, page_token: str
) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    """(method, path, body, headers): every route under a workspace, for a task of it, a
    member ``someone`` and a page token of its task listing; the writes are ones an owner
    could make."""
    return [
        ("GET", workspace.path, None, {}),
        ("PUT", workspace.path, {"name": "Taken over"}, {}),
        ("DELETE", workspace.path, None, {}),
        ("GET", workspace.members, None, {}),
        ("PUT", workspace.member(someone), {"role": "owner"}, {}),
        ("DELETE", workspace.member(someone), None, {}),
        ("GET", workspace.tasks, None, {}),
        ("GET", workspace.tasks, None, {"next_token": page_token}),
        ("POST", workspace.tasks, {"title": "Planted"}, {}),
        ("GET", workspace.task(task_id), None, {}),
        ("PUT", workspace.task(task_id), {"title": "Defaced", "version": 1}, {}),
        ("PUT", workspace.task(task_id), {"title": "Defaced"}, {"If-Match": '"1"'}),
        ("DELETE", workspace.task(task_id), None, {}),
        ("DELETE", workspace.task(task_id), None, {"If-Match": '"1"'}),
        ("GET", workspace.dependents(task_id), None, {}),
    ]


def send(
    user: User, method: str, path: str, body: dict[str, Any] | None, extra: dict[str, str]
) -> Response:
    params = {"next_token": extra["next_token"]} if "next_token" in extra else None
    headers = {k: v for k, v in extra.items() if k != "next_token"}
    return user.api.request(method, path, json_body=body, params=params, headers=headers)


# -- non-members: 404 for everything ---------------------------------------------------------


def test_to_a_non_member_a_workspace_and_everything_under_it_is_not_found(
    alice: User, carol: User
) -> None:
    workspace = create_workspace(alice.api, "Alice's")
    task = create_task(alice.api, workspace, title="Secret plan", assignee="ana@example.com")
    create_task(alice.api, workspace, title="Step two", dependencies=[task["task_id"]])
    unknown = Workspace(str(uuid.uuid4()), "nobody's")
    page_token = alice.api.get(workspace.tasks, params={"limit": 1}).json()["pagination"]
    requests = every_request_under(
        workspace, task["task_id"], carol.identity, page_token["next_token"]
    )

    for method, path, body, extra in requests:
        reply = send(carol, method, path, body, extra)
        assert error_of(reply) == (404, "workspace_not_found"), (method, path, extra, reply.body)
        assert "Secret plan" not in reply.body.decode()
        if "next_token" in extra:
            continue  # A's token is not one of the other workspace's listing (a 400 there)
        # Word for word what a workspace that does not exist answers: nothing tells them apart.
        ghost_path = path.replace(workspace.workspace_id, unknown.workspace_id)
        ghost = send(carol, method, ghost_path, body, extra)
        assert (ghost.status, ghost.json()) == (
            404,
            {
                **reply.json(),
                "message": reply.json()["message"].replace(
                    workspace.workspace_id, unknown.workspace_id
                ),
                "details": {"workspace_id": unknown.workspace_id},
            },
        ), (method, path, ghost.body)

    # A request wrong on its face is a 400 before anything is looked up: the same whether the
    # workspace exists or not, so it reveals nothing either.
    for wrong in (workspace.task("42"), f"{workspace.tasks}?next_token=forged"):
        reply = carol.api.get(wrong)
        ghost = carol.api.get(wrong.replace(workspace.workspace_id, unknown.workspace_id))
        assert reply.status == ghost.status == 400, reply.body
        assert reply.json() == ghost.json()

    # Carol lists none of it, and nothing she sent changed anything.
    assert workspace.workspace_id not in workspace_ids(carol)
    assert member_ids(alice, workspace) == {alice.identity}
    current = alice.api.get(workspace.path).json()
    assert (current["name"], current["version"]) == ("Alice's", 1)
    assert alice.api.get(workspace.task(task["task_id"])).json() == task
    assert len(task_ids(alice, workspace)) == 2


# -- roles ---------------------------------------------------------------------------------


def test_a_viewer_reads_everything_and_writes_nothing(alice: User, bob: User, carol: User) -> None:
    workspace = create_workspace(alice.api)
    task = create_task(alice.api, workspace, title="Read me")
    add_member(alice, workspace, bob, "viewer")

    reads = [
        bob.api.get(workspace.path),
        bob.api.get(workspace.members),
        bob.api.get(workspace.tasks),
        bob.api.get(workspace.task(task["task_id"])),
        bob.api.get(workspace.dependents(task["task_id"])),
    ]
    assert [reply.status for reply in reads] == [200] * 5
    assert reads[0].json()["role"] == "viewer"
    assert reads[3].json() == task
    assert workspace.workspace_id in workspace_ids(bob)

    writes = [
        bob.api.post(workspace.tasks, json_body={"title": "Not mine to add"}),
        bob.api.put(workspace.task(task["task_id"]), json_body={"title": "x", "version": 1}),
        bob.api.put(
            workspace.task(task["task_id"]), json_body={"title": "x"}, headers={"If-Match": '"1"'}
        ),
        bob.api.delete(workspace.task(task["task_id"])),
        bob.api.put(workspace.path, json_body={"name": "Bob's now"}),
        bob.api.delete(workspace.path),
        bob.api.put(workspace.member(carol.identity), json_body={"role": "member"}),
        bob.api.put(workspace.member(bob.identity), json_body={"role": "owner"}),
        bob.api.delete(workspace.member(alice.identity)),
    ]
    assert [error_of(reply) for reply in writes] == [(403, "not_permitted")] * len(writes)

    assert alice.api.get(workspace.task(task["task_id"])).json() == task
    assert task_ids(alice, workspace) == [task["task_id"]]
    assert member_ids(alice, workspace) == {alice.identity, bob.identity}
    assert alice.api.get(workspace.path).json()["version"] == 2  # one change: Bob's joining

    # A viewer may leave, and is then a stranger.
    assert bob.api.delete(workspace.member(bob.identity)).status == 204
    assert error_of(bob.api.get(workspace.tasks)) == (404, "workspace_not_found")


def test_a_member_writes_tasks_but_only_an_owner_manages_the_workspace(
    alice: User, bob: User, carol: User
) -> None:
    workspace = create_workspace(alice.api)
    add_member(alice, workspace, bob, "member")

    task = create_task(bob.api, workspace, title="Bob's task")
    renamed = bob.api.put(
        workspace.task(task["task_id"]), json_body={"title": "Renamed"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status == 200
    assert (
        bob.api.delete(workspace.task(task["task_id"]), headers={"If-Match": '"2"'}).status == 204
    )

    refused = [
        bob.api.put(workspace.path, json_body={"name": "Bob's now"}),
        bob.api.delete(workspace.path),
        bob.api.put(workspace.member(carol.identity), json_body={"role": "viewer"}),
        bob.api.put(workspace.member(bob.identity), json_body={"role": "owner"}),
    ]
    assert [error_of(reply) for reply in refused] == [(403, "not_permitted")] * len(refused)
    assert member_ids(alice, workspace) == {alice.identity, bob.identity}


def test_the_last_owner_can_neither_leave_nor_step_down(alice: User, bob: User) -> None:
    workspace = create_workspace(alice.api)

    step_down = alice.api.put(workspace.member(alice.identity), json_body={"role": "member"})
    leave = alice.api.delete(workspace.member(alice.identity))
    assert error_of(step_down) == (409, "workspace_needs_an_owner")
    assert error_of(leave) == (409, "workspace_needs_an_owner")

    # With a second owner, she may.
    add_member(alice, workspace, bob, "owner")
    stepped = alice.api.put(workspace.member(alice.identity), json_body={"role": "viewer"})
    assert (stepped.status, stepped.json()["role"]) == (200, "viewer")
    assert error_of(alice.api.post(workspace.tasks, json_body={"title": "t"})) == (
        403,
        "not_permitted",
    )
    assert error_of(bob.api.delete(workspace.member(bob.identity))) == (
        409,
        "workspace_needs_an_owner",
    )


def test_a_removed_member_loses_access_at_once(alice: User, bob: User) -> None:
    workspace = create_workspace(alice.api)
    add_member(alice, workspace, bob, "member")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Bob's first"}
    first = bob.api.post(workspace.tasks, json_body=body, headers=key)
    assert first.status == 201
    create_task(bob.api, workspace, title="Bob's second")
    page = bob.api.get(workspace.tasks, params={"limit": 1}).json()
    token = page["pagination"]["next_token"]
    assert token is not None

    assert alice.api.delete(workspace.member(bob.identity)).status == 204

    task_path = workspace.task(first.json()["task_id"])
    after = [
        bob.api.get(workspace.path),
        bob.api.get(workspace.tasks),
        bob.api.get(workspace.tasks, params={"limit": 1, "next_token": token}),
        bob.api.get(task_path),
        bob.api.put(task_path, json_body={"title": "Still here?", "version": 1}),
        bob.api.delete(task_path),
        bob.api.post(workspace.tasks, json_body=body, headers=key),  # no replay either
        bob.api.get(workspace.members),
    ]
    assert [error_of(reply) for reply in after] == [(404, "workspace_not_found")] * len(after)
    assert workspace.workspace_id not in workspace_ids(bob)
    # What Bob made stays, unchanged, for the workspace.
    assert alice.api.get(task_path).json() == first.json()
    assert len(task_ids(alice, workspace)) == 2
    assert member_ids(alice, workspace) == {alice.identity}


def test_member_changes_and_renames_are_new_versions_of_the_workspace(alice: User) -> None:
    workspace = create_workspace(alice.api)
    # An IAM principal's identity has slashes: percent-encoded in the path, as every member.
    principal = "iam:arn:aws:iam::123456789012:user/team/bob"

    added = alice.api.put(workspace.member(principal), json_body={"role": "viewer"})
    assert (added.status, added.json()["member"]) == (201, principal)
    assert member_ids(alice, workspace) == {alice.identity, principal}
    again = alice.api.put(workspace.member(principal), json_body={"role": "viewer"})
    assert again.status == 200  # the same role: nothing changes
    assert alice.api.get(workspace.path).header("ETag") == '"2"'

    assert alice.api.delete(workspace.member(principal)).status == 204
    assert member_ids(alice, workspace) == {alice.identity}
    assert error_of(alice.api.delete(workspace.member(principal))) == (404, "member_not_found")
    assert alice.api.get(workspace.path).header("ETag") == '"3"'

    stale = alice.api.put(workspace.path, json_body={"name": "n"}, headers={"If-Match": '"2"'})
    assert error_of(stale) == (412, "precondition_failed")
    renamed = alice.api.put(workspace.path, json_body={"name": "n"}, headers={"If-Match": '"3"'})
    assert (renamed.status, renamed.header("ETag")) == (200, '"4"')


# -- tasks never cross -------------------------------------------------------------------


def test_a_task_is_reached_only_through_its_own_workspace(alice: User) -> None:
    # Alice is the owner of both: whatever she may do in each, nothing reaches across.
    a, b = create_workspace(alice.api, "A"), create_workspace(alice.api, "B")
    in_a = create_task(alice.api, a, title="Only in A", assignee="ana@example.com")
    in_b = create_task(alice.api, b, title="Only in B")
    through_b = b.task(in_a["task_id"])

    replies = {
        "read": alice.api.get(through_b),
        "update": alice.api.put(through_b, json_body={"title": "x", "version": 1}),
        # A correct ETag of A's task is no key to it through B: 404, not 200 or 412.
        "update with its ETag": alice.api.put(
            through_b, json_body={"title": "x"}, headers={"If-Match": '"1"'}
        ),
        "update with a stale ETag": alice.api.put(
            through_b, json_body={"title": "x"}, headers={"If-Match": '"7"'}
        ),
        "delete": alice.api.delete(through_b),
        "delete with its ETag": alice.api.delete(through_b, headers={"If-Match": '"1"'}),
        "dependents": alice.api.get(b.dependents(in_a["task_id"])),
    }
    assert {what: error_of(reply) for what, reply in replies.items()} == dict.fromkeys(
        replies, (404, "task_not_found")
    )

    # Dependencies are tasks of the same workspace: A's task is unknown in B.
    depends = alice.api.post(b.tasks, json_body={"title": "x", "dependencies": [in_a["task_id"]]})
    repoint = alice.api.put(
        b.task(in_b["task_id"]), json_body={"dependencies": [in_a["task_id"]], "version": 1}
    )
    for reply in (depends, repoint):
        assert error_of(reply) == (400, "dependencies_not_found")
        assert reply.json()["details"]["missing_dependencies"] == [in_a["task_id"]]

    # Each lists its own, filters included; A's task is as it was, and deletable in A.
    assert task_ids(alice, a) == [in_a["task_id"]]
    assert task_ids(alice, b) == [in_b["task_id"]]
    assert task_ids(alice, b, assignee="ana@example.com") == []
    assert alice.api.get(a.task(in_a["task_id"])).json() == in_a
    assert alice.api.get(b.task(in_b["task_id"])).json() == in_b
    assert alice.api.get(a.dependents(in_a["task_id"])).json()["tasks"] == []
    assert alice.api.delete(a.task(in_a["task_id"]), headers={"If-Match": '"1"'}).status == 204


def test_two_users_workspaces_never_see_each_other(alice: User, bob: User) -> None:
    mine, theirs = create_workspace(alice.api), create_workspace(bob.api)
    alices = create_task(alice.api, mine, title="Alice's")
    bobs = create_task(bob.api, theirs, title="Bob's")

    assert mine.workspace_id not in workspace_ids(bob)
    assert theirs.workspace_id not in workspace_ids(alice)
    # Bob owns a workspace, but not this one: the owner of B is a stranger to A.
    assert error_of(bob.api.get(mine.task(alices["task_id"]))) == (404, "workspace_not_found")
    # And Bob's own workspace does not lead to Alice's task either.
    assert error_of(bob.api.get(theirs.task(alices["task_id"]))) == (404, "task_not_found")
    assert task_ids(alice, mine) == [alices["task_id"]]
    assert task_ids(bob, theirs) == [bobs["task_id"]]


def test_deleting_a_workspace_leaves_the_others_alone(alice: User, bob: User) -> None:
    doomed, kept = create_workspace(alice.api), create_workspace(alice.api)
    add_member(alice, doomed, bob, "member")
    task = create_task(alice.api, doomed, title="Goes first")
    survivor = create_task(alice.api, kept, title="Stays")

    assert error_of(alice.api.delete(doomed.path)) == (409, "workspace_not_empty")
    assert alice.api.delete(doomed.task(task["task_id"])).status == 204
    assert alice.api.delete(doomed.path).status == 204

    assert error_of(alice.api.get(doomed.tasks)) == (404, "workspace_not_found")
    assert error_of(bob.api.get(doomed.path)) == (404, "workspace_not_found")
    assert doomed.workspace_id not in workspace_ids(bob)
    assert alice.api.get(kept.task(survivor["task_id"])).json() == survivor


# -- page tokens and Idempotency-Keys are per workspace -------------------------------------


def test_a_page_token_of_one_workspace_is_refused_by_another(alice: User, bob: User) -> None:
    a, b = create_workspace(alice.api, "A"), create_workspace(alice.api, "B")
    for workspace in (a, b):
        add_member(alice, workspace, bob, "viewer")  # two members: two pages of members
        base = create_task(alice.api, workspace, title="base")
        for n in range(2):
            create_task(
                alice.api, workspace, title=f"dependent {n}", dependencies=[base["task_id"]]
            )
    b_base = task_ids(alice, b)[0]
    a_base = task_ids(alice, a)[0]

    def token(path: str) -> str:
        reply = alice.api.get(path, params={"limit": 1})
        assert reply.status == 200, reply.body
        issued: str | None = reply.json()["pagination"]["next_token"]
        assert issued is not None
        return issued

    tasks_token = token(a.tasks)
    dependents_token = token(a.dependents(a_base))
    members_token = token(a.members)

    refused = [
        alice.api.get(b.tasks, params={"next_token": tasks_token}),
        alice.api.get(b.dependents(b_base), params={"next_token": dependents_token}),
        alice.api.get(b.members, params={"next_token": members_token}),
        bob.api.get(b.tasks, params={"next_token": tasks_token}),
        # Nor does one listing's token serve another of the same workspace.
        alice.api.get(a.tasks, params={"next_token": members_token}),
    ]
    assert [error_of(reply) for reply in refused] == [(400, "invalid_next_token")] * len(refused)

    # In the workspace it was issued for, the token gives A's next page.
    next_page = alice.api.get(a.tasks, params={"limit": 1, "next_token": tasks_token})
    assert next_page.status == 200
    assert next_page.json()["tasks"][0]["task_id"] == task_ids(alice, a)[1]


def test_the_same_idempotency_key_in_two_workspaces_creates_two_tasks(
    alice: User, bob: User
) -> None:
    a, b = create_workspace(alice.api, "A"), create_workspace(alice.api, "B")
    add_member(alice, a, bob, "member")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"title": "Send the invoice"}

    in_a = alice.api.post(a.tasks, json_body=body, headers=key)
    in_b = alice.api.post(b.tasks, json_body=body, headers=key)
    by_bob = bob.api.post(a.tasks, json_body=body, headers=key)  # keys are the caller's too
    retry_in_a = alice.api.post(a.tasks, json_body=body, headers=key)

    assert [r.status for r in (in_a, in_b, by_bob, retry_in_a)] == [201] * 4
    assert [r.header("Idempotent-Replayed") for r in (in_a, in_b, by_bob)] == [None] * 3
    assert (in_a.json()["workspace_id"], in_b.json()["workspace_id"]) == (
        a.workspace_id,
        b.workspace_id,
    )
    assert len({r.json()["task_id"] for r in (in_a, in_b, by_bob)}) == 3
    assert retry_in_a.header("Idempotent-Replayed") == "true"
    assert retry_in_a.json() == in_a.json()
    assert sorted(task_ids(alice, a)) == sorted([in_a.json()["task_id"], by_bob.json()["task_id"]])
    assert task_ids(alice, b) == [in_b.json()["task_id"]]


# -- authentication ------------------------------------------------------------------------


def test_a_missing_or_bad_token_is_the_gateways_401(
    server: LocalServer, alice: User, tmp_path: Path
) -> None:
    workspace = create_workspace(alice.api)
    task = create_task(alice.api, workspace, title="Behind the gateway")
    expired = token_for(server.data_dir, alice.address, now=lambda: time.time() - 7200)
    other_key = token_for(tmp_path, alice.address)  # another data directory's key
    callers = {
        "no token": ApiClient(server.url),
        "garbage": ApiClient(server.url, authenticate=BearerToken("Bearer not-a-token")),
        "expired": ApiClient(server.url, authenticate=BearerToken(f"Bearer {expired}")),
        "another key": ApiClient(server.url, authenticate=BearerToken(f"Bearer {other_key}")),
    }
    paths = [
        "/workspaces",
        workspace.path,
        workspace.task(task["task_id"]),
        Workspace(str(uuid.uuid4()), "unknown").tasks,  # the same whether it exists or not
    ]
    try:
        for name, client in callers.items():
            for path in paths:
                reply = client.get(path)
                assert reply.status == 401, (name, path, reply.body)
                assert reply.header("Content-Type") == "application/json"
                body = reply.json()
                assert body["error"] == "not_authenticated", (name, path)
                assert body["details"]["request_id"] == reply.header("x-amzn-RequestId")
            refused = client.post(workspace.tasks, json_body={"title": "Sneaked in"})
            assert refused.status == 401, name
    finally:
        for client in callers.values():
            client.close()
    assert task_ids(alice, workspace) == [task["task_id"]]


# -- notifications -------------------------------------------------------------------------


def test_an_assignment_notifies_within_its_workspace(
    server: LocalServer, alice: User, bob: User
) -> None:
    a, b = create_workspace(alice.api, "Alpha"), create_workspace(bob.api, "Bravo")
    dana = f"dana-{uuid.uuid4().hex[:10]}@example.com"  # assigned in both

    in_a = create_task(alice.api, a, title="Alpha report", assignee=dana)
    in_b = create_task(bob.api, b, title="Bravo report", assignee=dana)

    notices = {n["task_id"]: n for n in wait_for_notices(server.mailbox, dana, 2)}
    assert set(notices) == {in_a["task_id"], in_b["task_id"]}
    for task, workspace, title, other in (
        (in_a, a, "Alpha report", "Bravo"),
        (in_b, b, "Bravo report", "Alpha"),
    ):
        notice = notices[task["task_id"]]
        assert notice["kind"] == "task_assigned"
        assert title in notice["subject"]
        assert other not in notice["subject"] + notice["body"]
        assert_of_workspace(notice, workspace)


def test_a_completion_unblocks_only_tasks_of_its_own_workspace(
    server: LocalServer, alice: User, bob: User
) -> None:
    a, b = create_workspace(alice.api, "Alpha"), create_workspace(bob.api, "Bravo")
    dana = f"dana-{uuid.uuid4().hex[:10]}@example.com"
    a_first = create_task(alice.api, a, title="Alpha design")
    a_then = create_task(
        alice.api, a, title="Alpha build", assignee=dana, dependencies=[a_first["task_id"]]
    )
    b_first = create_task(bob.api, b, title="Bravo design")
    b_then = create_task(
        bob.api, b, title="Bravo build", assignee=dana, dependencies=[b_first["task_id"]]
    )
    wait_for_notices(server.mailbox, dana, 2)  # the assignments

    done_in_b = bob.api.put(
        b.task(b_first["task_id"]), json_body={"status": "completed"}, headers={"If-Match": '"1"'}
    )
    assert done_in_b.status == 200
    unblocked_b = wait_for_notices(server.mailbox, dana, 3)[2]
    # Completing B's task unblocked B's, and only B's: A's is still waiting.
    assert (unblocked_b["kind"], unblocked_b["task_id"]) == ("task_unblocked", b_then["task_id"])
    assert_of_workspace(unblocked_b, b)

    done_in_a = alice.api.put(
        a.task(a_first["task_id"]), json_body={"status": "completed"}, headers={"If-Match": '"1"'}
    )
    assert done_in_a.status == 200
    unblocked_a = wait_for_notices(server.mailbox, dana, 4)[3]
    assert (unblocked_a["kind"], unblocked_a["task_id"]) == ("task_unblocked", a_then["task_id"])
    assert "Alpha build" in unblocked_a["subject"]
    assert_of_workspace(unblocked_a, a)
