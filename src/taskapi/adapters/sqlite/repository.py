"""Reads of the local store: tasks by id, BFS levels of the dependency graph, dependents,
and keyset-paginated listing. Writes are staged (``StagedWrites``) until the unit of work
commits. See docs/architecture.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from taskapi.adapters.sqlite.database import store_errors
from taskapi.adapters.unit_of_work import (
    StagedRequests,
    StagedWrites,
    dependent_position_after,
    parse_dependent_position,
    parse_position,
    position_after,
)
from taskapi.domain.model import Task, to_utc
from taskapi.service.ports import Position, RecordedRequest, TaskFilter, TaskSlice

# Ids per `IN (...)` query: far below SQLite's bound-parameter limit (999 before 3.32).
ID_CHUNK_SIZE = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Session:
    """The connection of one unit of work, shared by the unit of work and its repository."""

    def __init__(self) -> None:
        self.connection: sqlite3.Connection | None = None

    def require(self) -> sqlite3.Connection:
        if self.connection is None:
            raise RuntimeError("use the unit of work as a context manager: `with uow_factory():`")
        return self.connection


def id_chunks(ids: Iterable[UUID]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(str(i) for i in ids))
    for start in range(0, len(unique), ID_CHUNK_SIZE):
        yield unique[start : start + ID_CHUNK_SIZE]


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def epoch_micros(instant: datetime) -> int:
    """Exact integer microseconds since the epoch: sorts like the datetimes, in any year."""
    return (to_utc(instant) - _EPOCH) // _MICROSECOND


class SqliteTaskRepository(StagedWrites):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with store_errors():
            return self._session.require().execute(sql, params).fetchall()

    def get(self, task_id: UUID) -> Task | None:
        rows = self._query("SELECT body FROM tasks WHERE task_id = ?", (str(task_id),))
        return Task.model_validate_json(rows[0][0]) if rows else None

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        # Units of work hold the store's write lock: a walk needs no guard of its own.
        del graph_walk
        found: dict[UUID, Task] = {}
        for chunk in id_chunks(task_ids):
            marks = placeholders(len(chunk))
            sql = f"SELECT body FROM tasks WHERE task_id IN ({marks})"  # noqa: S608 - "?" only
            for (body,) in self._query(sql, chunk):
                task = Task.model_validate_json(body)
                found[task.task_id] = task
        return found

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        edges: dict[UUID, list[UUID]] = {}
        for chunk in id_chunks(task_ids):
            # LEFT JOIN: an existing task without dependencies still appears (with none).
            marks = placeholders(len(chunk))
            sql = (
                "SELECT t.task_id, d.depends_on FROM tasks AS t"  # noqa: S608 - "?" marks only
                " LEFT JOIN task_dependencies AS d ON d.task_id = t.task_id"
                f" WHERE t.task_id IN ({marks})"
                " ORDER BY t.task_id, d.position"
            )
            for task_id, depends_on in self._query(sql, chunk):
                deps = edges.setdefault(UUID(task_id), [])
                if depends_on is not None:
                    deps.append(UUID(depends_on))
        return {task_id: tuple(deps) for task_id, deps in edges.items()}

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        rows = self._query(
            "SELECT task_id FROM task_dependencies WHERE depends_on = ? ORDER BY task_id",
            (str(task_id),),
        )
        return [UUID(dependent) for (dependent,) in rows]

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        # One range scan of the reverse-edge index (depends_on, task_id), one row more than
        # the page to tell whether another page exists.
        sql = (
            "SELECT t.body FROM task_dependencies AS d JOIN tasks AS t ON t.task_id = d.task_id"
            " WHERE d.depends_on = ? AND d.task_id > ? ORDER BY d.task_id LIMIT ?"
        )
        start = "" if after is None else str(parse_dependent_position(after))
        rows = self._query(sql, (str(task_id), start, limit + 1))
        tasks = [Task.model_validate_json(body) for (body,) in rows[:limit]]
        more = len(rows) > limit
        return TaskSlice(
            tasks=tasks, next_position=dependent_position_after(tasks[-1].task_id) if more else None
        )

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", task_filter.status),
            ("priority", task_filter.priority),
            ("assignee", task_filter.assignee),
        ):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(str(value))
        if after is not None:
            # Keyset pagination: resume strictly after the last row of the previous page.
            conditions.append("(created_at_us, task_id) > (?, ?)")
            created_at, task_id = parse_position(after)
            params.extend((epoch_micros(created_at), str(task_id)))
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        # One extra row tells whether another page exists without a COUNT query.
        # Only fixed fragments are interpolated; every value is a bound parameter.
        order = "ORDER BY created_at_us, task_id LIMIT ?"
        sql = f"SELECT body FROM tasks {where} {order}"  # noqa: S608
        rows = self._query(sql, [*params, limit + 1])
        tasks = [Task.model_validate_json(body) for (body,) in rows[:limit]]
        more = len(rows) > limit
        return TaskSlice(
            tasks=tasks,
            next_position=position_after(tasks[-1].created_at, tasks[-1].task_id) if more else None,
        )


class SqliteRequestLog(StagedRequests):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def get(self, key: str, now: datetime) -> RecordedRequest | None:
        with store_errors():
            row = (
                self._session.require()
                .execute(
                    "SELECT fingerprint, task, expires_at_us FROM requests"
                    " WHERE request_key = ? AND expires_at_us > ?",
                    (key, epoch_micros(now)),
                )
                .fetchone()
            )
        if row is None:
            return None
        fingerprint, task, expires_at_us = row
        return RecordedRequest(
            key=key,
            fingerprint=fingerprint,
            task=Task.model_validate_json(task),
            recorded_at=now,
            expires_at=_EPOCH + expires_at_us * _MICROSECOND,
        )
