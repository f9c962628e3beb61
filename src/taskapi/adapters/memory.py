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
    StagedEvents,
    StagedRequests,
    StagedWrite,
    StagedWrites,
    StagingUnitOfWork,
    bounded_error,
    dependent_position_after,
    is_live,
    parse_dependent_position,
    parse_position,
    position_after,
)
from taskapi.domain.errors import DependenciesNotFound
from taskapi.domain.model import Task
from taskapi.service.ports import (
    DeadLetter,
    Event,
    OutboxRecord,
    Position,
    RecordedRequest,
    RequestAlreadyRecorded,
    StoreFailure,
    TaskFilter,
    TaskSlice,
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
    """The shared state behind every unit of work: committed tasks, the outbox, its dead
    letters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[UUID, Task] = {}
        self.dependents: dict[UUID, set[UUID]] = {}
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
    def __init__(self, store: InMemoryStore) -> None:
        super().__init__()
        self._store = store

    def get(self, task_id: UUID) -> Task | None:
        return self._store.tasks.get(task_id)

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        # Units of work hold the store's write lock: a walk needs no guard of its own.
        del graph_walk
        return {i: self._store.tasks[i] for i in task_ids if i in self._store.tasks}

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        return {i: t.dependencies for i, t in self.get_many(task_ids).items()}

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        return sorted(self._store.dependents.get(task_id, ()), key=str)

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        ids = self.dependents_of(task_id)
        if after is not None:
            start = str(parse_dependent_position(after))
            ids = [i for i in ids if str(i) > start]
        page = ids[:limit]
        more = len(ids) > limit
        return TaskSlice(
            tasks=[self._store.tasks[i] for i in page],
            next_position=dependent_position_after(page[-1]) if more else None,
        )

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        matching = sorted(
            (t for t in self._store.tasks.values() if task_filter.matches(t)), key=_sort_key
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


class InMemoryUnitOfWork(StagingUnitOfWork):
    requests: InMemoryRequestLog
    tasks: InMemoryTaskRepository

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.tasks = InMemoryTaskRepository(store)
        self.outbox = StagedEvents()
        self.requests = InMemoryRequestLog(store)

    def _begin(self) -> None:
        self._store.lock.acquire()

    def _end(self) -> None:
        self._store.lock.release()

    def _apply(
        self, writes: list[StagedWrite], events: list[Event], requests: list[RecordedRequest]
    ) -> None:
        store = self._store
        # Check every condition before applying anything: all or nothing.
        for write in writes:
            stored = store.tasks.get(write.task.task_id)
            if not write.accepts(stored):
                raise write.rejection(stored)
        written = {w.task.task_id: w for w in writes}

        def exists_after(task_id: UUID) -> bool:
            write = written.get(task_id)
            return task_id in store.tasks if write is None else not write.delete

        missing = {
            dependency
            for write in writes
            for dependency in write.added_dependencies(store.tasks.get(write.task.task_id))
            if not exists_after(dependency)
        }
        if missing:
            raise DependenciesNotFound(sorted(missing, key=str))
        if any(event.event_id in store.outbox for event in events):
            raise StoreFailure("an event with this id is already in the outbox")
        for request in requests:
            if is_live(store.requests.get(request.key), request.recorded_at):
                raise RequestAlreadyRecorded(request.key)
        for request in requests:
            store.requests[request.key] = request
        for write in writes:
            task_id = write.task.task_id
            previous = store.tasks.pop(task_id, None)
            for dep in previous.dependencies if previous else ():
                store.dependents.get(dep, set()).discard(task_id)
            if not write.delete:
                store.tasks[task_id] = write.task
                for dep in write.task.dependencies:
                    store.dependents.setdefault(dep, set()).add(task_id)
        for event in events:
            store.outbox[event.event_id] = OutboxRow(event.model_dump_json(), event.event_type)


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)
