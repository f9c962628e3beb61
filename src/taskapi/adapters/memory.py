"""In-memory adapters: the verified fake.

Used by unit tests and as a zero-dependency store. It runs the same repository contract suite
as SQLite and DynamoDB, so it cannot drift from them. A unit of work holds the store lock from
``__enter__`` to ``__exit__``: writers are serialised, as with SQLite's ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from taskapi.domain.errors import InvalidPageToken, TaskNotFound, VersionConflict
from taskapi.domain.model import Task, to_utc
from taskapi.service.ports import (
    Event,
    OutboxRecord,
    Position,
    TaskFilter,
    TaskSlice,
)


class InMemoryStore:
    """The shared state behind every unit of work: committed tasks and the outbox."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[UUID, Task] = {}
        self.dependents: dict[UUID, set[UUID]] = {}
        self.outbox: dict[UUID, OutboxRecord] = {}  # insertion order is commit order

    # -- outbox reader (the dispatcher's side) ------------------------------------------

    def pending(self, limit: int) -> list[OutboxRecord]:
        with self.lock:
            return list(self.outbox.values())[:limit]

    def mark_sent(self, event_id: UUID) -> None:
        with self.lock:
            self.outbox.pop(event_id, None)

    def mark_failed(self, event_id: UUID, error: str) -> None:
        with self.lock:
            record = self.outbox.get(event_id)
            if record is not None:
                record.attempts += 1
                record.last_error = error


def _sort_key(task: Task) -> tuple[datetime, str]:
    return (task.created_at, str(task.task_id))


def _matches(task: Task, task_filter: TaskFilter) -> bool:
    return (
        (task_filter.status is None or task.status == task_filter.status)
        and (task_filter.priority is None or task.priority == task_filter.priority)
        and (task_filter.assignee is None or task.assignee == task_filter.assignee)
    )


@dataclass(frozen=True, slots=True)
class StagedWrite:
    """A write waiting for commit. ``expected_version`` 0 means "must not exist yet"."""

    task: Task
    expected_version: int
    delete: bool = False


class InMemoryTaskRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: dict[UUID, StagedWrite] = {}

    def get(self, task_id: UUID) -> Task | None:
        return self._store.tasks.get(task_id)

    def get_many(self, task_ids: Collection[UUID]) -> dict[UUID, Task]:
        return {i: self._store.tasks[i] for i in task_ids if i in self._store.tasks}

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        return {i: t.dependencies for i, t in self.get_many(task_ids).items()}

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        return sorted(self._store.dependents.get(task_id, ()), key=str)

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        matching = sorted(
            (t for t in self._store.tasks.values() if _matches(t, task_filter)), key=_sort_key
        )
        if after is not None:
            start = _position_key(after)
            matching = [t for t in matching if _sort_key(t) > start]
        page = matching[:limit]
        more = len(matching) > limit
        return TaskSlice(tasks=page, next_position=_position(page[-1]) if more else None)

    def add(self, task: Task) -> None:
        self.staged[task.task_id] = StagedWrite(task, expected_version=0)

    def update(self, task: Task, expected_version: int) -> None:
        self.staged[task.task_id] = StagedWrite(task, expected_version)

    def remove(self, task: Task) -> None:
        self.staged[task.task_id] = StagedWrite(task, task.version, delete=True)


def _position(task: Task) -> Position:
    return {"created_at": task.created_at.isoformat(), "task_id": str(task.task_id)}


def _position_key(position: Position) -> tuple[datetime, str]:
    # Signed, but possibly issued by another store type or release: a bad token, not a 500.
    try:
        return (
            to_utc(datetime.fromisoformat(position["created_at"])),
            str(UUID(position["task_id"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidPageToken("it does not belong to this store") from exc


class InMemoryOutbox:
    def __init__(self) -> None:
        self.staged: list[Event] = []

    def add(self, event: Event) -> None:
        self.staged.append(event)


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.tasks = InMemoryTaskRepository(store)
        self.outbox = InMemoryOutbox()

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tasks.staged.clear()
        self.outbox.staged.clear()
        self._store.lock.release()

    def commit(self) -> None:
        store = self._store
        writes = list(self.tasks.staged.values())
        # Check every condition before applying anything: all or nothing.
        for write in writes:
            _check_condition(write, store.tasks.get(write.task.task_id))
        for write in writes:
            task_id = write.task.task_id
            previous = store.tasks.pop(task_id, None)
            for dep in previous.dependencies if previous else ():
                store.dependents.get(dep, set()).discard(task_id)
            if not write.delete:
                store.tasks[task_id] = write.task
                for dep in write.task.dependencies:
                    store.dependents.setdefault(dep, set()).add(task_id)
        for event in self.outbox.staged:
            store.outbox[event.event_id] = OutboxRecord(event=event)
        self.tasks.staged.clear()
        self.outbox.staged.clear()


def _check_condition(write: StagedWrite, stored: Task | None) -> None:
    if write.expected_version == 0:
        if stored is not None:
            raise VersionConflict(stored, 0)
    elif stored is None:
        raise TaskNotFound(write.task.task_id)
    elif stored.version != write.expected_version:
        raise VersionConflict(stored, write.expected_version)


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)
