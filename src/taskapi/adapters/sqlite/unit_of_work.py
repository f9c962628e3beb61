"""The local unit of work: one ``BEGIN IMMEDIATE`` transaction per use case.

The write lock is taken on entry, so the whole read-check-write (cycle check included) sees one
snapshot and writers are serialised. ``commit()`` applies the staged conditional writes, their
reverse edges and outbox events in a savepoint: all or nothing. See docs/architecture.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, NoReturn
from uuid import UUID

from taskapi.adapters.sqlite.database import SqliteDatabase, store_errors
from taskapi.adapters.sqlite.repository import (
    Session,
    SqliteRequestLog,
    SqliteTaskRepository,
    epoch_micros,
    id_chunks,
    placeholders,
)
from taskapi.adapters.unit_of_work import StagedEvents, StagedWrite, StagingUnitOfWork
from taskapi.domain.errors import DependenciesNotFound
from taskapi.domain.model import Task
from taskapi.service.ports import Event, RecordedRequest, RequestAlreadyRecorded

# -- applying staged writes (inside the commit's savepoint) --------------------------------


def _task_row(task: Task) -> dict[str, Any]:
    return {
        "task_id": str(task.task_id),
        "status": str(task.status),
        "priority": str(task.priority),
        "assignee": task.assignee,
        "created_at_us": epoch_micros(task.created_at),
        "version": task.version,
        "body": task.model_dump_json(),
    }


def _apply_write(connection: sqlite3.Connection, write: StagedWrite) -> set[UUID]:
    """Apply ``write``; return the dependencies it adds (to be checked once all are applied)."""
    task = write.task
    # Only an update has edges to compare with: a new task has none, a delete adds none.
    previous = (
        {
            UUID(dependency)
            for (dependency,) in connection.execute(
                "SELECT depends_on FROM task_dependencies WHERE task_id = ?", (str(task.task_id),)
            )
        }
        if write.kind == "update"
        else set()
    )
    row = _task_row(task)
    if write.expected_version == 0:
        cursor = connection.execute(
            "INSERT INTO tasks (task_id, status, priority, assignee, created_at_us, version, body)"
            " VALUES (:task_id, :status, :priority, :assignee, :created_at_us, :version, :body)"
            " ON CONFLICT (task_id) DO NOTHING",
            row,
        )
    elif write.delete:
        # The task's own edges go with it (ON DELETE CASCADE).
        cursor = connection.execute(
            "DELETE FROM tasks WHERE task_id = ? AND version = ?",
            (row["task_id"], write.expected_version),
        )
    else:
        cursor = connection.execute(
            "UPDATE tasks SET status = :status, priority = :priority, assignee = :assignee,"
            " created_at_us = :created_at_us, version = :version, body = :body"
            " WHERE task_id = :task_id AND version = :expected_version",
            {**row, "expected_version": write.expected_version},
        )
    if cursor.rowcount != 1:
        _raise_condition_failed(connection, write)
    if write.delete:
        return set()
    _replace_edges(connection, task)
    return set(task.dependencies) - previous


def _check_exist(connection: sqlite3.Connection, dependencies: set[UUID]) -> None:
    """The store's own guard (the service checks first): no edge to a task that is not there."""
    found: set[str] = set()
    for chunk in id_chunks(dependencies):
        sql = f"SELECT task_id FROM tasks WHERE task_id IN ({placeholders(len(chunk))})"  # noqa: S608
        found.update(row[0] for row in connection.execute(sql, chunk))
    missing = sorted((d for d in dependencies if str(d) not in found), key=str)
    if missing:
        raise DependenciesNotFound(missing)


def _raise_condition_failed(connection: sqlite3.Connection, write: StagedWrite) -> NoReturn:
    row = connection.execute(
        "SELECT body FROM tasks WHERE task_id = ?", (str(write.task.task_id),)
    ).fetchone()
    raise write.rejection(None if row is None else Task.model_validate_json(row[0]))


def _replace_edges(connection: sqlite3.Connection, task: Task) -> None:
    task_id = str(task.task_id)
    connection.execute("DELETE FROM task_dependencies WHERE task_id = ?", (task_id,))
    connection.executemany(
        "INSERT INTO task_dependencies (task_id, depends_on, position) VALUES (?, ?, ?)",
        [(task_id, str(dep), position) for position, dep in enumerate(task.dependencies)],
    )


def _insert_requests(connection: sqlite3.Connection, requests: Sequence[RecordedRequest]) -> None:
    for request in requests:
        now_us = epoch_micros(request.recorded_at)
        # Expired records give way (and are purged as new ones arrive); a live one holds.
        connection.execute("DELETE FROM requests WHERE expires_at_us <= ?", (now_us,))
        cursor = connection.execute(
            "INSERT INTO requests (request_key, fingerprint, task, expires_at_us)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (request_key) DO NOTHING",
            (
                request.key,
                request.fingerprint,
                request.task.model_dump_json(),
                epoch_micros(request.expires_at),
            ),
        )
        if cursor.rowcount != 1:
            raise RequestAlreadyRecorded(request.key)


def _insert_events(connection: sqlite3.Connection, events: Sequence[Event]) -> None:
    connection.executemany(
        "INSERT INTO outbox (event_id, event_type, payload, created_at) VALUES (?, ?, ?, ?)",
        [
            (str(e.event_id), e.event_type, e.model_dump_json(), e.occurred_at.isoformat())
            for e in events
        ],
    )


class SqliteUnitOfWork(StagingUnitOfWork):
    requests: SqliteRequestLog
    tasks: SqliteTaskRepository

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database
        self._session = Session()
        self.tasks = SqliteTaskRepository(self._session)
        self.outbox = StagedEvents()
        self.requests = SqliteRequestLog(self._session)

    def _begin(self) -> None:
        with store_errors():
            connection = self._database.open_connection()
            try:
                connection.execute("BEGIN IMMEDIATE")  # take the write lock now: see module doc
            except BaseException:
                connection.close()
                raise
        self._session.connection = connection

    def _end(self) -> None:
        connection, self._session.connection = self._session.connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction:
                # If even ROLLBACK fails, closing the connection discards the transaction, and
                # the exception already in flight (if any) is the one worth reporting.
                with suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
        finally:
            connection.close()

    def _apply(
        self, writes: list[StagedWrite], events: list[Event], requests: list[RecordedRequest]
    ) -> None:
        connection = self._session.require()
        with store_errors():
            if not connection.in_transaction:  # a second commit in the same unit of work
                connection.execute("BEGIN IMMEDIATE")
            connection.execute("SAVEPOINT uow_commit")
            try:
                added: set[UUID] = set()
                for write in writes:
                    added |= _apply_write(connection, write)
                _check_exist(connection, added)
                _insert_events(connection, events)
                _insert_requests(connection, requests)
            except BaseException:
                # Undo this attempt only: the unit of work keeps its lock and reads committed
                # state again, exactly as before commit() (the in-memory adapter's behaviour).
                connection.execute("ROLLBACK TO uow_commit")
                connection.execute("RELEASE uow_commit")
                raise
            connection.execute("RELEASE uow_commit")
            connection.execute("COMMIT")


class SqliteUnitOfWorkFactory:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database

    def __call__(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self.database)
