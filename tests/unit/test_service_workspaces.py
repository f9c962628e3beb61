"""WorkspaceService and the task service's access rules: who may do what in a workspace."""

from __future__ import annotations

from uuid import UUID

import pytest

from taskapi.domain.errors import (
    InvalidPageToken,
    LastOwner,
    MemberNotFound,
    NotPermitted,
    TaskNotFound,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.workspaces import Membership, Role
from taskapi.service.commands import (
    CreateTask,
    CreateWorkspace,
    ListPage,
    ListTasks,
    UpdateTask,
    UpdateWorkspace,
)
from tests.fakes.builders import OWNER, WORKSPACE_ID
from tests.fakes.service import ServiceHarness, build_service

ALICE = "cognito:alice"
BOB = "cognito:bob"
MALLORY = "cognito:mallory"


@pytest.fixture
def harness() -> ServiceHarness:
    return build_service()


def test_the_creator_of_a_workspace_is_its_only_owner(harness: ServiceHarness) -> None:
    workspace = harness.workspaces.create(ALICE, CreateWorkspace(name="  Design  "))
    assert (workspace.name, workspace.version) == ("Design", 1)
    seen = harness.workspaces.get(ALICE, workspace.workspace_id)
    assert (seen.workspace, seen.role) == (workspace, Role.OWNER)
    members = harness.workspaces.members(ALICE, workspace.workspace_id, ListPage()).members
    assert [(m.member, m.role) for m in members] == [(ALICE, Role.OWNER)]


def test_a_caller_lists_only_the_workspaces_they_belong_to(harness: ServiceHarness) -> None:
    mine = [harness.workspaces.create(ALICE, CreateWorkspace(name=f"w{i}")) for i in range(3)]
    harness.workspaces.create(BOB, CreateWorkspace(name="bob's"))
    seen, token = [], None
    for _ in range(5):
        page = harness.workspaces.list_mine(ALICE, ListPage(limit=2, next_token=token))
        seen += [w.workspace.workspace_id for w in page.workspaces]
        token = page.next_token
        if token is None:
            break
    assert sorted(seen, key=str) == sorted((w.workspace_id for w in mine), key=str)


def test_a_workspaces_page_token_cannot_be_used_by_another_caller(harness: ServiceHarness) -> None:
    for i in range(3):
        harness.workspaces.create(ALICE, CreateWorkspace(name=f"w{i}"))
    token = harness.workspaces.list_mine(ALICE, ListPage(limit=1)).next_token
    assert token is not None
    with pytest.raises(InvalidPageToken, match="another caller"):
        harness.workspaces.list_mine(BOB, ListPage(limit=1, next_token=token))


def test_a_non_member_is_told_the_workspace_does_not_exist_whatever_they_ask(
    harness: ServiceHarness,
) -> None:
    ws = WORKSPACE_ID
    attempts = [
        lambda: harness.workspaces.get(MALLORY, ws),
        lambda: harness.workspaces.members(MALLORY, ws, ListPage()),
        lambda: harness.workspaces.rename(MALLORY, ws, UpdateWorkspace(name="mine")),
        lambda: harness.workspaces.delete(MALLORY, ws),
        lambda: harness.workspaces.put_member(MALLORY, ws, MALLORY, Role.OWNER),
        lambda: harness.workspaces.remove_member(MALLORY, ws, OWNER),
        lambda: harness.as_(MALLORY).create(CreateTask(title="t")),
        lambda: harness.as_(MALLORY).list_tasks(ListTasks()),
    ]
    for attempt in attempts:
        with pytest.raises(WorkspaceNotFound):
            attempt()
    # And an unknown workspace answers exactly the same.
    with pytest.raises(WorkspaceNotFound):
        harness.workspaces.get(OWNER, UUID(int=404))
    assert harness.stored_tasks() == {}
    assert harness.workspaces.get(OWNER, ws).workspace.version == 1


def test_a_viewer_reads_but_cannot_write(harness: ServiceHarness) -> None:
    task = harness.tasks.create(CreateTask(title="t"))
    harness.add_member(BOB, Role.VIEWER)
    viewer = harness.as_(BOB)
    assert viewer.get(task.task_id) == task
    assert viewer.list_tasks(ListTasks()).tasks == [task]
    for write in (
        lambda: viewer.create(CreateTask(title="no")),
        lambda: viewer.update(task.task_id, UpdateTask(title="no"), 1),
        lambda: viewer.delete(task.task_id),
    ):
        with pytest.raises(NotPermitted) as refused:
            write()
        assert refused.value.details == {"role": "viewer", "needed": "write"}
    assert harness.tasks.get(task.task_id) == task


def test_a_member_writes_tasks_but_does_not_manage_the_workspace(harness: ServiceHarness) -> None:
    harness.add_member(ALICE, Role.MEMBER)
    task = harness.as_(ALICE).create(CreateTask(title="by alice"))
    assert harness.tasks.get(task.task_id).title == "by alice"
    for manage in (
        lambda: harness.workspaces.rename(ALICE, WORKSPACE_ID, UpdateWorkspace(name="x")),
        lambda: harness.workspaces.delete(ALICE, WORKSPACE_ID),
        lambda: harness.workspaces.put_member(ALICE, WORKSPACE_ID, BOB, Role.VIEWER),
        lambda: harness.workspaces.remove_member(ALICE, WORKSPACE_ID, OWNER),
    ):
        with pytest.raises(NotPermitted):
            manage()


def test_tasks_of_one_workspace_are_not_found_from_another(harness: ServiceHarness) -> None:
    task = harness.tasks.create(CreateTask(title="in the default workspace"))
    other = harness.workspaces.create(OWNER, CreateWorkspace(name="other"))
    elsewhere = harness.as_(OWNER, other.workspace_id)
    with pytest.raises(TaskNotFound):
        elsewhere.get(task.task_id)
    with pytest.raises(TaskNotFound):
        elsewhere.delete(task.task_id)
    assert elsewhere.list_tasks(ListTasks()).tasks == []
    assert harness.tasks.get(task.task_id) == task


def test_a_list_token_from_one_workspace_is_refused_in_another(harness: ServiceHarness) -> None:
    for title in "abc":
        harness.tasks.create(CreateTask(title=title))
    token = harness.tasks.list_tasks(ListTasks(limit=1)).next_token
    assert token is not None
    other = harness.workspaces.create(OWNER, CreateWorkspace(name="other"))
    with pytest.raises(InvalidPageToken, match="another workspace"):
        harness.as_(OWNER, other.workspace_id).list_tasks(ListTasks(limit=1, next_token=token))


def test_an_idempotency_key_replays_only_in_its_own_workspace(harness: ServiceHarness) -> None:
    first = harness.tasks.create_once(CreateTask(title="t"), "key-1")
    other = harness.workspaces.create(OWNER, CreateWorkspace(name="other"))
    again = harness.as_(OWNER, other.workspace_id).create_once(CreateTask(title="t"), "key-1")
    assert not again.replayed
    assert again.task.workspace_id == other.workspace_id
    assert again.task.task_id != first.task.task_id
    assert harness.tasks.create_once(CreateTask(title="t"), "key-1").replayed


def test_owners_add_members_and_change_their_roles(harness: ServiceHarness) -> None:
    added = harness.workspaces.put_member(OWNER, WORKSPACE_ID, ALICE, Role.VIEWER)
    assert added.added
    assert added.membership.role == Role.VIEWER
    changed = harness.workspaces.put_member(OWNER, WORKSPACE_ID, ALICE, Role.OWNER)
    assert not changed.added
    assert changed.membership.role == Role.OWNER
    assert changed.membership.added_at == added.membership.added_at
    # Each change is a new version of the workspace; a repeat changes nothing.
    assert harness.workspaces.get(OWNER, WORKSPACE_ID).workspace.version == 3
    harness.workspaces.put_member(OWNER, WORKSPACE_ID, ALICE, Role.OWNER)
    assert harness.workspaces.get(OWNER, WORKSPACE_ID).workspace.version == 3


def test_the_last_owner_can_neither_step_down_nor_leave(harness: ServiceHarness) -> None:
    with pytest.raises(LastOwner):
        harness.workspaces.put_member(OWNER, WORKSPACE_ID, OWNER, Role.MEMBER)
    with pytest.raises(LastOwner):
        harness.workspaces.remove_member(OWNER, WORKSPACE_ID, OWNER)
    harness.add_member(ALICE, Role.OWNER)
    harness.workspaces.put_member(ALICE, WORKSPACE_ID, OWNER, Role.VIEWER)
    assert harness.workspaces.get(OWNER, WORKSPACE_ID).role == Role.VIEWER


def test_any_member_may_leave_and_owners_may_remove_anyone(harness: ServiceHarness) -> None:
    harness.add_member(ALICE, Role.VIEWER)
    harness.add_member(BOB, Role.MEMBER)
    harness.workspaces.remove_member(ALICE, WORKSPACE_ID, ALICE)
    harness.workspaces.remove_member(OWNER, WORKSPACE_ID, BOB)
    with pytest.raises(WorkspaceNotFound):
        harness.as_(BOB).list_tasks(ListTasks())
    with pytest.raises(MemberNotFound):
        harness.workspaces.remove_member(OWNER, WORKSPACE_ID, BOB)
    members = harness.workspaces.members(OWNER, WORKSPACE_ID, ListPage()).members
    assert [m.member for m in members] == [OWNER]


def test_a_rename_with_a_stale_version_is_a_conflict(harness: ServiceHarness) -> None:
    renamed = harness.workspaces.rename(OWNER, WORKSPACE_ID, UpdateWorkspace(name="New"))
    assert (renamed.name, renamed.version) == ("New", 2)
    with pytest.raises(WorkspaceVersionConflict) as conflict:
        harness.workspaces.rename(OWNER, WORKSPACE_ID, UpdateWorkspace(name="Old", version=1))
    assert conflict.value.current == renamed
    same = harness.workspaces.rename(OWNER, WORKSPACE_ID, UpdateWorkspace(name="New"))
    assert same == renamed


def test_a_workspace_is_deleted_only_once_empty(harness: ServiceHarness) -> None:
    task = harness.tasks.create(CreateTask(title="t"))
    with pytest.raises(WorkspaceNotEmpty):
        harness.workspaces.delete(OWNER, WORKSPACE_ID)
    harness.tasks.delete(task.task_id)
    harness.workspaces.delete(OWNER, WORKSPACE_ID)
    with pytest.raises(WorkspaceNotFound):
        harness.workspaces.get(OWNER, WORKSPACE_ID)
    assert harness.workspaces.list_mine(OWNER, ListPage()).workspaces == []


def test_members_are_paged_in_member_order_with_a_token_bound_to_the_workspace(
    harness: ServiceHarness,
) -> None:
    for member in (BOB, ALICE):
        harness.add_member(member, Role.VIEWER)
    seen, token = [], None
    for _ in range(5):
        page = harness.workspaces.members(OWNER, WORKSPACE_ID, ListPage(limit=1, next_token=token))
        assert len(page.members) == 1
        assert page.limit == 1
        seen += [m.member for m in page.members]
        token = page.next_token
        if token is None:
            break
    assert seen == sorted([OWNER, ALICE, BOB])
    first = harness.workspaces.members(OWNER, WORKSPACE_ID, ListPage(limit=1)).next_token
    assert first is not None
    other = harness.workspaces.create(OWNER, CreateWorkspace(name="other"))
    with pytest.raises(InvalidPageToken, match="another workspace"):
        harness.workspaces.members(OWNER, other.workspace_id, ListPage(next_token=first))


def test_a_new_member_joins_now_and_an_owner_may_step_down_while_another_remains(
    harness: ServiceHarness,
) -> None:
    joined_at = harness.clock.advance()
    added = harness.workspaces.put_member(OWNER, WORKSPACE_ID, ALICE, Role.OWNER)
    assert added.membership == Membership(
        workspace_id=WORKSPACE_ID, member=ALICE, role=Role.OWNER, added_at=joined_at
    )
    harness.workspaces.put_member(ALICE, WORKSPACE_ID, ALICE, Role.MEMBER)
    assert harness.workspaces.get(ALICE, WORKSPACE_ID).role == Role.MEMBER
    harness.add_member(BOB, Role.OWNER)
    harness.workspaces.remove_member(BOB, WORKSPACE_ID, OWNER)  # an owner removes an owner
    with pytest.raises(WorkspaceNotFound):
        harness.workspaces.get(OWNER, WORKSPACE_ID)
    with pytest.raises(LastOwner):
        harness.workspaces.remove_member(BOB, WORKSPACE_ID, BOB)
    workspace = harness.workspaces.get(BOB, WORKSPACE_ID).workspace
    assert (workspace.version, workspace.updated_at) == (5, joined_at)


def test_a_delete_with_a_stale_version_changes_nothing(harness: ServiceHarness) -> None:
    harness.workspaces.rename(OWNER, WORKSPACE_ID, UpdateWorkspace(name="New"))
    with pytest.raises(WorkspaceVersionConflict) as conflict:
        harness.workspaces.delete(OWNER, WORKSPACE_ID, expected_version=1)
    assert conflict.value.expected_version == 1
    assert harness.workspaces.get(OWNER, WORKSPACE_ID).workspace.name == "New"
    harness.workspaces.delete(OWNER, WORKSPACE_ID, expected_version=2)
    assert harness.workspaces.list_mine(OWNER, ListPage()).workspaces == []


def test_a_workspace_page_lists_with_the_callers_role(harness: ServiceHarness) -> None:
    harness.add_member(ALICE, Role.VIEWER)
    harness.clock.advance()  # joined later: listed after
    mine = harness.workspaces.create(ALICE, CreateWorkspace(name="Alice's"))
    page = harness.workspaces.list_mine(ALICE, ListPage(limit=10))
    assert [(w.workspace.workspace_id, w.role) for w in page.workspaces] == [
        (WORKSPACE_ID, Role.VIEWER),
        (mine.workspace_id, Role.OWNER),
    ]
    assert (page.limit, page.next_token) == (10, None)
