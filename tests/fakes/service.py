"""A ``TaskService`` wired to the in-memory store with deterministic time and ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from taskapi.adapters.memory import InMemoryStore, InMemoryUnitOfWorkFactory
from taskapi.domain.events import parse_event
from taskapi.domain.model import Task
from taskapi.domain.workspaces import Role
from taskapi.service.commands import (
    Access,
    CreateTask,
    CreateWorkspace,
    ListDependents,
    ListTasks,
    UpdateTask,
)
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import Event, UnitOfWorkFactory
from taskapi.service.tasks import Created, TaskPage, TaskService
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import OWNER, WORKSPACE_ID, make_membership, make_workspace
from tests.fakes.clock import FixedClock, SequentialIds

PAGE_TOKEN_SECRET = b"test-page-token-secret"


class CallCounter:
    """A no-argument callback (e.g. ``TaskService(on_commit=...)``) that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


class WorkspaceTasks:
    """The task service as one caller in one workspace uses it: every call made with the
    same ``Access``, so a test says what it is about, not who is asking."""

    def __init__(self, service: TaskService, access: Access) -> None:
        self.service = service
        self.access = access

    def create(self, command: CreateTask) -> Task:
        return self.service.create(self.access, command)

    def create_once(self, command: CreateTask, key: str) -> Created:
        return self.service.create_once(self.access, command, key)

    def get(self, task_id: UUID) -> Task:
        return self.service.get(self.access, task_id)

    def list_tasks(self, query: ListTasks) -> TaskPage:
        return self.service.list_tasks(self.access, query)

    def dependents(self, task_id: UUID, query: ListDependents | None = None) -> TaskPage:
        return self.service.dependents(self.access, task_id, query)

    def update(self, task_id: UUID, command: UpdateTask, expected_version: int) -> Task:
        return self.service.update(self.access, task_id, command, expected_version)

    def delete(self, task_id: UUID, expected_version: int | None = None) -> Task:
        return self.service.delete(self.access, task_id, expected_version)


@dataclass(frozen=True)
class ServiceHarness:
    """The services under test plus handles on everything behind it.

    The store starts with one workspace, ``WORKSPACE_ID``, owned by ``OWNER``; ``tasks`` is
    the task service as ``OWNER`` uses it there (``as_(caller)``: as someone else).
    ``store`` is the committed state; ``on_commit.calls`` counts committed writes;
    ``events()`` lists the outbox, oldest first.
    """

    service: TaskService
    workspaces: WorkspaceService
    store: InMemoryStore
    uow_factory: UnitOfWorkFactory
    clock: FixedClock
    ids: SequentialIds
    on_commit: CallCounter

    @property
    def tasks(self) -> WorkspaceTasks:
        return WorkspaceTasks(self.service, Access(WORKSPACE_ID, OWNER))

    def as_(self, caller: str, workspace_id: UUID = WORKSPACE_ID) -> WorkspaceTasks:
        return WorkspaceTasks(self.service, Access(workspace_id, caller))

    def add_member(self, member: str, role: Role, workspace_id: UUID = WORKSPACE_ID) -> None:
        """Make ``member`` a member (through the service, as the workspace's owner)."""
        self.workspaces.put_member(OWNER, workspace_id, member, role)

    def stored_tasks(self, workspace_id: UUID = WORKSPACE_ID) -> dict[UUID, Task]:
        """The committed tasks of a workspace, by id."""
        return dict(self.store.tasks.get(workspace_id, {}))

    def events(self) -> list[Event]:
        # What was committed, read with the writer's strict models.
        return [parse_event(row.payload) for row in self.store.outbox.values()]


def build_service(
    *,
    clock: FixedClock | None = None,
    wrap: Callable[[UnitOfWorkFactory], UnitOfWorkFactory] | None = None,
) -> ServiceHarness:
    """Build a harness. ``wrap`` decorates the unit-of-work factory, e.g.
    ``wrap=lambda inner: FailingCommits(inner, StoreUnavailable("throttled"))``."""
    store = InMemoryStore()
    memory = InMemoryUnitOfWorkFactory(store)
    workspace = make_workspace()
    with memory() as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()
    uow_factory: UnitOfWorkFactory = memory
    if wrap is not None:
        uow_factory = wrap(uow_factory)
    clock = clock or FixedClock()
    ids = SequentialIds()
    on_commit = CallCounter()
    page_tokens = PageTokenCodec(PAGE_TOKEN_SECRET)
    service = TaskService(
        uow_factory=uow_factory,
        clock=clock,
        new_id=ids,
        page_tokens=page_tokens,
        on_commit=on_commit,
    )
    # Its own ids: workspaces made in a test do not shift the task ids tests expect.
    workspaces = WorkspaceService(
        uow_factory=uow_factory,
        clock=clock,
        new_id=SequentialIds(start=0x5A5A_0000_0000),
        page_tokens=page_tokens,
    )
    return ServiceHarness(service, workspaces, store, uow_factory, clock, ids, on_commit)


def in_new_workspace(tasks: TaskService, workspaces: WorkspaceService) -> WorkspaceTasks:
    """A fresh workspace of a runtime's own store (one ``bootstrap`` built), and its task
    service as the workspace's owner uses it."""
    workspace = workspaces.create(OWNER, CreateWorkspace(name="Team"))
    return WorkspaceTasks(tasks, Access(workspace.workspace_id, OWNER))
