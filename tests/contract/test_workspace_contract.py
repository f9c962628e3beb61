"""The workspace contract: workspaces, members, and isolation, identically on every store.

Runs once per backend (memory, SQLite, DynamoDB) like the repository contract. The isolation
cases are the point: a store never returns, changes or links another workspace's task,
whatever the ids, even when two workspaces hold a task with the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from taskapi.domain.errors import (
    DependenciesNotFound,
    InvalidPageToken,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.ports import TaskFilter, UnitOfWork, UnitOfWorkFactory
from tests.contract.backends import Backend
from tests.fakes.builders import OWNER, make_membership, make_task, make_workspace, next_version
from tests.fakes.clock import DEFAULT_NOW

ALICE = "cognito:00000000-0000-4000-8000-00000000a11c"
BOB = "iam:arn:aws:iam::123456789012:user/bob"
EVERYTHING = TaskFilter()


@pytest.fixture
def factory(repository_backend: Backend) -> UnitOfWorkFactory:
    """The backend's own factory: every unit of work names its workspace (or none)."""
    return repository_backend.uow_factory


def run(
    factory: UnitOfWorkFactory, stage: Callable[[UnitOfWork], None], ws: UUID | None = None
) -> None:
    with factory(ws) as uow:
        stage(uow)
        uow.commit()


def new_workspace(factory: UnitOfWorkFactory, owner: str = OWNER, **fields: object) -> Workspace:
    workspace = make_workspace(workspace_id=uuid4(), **fields)
    run(factory, lambda uow: uow.workspaces.add(workspace, make_membership(workspace, owner)))
    return workspace


def member(workspace: Workspace, who: str, role: Role, minutes: int = 0) -> Membership:
    return Membership(
        workspace_id=workspace.workspace_id,
        member=who,
        role=role,
        added_at=DEFAULT_NOW + timedelta(minutes=minutes),
    )


def bump(workspace: Workspace) -> Workspace:
    return workspace.next_version(workspace.updated_at + timedelta(seconds=1))


# -- workspaces and members ----------------------------------------------------------------


def test_a_new_workspace_is_read_back_with_its_owner(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory, name="Platform team")
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == workspace
        assert uow.workspaces.membership(workspace.workspace_id, OWNER) == make_membership(
            workspace
        )
        assert uow.workspaces.membership(workspace.workspace_id, ALICE) is None
        assert uow.workspaces.owners(workspace.workspace_id) == [OWNER]
        mine = uow.workspaces.of_member(OWNER, 10, None)
    assert [(w.workspace, w.role) for w in mine.workspaces] == [(workspace, Role.OWNER)]
    assert mine.next_position is None


def test_an_unknown_workspace_reads_as_absent(factory: UnitOfWorkFactory) -> None:
    with factory() as uow:
        assert uow.workspaces.get(uuid4()) is None
        assert uow.workspaces.membership(uuid4(), OWNER) is None
        assert uow.workspaces.owners(uuid4()) == []
        assert uow.workspaces.members(uuid4(), 10, None).members == []
        assert uow.workspaces.of_member(ALICE, 10, None).workspaces == []


def test_adding_a_workspace_twice_conflicts_and_keeps_the_first(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    renamed = workspace.model_copy(update={"name": "Other"})
    with pytest.raises(WorkspaceVersionConflict):
        run(factory, lambda uow: uow.workspaces.add(renamed, make_membership(renamed, ALICE)))
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == workspace
        assert uow.workspaces.membership(workspace.workspace_id, ALICE) is None


def test_a_rename_is_conditional_on_the_version(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    renamed = bump(workspace).model_copy(update={"name": "Renamed"})
    run(factory, lambda uow: uow.workspaces.update(renamed, 1))
    stale = bump(workspace).model_copy(update={"name": "Lost"})
    with pytest.raises(WorkspaceVersionConflict) as raised:
        run(factory, lambda uow: uow.workspaces.update(stale, 1))
    assert raised.value.current == renamed
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == renamed


def test_a_write_to_a_missing_workspace_is_not_found(factory: UnitOfWorkFactory) -> None:
    ghost = make_workspace(workspace_id=uuid4())
    with pytest.raises(WorkspaceNotFound):
        run(factory, lambda uow: uow.workspaces.update(bump(ghost), 1))
    with pytest.raises(WorkspaceNotFound):
        run(
            factory,
            lambda uow: uow.workspaces.put_member(bump(ghost), 1, member(ghost, BOB, Role.MEMBER)),
        )
    with factory() as uow:
        assert uow.workspaces.get(ghost.workspace_id) is None
        assert uow.workspaces.membership(ghost.workspace_id, BOB) is None


def test_members_are_added_changed_and_removed_each_as_a_new_version(
    factory: UnitOfWorkFactory,
) -> None:
    workspace = new_workspace(factory)
    v2 = bump(workspace)
    run(
        factory, lambda uow: uow.workspaces.put_member(v2, 1, member(workspace, ALICE, Role.VIEWER))
    )
    v3 = bump(v2)
    run(factory, lambda uow: uow.workspaces.put_member(v3, 2, member(workspace, ALICE, Role.OWNER)))
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == v3
        assert uow.workspaces.owners(workspace.workspace_id) == sorted([OWNER, ALICE])
        found = uow.workspaces.membership(workspace.workspace_id, ALICE)
        assert found is not None
        assert found.role == Role.OWNER
    v4 = bump(v3)
    run(factory, lambda uow: uow.workspaces.remove_member(v4, 3, OWNER))
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == v4
        assert uow.workspaces.owners(workspace.workspace_id) == [ALICE]
        assert uow.workspaces.membership(workspace.workspace_id, OWNER) is None
        assert uow.workspaces.of_member(OWNER, 10, None).workspaces == []


def test_two_member_changes_from_one_version_cannot_both_commit(
    factory: UnitOfWorkFactory,
) -> None:
    # Two owners each demoting the other, both having read version 2: the second must fail,
    # or the workspace would be left without an owner.
    workspace = new_workspace(factory)
    v2 = bump(workspace)
    run(factory, lambda uow: uow.workspaces.put_member(v2, 1, member(workspace, ALICE, Role.OWNER)))
    run(
        factory,
        lambda uow: uow.workspaces.put_member(bump(v2), 2, member(workspace, ALICE, Role.VIEWER)),
    )
    with pytest.raises(WorkspaceVersionConflict):
        run(
            factory,
            lambda uow: uow.workspaces.put_member(
                bump(v2), 2, member(workspace, OWNER, Role.VIEWER)
            ),
        )
    with factory() as uow:
        assert uow.workspaces.owners(workspace.workspace_id) == [OWNER]


def test_members_are_listed_in_member_order_a_page_at_a_time(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    current = workspace
    others = [f"cognito:{uuid4()}" for _ in range(5)]
    for who in others:
        following = bump(current)
        run(
            factory,
            lambda uow, w=who, f=following, c=current: uow.workspaces.put_member(
                f, c.version, member(workspace, w, Role.MEMBER)
            ),
        )
        current = following
    seen: list[str] = []
    after = None
    for _ in range(10):
        with factory() as uow:
            page = uow.workspaces.members(workspace.workspace_id, 2, after)
        assert len(page.members) <= 2
        seen += [m.member for m in page.members]
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == sorted([OWNER, *others])


def test_a_members_workspaces_are_listed_in_the_order_they_joined(
    factory: UnitOfWorkFactory,
) -> None:
    joined = []
    for minutes in (30, 10, 20):
        workspace = new_workspace(factory)
        run(
            factory,
            lambda uow, w=workspace, m=minutes: uow.workspaces.put_member(
                bump(w), 1, member(w, ALICE, Role.VIEWER, m)
            ),
        )
        joined.append((minutes, workspace.workspace_id))
    new_workspace(factory)  # one Alice is not in
    seen: list[UUID] = []
    after = None
    for _ in range(10):
        with factory() as uow:
            page = uow.workspaces.of_member(ALICE, 2, after)
        seen += [w.workspace.workspace_id for w in page.workspaces]
        assert all(w.role == Role.VIEWER for w in page.workspaces)
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == [workspace_id for _, workspace_id in sorted(joined)]


def test_every_workspace_is_visited_in_id_order(factory: UnitOfWorkFactory) -> None:
    created = {new_workspace(factory).workspace_id for _ in range(5)}
    seen: list[UUID] = []
    after: UUID | None = None
    while True:
        with factory() as uow:
            batch = uow.workspaces.all(2, after)
        if not batch:
            break
        seen += [w.workspace_id for w in batch]
        after = batch[-1].workspace_id
    assert [i for i in seen if i in created] == sorted(created, key=str)


@pytest.mark.parametrize(
    "position", [{}, {"member": 3}, {"member": "x", "extra": 1}, {"task_id": "x"}]
)
def test_a_foreign_member_position_is_a_bad_page_token(
    factory: UnitOfWorkFactory, position: dict[str, object]
) -> None:
    workspace = new_workspace(factory)
    with factory() as uow, pytest.raises(InvalidPageToken):
        uow.workspaces.members(workspace.workspace_id, 10, position)


@pytest.mark.parametrize(
    "position",
    [{}, {"added_at": "yesterday", "workspace_id": str(uuid4())}, {"member": "x"}],
)
def test_a_foreign_joined_position_is_a_bad_page_token(
    factory: UnitOfWorkFactory, position: dict[str, object]
) -> None:
    with factory() as uow, pytest.raises(InvalidPageToken):
        uow.workspaces.of_member(OWNER, 10, position)


# -- deleting a workspace ----------------------------------------------------------------


def test_a_workspace_holding_tasks_cannot_be_removed(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    task = make_task(workspace_id=workspace.workspace_id)
    run(factory, lambda uow: uow.tasks.add(task), workspace.workspace_id)
    with pytest.raises(WorkspaceNotEmpty):
        run(factory, lambda uow: uow.workspaces.remove(workspace))
    with factory(workspace.workspace_id) as uow:
        assert uow.workspaces.get(workspace.workspace_id) == workspace
        assert uow.tasks.get(task.task_id) == task
    run(factory, lambda uow: uow.tasks.remove(task), workspace.workspace_id)
    run(factory, lambda uow: uow.workspaces.remove(workspace))
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) is None
        assert uow.workspaces.membership(workspace.workspace_id, OWNER) is None
        assert uow.workspaces.of_member(OWNER, 10, None).workspaces == []


def test_a_remove_is_conditional_on_the_version(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    run(factory, lambda uow: uow.workspaces.update(bump(workspace), 1))
    with pytest.raises(WorkspaceVersionConflict):
        run(factory, lambda uow: uow.workspaces.remove(workspace))
    with factory() as uow:
        assert uow.workspaces.get(workspace.workspace_id) == bump(workspace)


def test_tasks_cannot_be_written_into_a_workspace_that_does_not_exist(
    factory: UnitOfWorkFactory,
) -> None:
    ghost = uuid4()
    task = make_task(workspace_id=ghost)
    with pytest.raises(WorkspaceNotFound):
        run(factory, lambda uow: uow.tasks.add(task), ghost)
    with factory(ghost) as uow:
        assert uow.tasks.get(task.task_id) is None


def test_tasks_cannot_be_written_into_a_removed_workspace(factory: UnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    run(factory, lambda uow: uow.workspaces.remove(workspace))
    task = make_task(workspace_id=workspace.workspace_id)
    with pytest.raises(WorkspaceNotFound):
        run(factory, lambda uow: uow.tasks.add(task), workspace.workspace_id)
    with factory(workspace.workspace_id) as uow:
        assert uow.tasks.find(EVERYTHING, 10, None).tasks == []


def test_a_unit_of_work_without_a_workspace_reaches_no_tasks(factory: UnitOfWorkFactory) -> None:
    with factory() as uow, pytest.raises(RuntimeError):
        uow.tasks.get(uuid4())


# -- isolation -----------------------------------------------------------------------------


def test_a_task_is_invisible_from_another_workspace(factory: UnitOfWorkFactory) -> None:
    a, b = new_workspace(factory), new_workspace(factory)
    first = make_task(workspace_id=a.workspace_id)
    second = make_task(workspace_id=a.workspace_id, dependencies=(first.task_id,))
    run(factory, lambda uow: (uow.tasks.add(first), uow.tasks.add(second)), a.workspace_id)
    with factory(b.workspace_id) as uow:
        assert uow.tasks.get(first.task_id) is None
        assert uow.tasks.get_many([first.task_id, second.task_id]) == {}
        assert uow.tasks.get_many([first.task_id], graph_walk=True) == {}
        assert dict(uow.tasks.dependencies_of([second.task_id])) == {}
        assert uow.tasks.dependents_of(first.task_id) == []
        assert uow.tasks.find_dependents(first.task_id, 10, None).tasks == []
        assert uow.tasks.find(EVERYTHING, 100, None).tasks == []
    with factory(a.workspace_id) as uow:
        assert uow.tasks.find(EVERYTHING, 100, None).tasks == sorted(
            [first, second], key=lambda t: str(t.task_id)
        )
        assert uow.tasks.dependents_of(first.task_id) == [second.task_id]


def test_two_workspaces_may_hold_a_task_with_the_same_id(factory: UnitOfWorkFactory) -> None:
    a, b = new_workspace(factory), new_workspace(factory)
    task_id = uuid4()
    in_a = make_task(task_id=task_id, workspace_id=a.workspace_id, title="in a")
    in_b = make_task(task_id=task_id, workspace_id=b.workspace_id, title="in b")
    run(factory, lambda uow: uow.tasks.add(in_a), a.workspace_id)
    run(factory, lambda uow: uow.tasks.add(in_b), b.workspace_id)
    changed = next_version(in_a, title="changed in a")
    run(factory, lambda uow: uow.tasks.update(changed, 1), a.workspace_id)
    with factory(b.workspace_id) as uow:
        assert uow.tasks.get(task_id) == in_b
    run(factory, lambda uow: uow.tasks.remove(in_b), b.workspace_id)
    with factory(a.workspace_id) as uow:
        assert uow.tasks.get(task_id) == changed
    with factory(b.workspace_id) as uow:
        assert uow.tasks.get(task_id) is None


def test_a_dependency_on_another_workspaces_task_does_not_exist(
    factory: UnitOfWorkFactory,
) -> None:
    a, b = new_workspace(factory), new_workspace(factory)
    elsewhere = make_task(workspace_id=a.workspace_id)
    run(factory, lambda uow: uow.tasks.add(elsewhere), a.workspace_id)
    task = make_task(workspace_id=b.workspace_id, dependencies=(elsewhere.task_id,))
    with pytest.raises(DependenciesNotFound) as raised:
        run(factory, lambda uow: uow.tasks.add(task), b.workspace_id)
    assert raised.value.missing == (elsewhere.task_id,)
    with factory(a.workspace_id) as uow:
        assert uow.tasks.dependents_of(elsewhere.task_id) == []
    with factory(b.workspace_id) as uow:
        assert uow.tasks.get(task.task_id) is None


def test_one_workspaces_tasks_do_not_keep_another_from_being_removed(
    factory: UnitOfWorkFactory,
) -> None:
    a, b = new_workspace(factory), new_workspace(factory)
    run(factory, lambda uow: uow.tasks.add(make_task(workspace_id=a.workspace_id)), a.workspace_id)
    run(factory, lambda uow: uow.workspaces.remove(b))
    with factory() as uow:
        assert uow.workspaces.get(b.workspace_id) is None
        assert uow.workspaces.get(a.workspace_id) == a


def test_a_task_of_another_workspace_cannot_be_staged_in_this_one(
    factory: UnitOfWorkFactory,
) -> None:
    a, b = new_workspace(factory), new_workspace(factory)
    stray = make_task(workspace_id=a.workspace_id)
    with pytest.raises(ValueError, match="another workspace"):
        run(factory, lambda uow: uow.tasks.add(stray), b.workspace_id)
    for workspace in (a, b):
        with factory(workspace.workspace_id) as uow:
            assert uow.tasks.get(stray.task_id) is None
