"""In-memory adapters: the verified fake.

Used by unit tests and as a zero-dependency store. It runs the same repository contract suite
as SQLite and DynamoDB, so it cannot drift from them. A unit of work holds the store lock from
``__enter__`` to ``__exit__``: writers are serialised, as with SQLite's ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from taskapi.adapters.outbox import read_record
from taskapi.adapters.unit_of_work import (
    Staged,
    StagedEvents,
    StagedRequests,
    StagedWorkspaces,
    StagedWorkspaceWrite,
    StagedWrite,
    StagedWrites,
    StagingUnitOfWork,
    bounded_error,
    dependent_position_after,
    is_live,
    joined_position_after,
    member_position_after,
    parse_dependent_position,
    parse_joined_position,
    parse_member_position,
    parse_position,
    position_after,
    require_workspace,
)
from taskapi.domain.errors import DependenciesNotFound, WorkspaceNotEmpty, WorkspaceNotFound
from taskapi.domain.model import Task
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.ports import (
    DeadLetter,
    MemberSlice,
    OutboxRecord,
    Position,
    RecordedRequest,
    RequestAlreadyRecorded,
    StoreFailure,
    TaskFilter,
    TaskSlice,
    WorkspaceRole,
    WorkspaceSlice,
)


@dataclass(slots=True)
class OutboxRow:
    """An outbox record as the store keeps it: the event's JSON, as SQLite keeps it, so that
    reading it back is the same tolerant read."""

    payload: str
    event_type: str
    attempts: int = 0
    last_error: str | None = None
    due_at: datetime | None = None  # None: due since its commit (new or redriven)


@dataclass(frozen=True, slots=True)
class DeadRow:
    payload: str
    letter: DeadLetter


class InMemoryStore:
    """The shared state behind every unit of work: committed workspaces, their members and
    tasks (by workspace), the outbox, its dead letters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.workspaces: dict[UUID, Workspace] = {}
        self.members: dict[UUID, dict[str, Membership]] = {}
        self.tasks: dict[UUID, dict[UUID, Task]] = {}  # workspace id -> task id -> task
        self.dependents: dict[tuple[UUID, UUID], set[UUID]] = {}  # (workspace, task) -> ids
        self.outbox: dict[UUID, OutboxRow] = {}  # insertion order is commit order
        self.dead: dict[UUID, DeadRow] = {}  # insertion order is the order set aside
        self.requests: dict[str, RecordedRequest] = {}

    # -- outbox reader (the dispatcher's side) ------------------------------------------

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxRecord]:
        with self.lock:
            due = [
                (position, event_id, row)
                for position, (event_id, row) in enumerate(self.outbox.items())
                if now is None or row.due_at is None or row.due_at <= now
            ]
            # New events first, in commit order; then retries in the order they fell due.
            due.sort(key=lambda item: _due_order(item[2], item[0]))
            records: list[OutboxRecord] = []
            for _, event_id, row in due:
                if len(records) == limit:
                    break
                event = read_record(row.payload)
                if isinstance(event, str):
                    self._set_aside(event_id, attempts=row.attempts, error=event)
                    continue
                records.append(OutboxRecord(event, row.attempts, row.last_error))
            return records

    def mark_sent(self, event_id: UUID) -> None:
        with self.lock:
            self.outbox.pop(event_id, None)
            self.dead.pop(event_id, None)  # delivered after all, by another dispatcher

    def mark_failed(self, event_id: UUID, error: str, retry_at: datetime | None = None) -> None:
        with self.lock:
            row = self.outbox.get(event_id)
            if row is not None:
                row.attempts += 1
                row.last_error = bounded_error(error)
                if retry_at is not None:
                    row.due_at = retry_at

    def dead_letter(self, event_id: UUID, error: str) -> None:
        with self.lock:
            row = self.outbox.get(event_id)
            if row is not None:
                self._set_aside(event_id, attempts=row.attempts + 1, error=bounded_error(error))

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        with self.lock:
            return [dead.letter for dead in list(self.dead.values())[:limit]]

    def redrive(self, event_id: UUID) -> bool:
        with self.lock:
            dead = self.dead.pop(event_id, None)
            if dead is None:
                return False
            self.outbox[event_id] = OutboxRow(dead.payload, dead.letter.event_type)
            return True

    def _set_aside(self, event_id: UUID, *, attempts: int, error: str) -> None:
        # Called with the lock held.
        row = self.outbox.pop(event_id)
        letter = DeadLetter(event_id, row.event_type, attempts, error, datetime.now(UTC))
        self.dead[event_id] = DeadRow(row.payload, letter)


def _due_order(row: OutboxRow, position: int) -> tuple[bool, float, int]:
    return (row.due_at is not None, row.due_at.timestamp() if row.due_at else 0.0, position)


def _sort_key(task: Task) -> tuple[datetime, str]:
    return (task.created_at, str(task.task_id))


class InMemoryTaskRepository(StagedWrites):
    """The tasks of one workspace (``None``: a unit of work without one reaches none)."""

    def __init__(self, store: InMemoryStore, workspace_id: UUID | None) -> None:
        super().__init__()
        self._store = store
        self._workspace_id = workspace_id

    @property
    def _tasks(self) -> dict[UUID, Task]:
        return self._store.tasks.get(require_workspace(self._workspace_id), {})

    def get(self, task_id: UUID) -> Task | None:
        return self._tasks.get(task_id)

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        # Units of work hold the store's write lock: a walk needs no guard of its own.
        del graph_walk
        tasks = self._tasks
        return {i: tasks[i] for i in task_ids if i in tasks}

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        return {i: t.dependencies for i, t in self.get_many(task_ids).items()}

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        key = (require_workspace(self._workspace_id), task_id)
        return sorted(self._store.dependents.get(key, ()), key=str)

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        ids = self.dependents_of(task_id)
        if after is not None:
            start = str(parse_dependent_position(after))
            ids = [i for i in ids if str(i) > start]
        page = ids[:limit]
        more = len(ids) > limit
        return TaskSlice(
            tasks=[self._tasks[i] for i in page],
            next_position=dependent_position_after(page[-1]) if more else None,
        )

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        matching = sorted(
            (t for t in self._tasks.values() if task_filter.matches(t)), key=_sort_key
        )
        if after is not None:
            created_at, task_id = parse_position(after)
            start = (created_at, str(task_id))
            matching = [t for t in matching if _sort_key(t) > start]
        page = matching[:limit]
        more = len(matching) > limit
        return TaskSlice(
            tasks=page,
            next_position=position_after(page[-1].created_at, page[-1].task_id) if more else None,
        )


class InMemoryRequestLog(StagedRequests):
    def __init__(self, store: InMemoryStore) -> None:
        super().__init__()
        self._store = store

    def get(self, key: str, now: datetime) -> RecordedRequest | None:
        record = self._store.requests.get(key)
        return record if is_live(record, now) else None


class InMemoryWorkspaceRepository(StagedWorkspaces):
    def __init__(self, store: InMemoryStore) -> None:
        super().__init__()
        self._store = store

    def get(self, workspace_id: UUID) -> Workspace | None:
        return self._store.workspaces.get(workspace_id)

    def membership(self, workspace_id: UUID, member: str) -> Membership | None:
        return self._store.members.get(workspace_id, {}).get(member)

    def owners(self, workspace_id: UUID) -> list[str]:
        members = self._store.members.get(workspace_id, {}).values()
        return sorted(m.member for m in members if m.role == Role.OWNER)

    def members(self, workspace_id: UUID, limit: int, after: Position | None) -> MemberSlice:
        members = sorted(self._store.members.get(workspace_id, {}).values(), key=_by_member)
        if after is not None:
            start = parse_member_position(after)
            members = [m for m in members if m.member > start]
        page, more = members[:limit], len(members) > limit
        return MemberSlice(page, member_position_after(page[-1].member) if more else None)

    def of_member(self, member: str, limit: int, after: Position | None) -> WorkspaceSlice:
        joined = sorted(
            (m for by_member in self._store.members.values() if (m := by_member.get(member))),
            key=_joined_order,
        )
        if after is not None:
            added_at, workspace_id = parse_joined_position(after)
            start = (added_at, str(workspace_id))
            joined = [m for m in joined if _joined_order(m) > start]
        page, more = joined[:limit], len(joined) > limit
        last = page[-1] if more else None
        return WorkspaceSlice(
            [WorkspaceRole(self._store.workspaces[m.workspace_id], m.role) for m in page],
            joined_position_after(last.added_at, last.workspace_id) if last else None,
        )

    def all(self, limit: int, after: UUID | None) -> list[Workspace]:
        start = "" if after is None else str(after)
        ordered = sorted(self._store.workspaces.values(), key=lambda w: str(w.workspace_id))
        return [w for w in ordered if str(w.workspace_id) > start][:limit]


def _by_member(membership: Membership) -> str:
    return membership.member


def _joined_order(membership: Membership) -> tuple[datetime, str]:
    return (membership.added_at, str(membership.workspace_id))


class InMemoryUnitOfWork(StagingUnitOfWork):
    requests: InMemoryRequestLog
    tasks: InMemoryTaskRepository
    workspaces: InMemoryWorkspaceRepository

    def __init__(self, store: InMemoryStore, workspace_id: UUID | None = None) -> None:
        self._store = store
        self.workspace_id = workspace_id
        self.tasks = InMemoryTaskRepository(store, workspace_id)
        self.outbox = StagedEvents()
        self.requests = InMemoryRequestLog(store)
        self.workspaces = InMemoryWorkspaceRepository(store)

    def _begin(self) -> None:
        self._store.lock.acquire()

    def _end(self) -> None:
        self._store.lock.release()

    def _apply(self, staged: Staged) -> None:
        # Check every condition before applying anything: all or nothing.
        self._check_workspace_writes(staged.workspaces)
        tasks: dict[UUID, Task] = {}
        if staged.writes:
            workspace_id = require_workspace(staged.workspace_id)
            if workspace_id not in self._store.workspaces:
                raise WorkspaceNotFound(workspace_id)
            tasks = self._store.tasks.setdefault(workspace_id, {})
            self._check_task_writes(tasks, staged)
        if any(event.event_id in self._store.outbox for event in staged.events):
            raise StoreFailure("an event with this id is already in the outbox")
        for request in staged.requests:
            if is_live(self._store.requests.get(request.key), request.recorded_at):
                raise RequestAlreadyRecorded(request.key)
        # Apply.
        for request in staged.requests:
            self._store.requests[request.key] = request
        for workspace_write in staged.workspaces:
            self._apply_workspace_write(workspace_write)
        for write in staged.writes:
            self._apply_task_write(require_workspace(staged.workspace_id), tasks, write)
        for event in staged.events:
            self._store.outbox[event.event_id] = OutboxRow(
                event.model_dump_json(), event.event_type
            )

    def _check_workspace_writes(self, writes: list[StagedWorkspaceWrite]) -> None:
        for write in writes:
            workspace_id = write.workspace.workspace_id
            stored = self._store.workspaces.get(workspace_id)
            if not write.accepts(stored):
                raise write.rejection(stored)
            if write.kind == "remove" and self._store.tasks.get(workspace_id):
                raise WorkspaceNotEmpty(workspace_id)

    def _check_task_writes(self, tasks: dict[UUID, Task], staged: Staged) -> None:
        for write in staged.writes:
            stored = tasks.get(write.task.task_id)
            if not write.accepts(stored):
                raise write.rejection(stored)
        written = {w.task.task_id: w for w in staged.writes}

        def exists_after(task_id: UUID) -> bool:
            write = written.get(task_id)
            return task_id in tasks if write is None else not write.delete

        missing = {
            dependency
            for write in staged.writes
            for dependency in write.added_dependencies(tasks.get(write.task.task_id))
            if not exists_after(dependency)
        }
        if missing:
            raise DependenciesNotFound(sorted(missing, key=str))

    def _apply_workspace_write(self, write: StagedWorkspaceWrite) -> None:
        store, workspace_id = self._store, write.workspace.workspace_id
        if write.kind == "remove":
            store.workspaces.pop(workspace_id, None)
            store.members.pop(workspace_id, None)
            store.tasks.pop(workspace_id, None)
            return
        store.workspaces[workspace_id] = write.workspace
        members = store.members.setdefault(workspace_id, {})
        if write.membership is not None:
            members[write.membership.member] = write.membership
        if write.member is not None:
            members.pop(write.member, None)

    def _apply_task_write(
        self, workspace_id: UUID, tasks: dict[UUID, Task], write: StagedWrite
    ) -> None:
        dependents = self._store.dependents
        task_id = write.task.task_id
        previous = tasks.pop(task_id, None)
        for dep in previous.dependencies if previous else ():
            dependents.get((workspace_id, dep), set()).discard(task_id)
        if not write.delete:
            tasks[task_id] = write.task
            for dep in write.task.dependencies:
                dependents.setdefault((workspace_id, dep), set()).add(task_id)


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __call__(self, workspace_id: UUID | None = None) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store, workspace_id)
