"""The task service: use cases over the ports. No AWS, no SQL, no HTTP."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from taskapi.domain import rules
from taskapi.domain.errors import (
    DependencyCycle,
    HasDependents,
    IdempotencyKeyReused,
    TaskNotFound,
    VersionConflict,
)
from taskapi.domain.events import TaskCreated, TaskDeleted, TaskUpdated, diff, new_event_fields
from taskapi.domain.model import MUTABLE_FIELDS, Status, Task
from taskapi.domain.workspaces import Permission, check_permission
from taskapi.service.commands import (
    Access,
    CreateTask,
    IdempotencyKey,
    ListDependents,
    ListTasks,
    UpdateTask,
)
from taskapi.service.pagination import DependentsOf, PageTokenCodec, TasksIn
from taskapi.service.ports import (
    Clock,
    IdSource,
    RecordedRequest,
    RequestAlreadyRecorded,
    StoreUnavailable,
    TaskFilter,
    TaskRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

# How long an Idempotency-Key is remembered: longer than any sane retry policy.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Created:
    task: Task
    replayed: bool  # True: answered from the record of an earlier request; nothing created


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[Task]
    limit: int
    next_token: str | None


def _no_op() -> None:
    return None


class TaskService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        new_id: IdSource,
        page_tokens: PageTokenCodec,
        on_commit: Callable[[], None] = _no_op,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._new_id = new_id
        self._page_tokens = page_tokens
        # Called after each committed write, e.g. to wake a local outbox dispatcher.
        self._on_commit = on_commit

    # -- queries ------------------------------------------------------------------------

    def get(self, access: Access, task_id: UUID) -> Task:
        with self._open(access, Permission.READ) as uow:
            return _load(uow.tasks, task_id)

    def list_tasks(self, access: Access, query: ListTasks) -> TaskPage:
        task_filter = TaskFilter(
            status=query.status, priority=query.priority, assignee=query.assignee
        )
        listing = TasksIn(access.workspace_id, task_filter)
        after = (
            None
            if query.next_token is None
            else self._page_tokens.decode(query.next_token, listing)
        )
        with self._open(access, Permission.READ) as uow:
            found = uow.tasks.find(task_filter, query.limit, after)
        token = (
            None
            if found.next_position is None
            else self._page_tokens.encode(found.next_position, listing)
        )
        return TaskPage(tasks=found.tasks, limit=query.limit, next_token=token)

    def dependents(
        self, access: Access, task_id: UUID, query: ListDependents | None = None
    ) -> TaskPage:
        """A page of the tasks that depend on ``task_id``, in id order."""
        query = query or ListDependents()
        listing = DependentsOf(access.workspace_id, task_id)
        after = (
            None
            if query.next_token is None
            else self._page_tokens.decode(query.next_token, listing)
        )
        with self._open(access, Permission.READ) as uow:
            _load(uow.tasks, task_id)
            found = uow.tasks.find_dependents(task_id, query.limit, after)
        token = (
            None
            if found.next_position is None
            else self._page_tokens.encode(found.next_position, listing)
        )
        return TaskPage(tasks=found.tasks, limit=query.limit, next_token=token)

    # -- commands -----------------------------------------------------------------------

    def create(self, access: Access, command: CreateTask) -> Task:
        now = self._clock()
        with self._open(access, Permission.WRITE) as uow:
            task = self._stage_create(uow, access, command, now)
            uow.commit()
        self._on_commit()
        return task

    def create_once(self, access: Access, command: CreateTask, key: str) -> Created:
        """``create``, exactly once per key while it lives: the task and the record of the
        request commit together, so no failure between them can let a retry create again.
        The key is the caller's in this workspace: no one else's request can replay it."""
        scoped = IdempotencyKey(access.caller, access.workspace_id, key).scoped()
        fingerprint = command.fingerprint()
        for _ in range(2):  # a second pass only after a concurrent duplicate won the key
            now = self._clock()
            with self._open(access, Permission.WRITE) as uow:
                recorded = uow.requests.get(scoped, now)
                if recorded is not None:
                    if recorded.fingerprint != fingerprint:
                        raise IdempotencyKeyReused
                    return Created(recorded.task, replayed=True)
                task = self._stage_create(uow, access, command, now)
                expires_at = now + IDEMPOTENCY_KEY_LIFETIME
                uow.requests.add(RecordedRequest(scoped, fingerprint, task, now, expires_at))
                try:
                    uow.commit()
                except RequestAlreadyRecorded:
                    continue
            self._on_commit()
            return Created(task, replayed=False)
        raise StoreUnavailable("a request with this Idempotency-Key is still being recorded")

    def _stage_create(
        self, uow: UnitOfWork, access: Access, command: CreateTask, now: datetime
    ) -> Task:
        task = Task(
            task_id=self._new_id(),
            workspace_id=access.workspace_id,
            title=command.title,
            description=command.description,
            status=command.status,
            priority=command.priority,
            dependencies=command.dependencies,
            due_at=command.due_at,
            assignee=command.assignee,
            created_at=now,
            updated_at=now,
            version=1,
        )
        # A brand-new task has no dependents, so it cannot close a cycle.
        _check_dependencies(uow.tasks, task, check_cycle=False)
        uow.tasks.add(task)
        uow.outbox.add(
            TaskCreated(**new_event_fields(self._new_id(), now, task, access.correlation_id))
        )
        return task

    def update(
        self, access: Access, task_id: UUID, command: UpdateTask, expected_version: int
    ) -> Task:
        with self._open(access, Permission.WRITE) as uow:
            current = _load(uow.tasks, task_id)
            if current.version != expected_version:
                raise VersionConflict(current, expected_version)
            changes = command.changes()
            if command.dependencies is not None and task_id in command.dependencies:
                raise DependencyCycle([task_id, task_id])
            now = self._clock()
            candidate = Task.model_validate({**current.model_dump(), **changes, "updated_at": now})
            changed = diff(current, candidate, MUTABLE_FIELDS)
            if not changed:
                return current  # nothing to write: no new version, no event
            rules.check_transition(current.status, candidate.status)
            updated = candidate.model_copy(update={"version": current.version + 1})
            # Only a write that completes the task or changes its dependencies needs to look at
            # them: any other edit (the title, a move to in_progress) reads nothing more, and
            # stays possible on a completed task whose dependency was reopened later.
            completes = "status" in changed and updated.status == Status.COMPLETED
            if completes or "dependencies" in changed:
                _check_dependencies(
                    uow.tasks,
                    updated,
                    # Removing edges cannot close a cycle: walk the graph only for added ones.
                    check_cycle=bool(set(updated.dependencies) - set(current.dependencies)),
                    stays_completed=not completes,
                )
            uow.tasks.update(updated, expected_version)
            uow.outbox.add(
                TaskUpdated(
                    **new_event_fields(self._new_id(), now, updated, access.correlation_id),
                    changes=changed,
                )
            )
            uow.commit()
        self._on_commit()
        return updated

    def delete(self, access: Access, task_id: UUID, expected_version: int | None = None) -> Task:
        with self._open(access, Permission.WRITE) as uow:
            current = _load(uow.tasks, task_id)
            if expected_version is not None and current.version != expected_version:
                raise VersionConflict(current, expected_version)
            dependents = uow.tasks.dependents_of(task_id)
            if dependents:
                raise HasDependents(task_id, dependents)
            uow.tasks.remove(current)
            fields = new_event_fields(self._new_id(), self._clock(), current, access.correlation_id)
            uow.outbox.add(TaskDeleted(**fields))
            uow.commit()
        self._on_commit()
        return current

    @contextmanager
    def _open(self, access: Access, needed: Permission) -> Iterator[UnitOfWork]:
        """A unit of work on the workspace's tasks, once the caller's role allows ``needed``
        (a non-member gets ``WorkspaceNotFound``, whatever they ask)."""
        with self._uow_factory(access.workspace_id) as uow:
            membership = uow.workspaces.membership(access.workspace_id, access.caller)
            check_permission(access.workspace_id, membership, needed)
            yield uow


def _load(tasks: TaskRepository, task_id: UUID) -> Task:
    task = tasks.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _check_dependencies(
    tasks: TaskRepository, task: Task, *, check_cycle: bool, stays_completed: bool = False
) -> None:
    """Every dependency exists; a completed task has only completed dependencies; and the
    edges close no cycle. (``stays_completed``: the write changes the dependencies of a task
    that was completed already, rather than completing it.)"""
    if not task.dependencies:
        return
    found = tasks.get_many(task.dependencies, graph_walk=check_cycle)
    rules.check_dependencies_exist(task.dependencies, found)
    if task.status == Status.COMPLETED:
        rules.check_can_complete(
            {dep: found[dep].status for dep in task.dependencies}, stays_completed=stays_completed
        )
    if check_cycle:
        # The walk's first level is what was just read: each dependency is read once.
        first_level = {dep: found[dep].dependencies for dep in task.dependencies}

        def fetch(ids: Collection[UUID]) -> Mapping[UUID, Sequence[UUID]]:
            unread = [i for i in ids if i not in first_level]
            edges = {i: first_level[i] for i in ids if i in first_level}
            return {**edges, **tasks.dependencies_of(unread)} if unread else edges

        rules.check_no_cycle(task.task_id, task.dependencies, fetch)
