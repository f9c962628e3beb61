"""Isolation as a property: whatever a sequence of writes across workspaces, and whoever makes
them, each workspace's reads return exactly its own tasks, and a non-member never gets past
WorkspaceNotFound."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from taskapi.domain.errors import DomainError, NotPermitted, WorkspaceNotFound
from taskapi.domain.workspaces import Role
from taskapi.service.commands import CreateTask, CreateWorkspace, ListTasks, UpdateTask
from tests.fakes.builders import OWNER
from tests.fakes.service import build_service

CALLERS = ["cognito:ann", "cognito:ben", "cognito:cy"]
ROLES = [None, Role.VIEWER, Role.MEMBER, Role.OWNER]  # None: not a member

# One step: (workspace index, caller index, action, a task index to aim at)
steps = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.integers(0, len(CALLERS) - 1),
        st.sampled_from(["create", "update", "delete", "depend"]),
        st.integers(0, 7),
    ),
    max_size=25,
)
memberships = st.lists(st.sampled_from(ROLES), min_size=2 * len(CALLERS), max_size=2 * len(CALLERS))


@settings(max_examples=60, deadline=None)
@given(memberships, steps)
def test_each_workspace_sees_only_its_own_tasks_and_roles_hold(
    roles: list[Role | None], plan: list[tuple[int, int, str, int]]
) -> None:
    harness = build_service()
    workspaces = [harness.workspaces.create(OWNER, CreateWorkspace(name=f"w{i}")) for i in (0, 1)]
    role_of: dict[tuple[int, str], Role | None] = {}
    for index, role in enumerate(roles):
        w, caller = divmod(index, len(CALLERS))
        role_of[w, CALLERS[caller]] = role
        if role is not None:
            harness.add_member(CALLERS[caller], role, workspaces[w].workspace_id)
    created: dict[int, list[UUID]] = {0: [], 1: []}  # what each workspace really holds

    for w, caller_index, action, target in plan:
        caller, workspace_id = CALLERS[caller_index], workspaces[w].workspace_id
        tasks = harness.as_(caller, workspace_id)
        # Aim at any task: possibly one of the other workspace.
        pool = created[0] + created[1]
        aimed = pool[target % len(pool)] if pool else UUID(int=10**9 + target)  # no task
        try:
            if action == "create":
                created[w].append(tasks.create(CreateTask(title="t")).task_id)
            elif action == "update":
                tasks.update(aimed, UpdateTask(title="changed"), tasks.get(aimed).version)
            elif action == "delete":
                tasks.delete(aimed)
                created[w].remove(aimed)
            else:
                created[w].append(
                    tasks.create(CreateTask(title="d", dependencies=(aimed,))).task_id
                )
        except WorkspaceNotFound:
            assert role_of[w, caller] is None
            continue
        except NotPermitted:
            assert role_of[w, caller] == Role.VIEWER
            continue
        except DomainError:
            # Not found, has dependents...: fine, as long as nothing crossed (checked below);
            # only a member (a viewer reading before a refused write, too) gets this far.
            assert role_of[w, caller] is not None
            continue
        assert role_of[w, caller] in (Role.MEMBER, Role.OWNER)

    for w, workspace in enumerate(workspaces):
        listed = harness.as_(OWNER, workspace.workspace_id).list_tasks(ListTasks(limit=100))
        assert sorted(t.task_id for t in listed.tasks) == sorted(created[w])
        assert {t.workspace_id for t in listed.tasks} <= {workspace.workspace_id}
        for task in listed.tasks:
            assert set(task.dependencies) <= set(created[w])
