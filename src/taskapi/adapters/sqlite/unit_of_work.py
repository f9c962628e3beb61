"""The local unit of work: one ``BEGIN IMMEDIATE`` transaction per use case.

The write lock is taken on entry, so the whole read-check-write (cycle check included) sees one
snapshot and writers are serialised. ``commit()`` applies the staged conditional writes (of
workspaces, their members, and the unit of work's workspace's tasks), the tasks' reverse edges
and outbox events in a savepoint: all or nothing. See docs/architecture.md.
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
    SqliteWorkspaceRepository,
    epoch_micros,
    id_chunks,
    placeholders,
    read_workspace,
)
from taskapi.adapters.unit_of_work import (
    Staged,
    StagedEvents,
    StagedWorkspaceWrite,
    StagedWrite,
    StagingUnitOfWork,
    require_workspace,
)
from taskapi.domain.errors import DependenciesNotFound, WorkspaceNotEmpty, WorkspaceNotFound
from taskapi.domain.model import FROM_STORE, Task
from taskapi.domain.workspaces import Workspace
from taskapi.service.ports import Event, RecordedRequest, RequestAlreadyRecorded

# -- checking and applying staged workspace writes (inside the commit's savepoint) ---------


def _check_workspace_write(connection: sqlite3.Connection, write: StagedWorkspaceWrite) -> None:
    """Raise the error of ``write`` if its condition fails against the stored workspace."""
    workspace_id = write.workspace.workspace_id
    stored = read_workspace(connection, workspace_id)
    if not write.accepts(stored):
        raise write.rejection(stored)
    if write.kind == "remove" and _holds_tasks(connection, str(workspace_id)):
        raise WorkspaceNotEmpty(workspace_id)


def _holds_tasks(connection: sqlite3.Connection, workspace_id: str) -> bool:
    found = connection.execute(
        "SELECT 1 FROM tasks WHERE workspace_id = ? LIMIT 1", (workspace_id,)
    ).fetchone()
    return found is not None


def _exists(connection: sqlite3.Connection, workspace_id: str) -> bool:
    found = connection.execute(
        "SELECT 1 FROM workspaces WHERE workspace_id = ?", (workspace_id,)
    ).fetchone()
    return found is not None


def _workspace_row(workspace: Workspace) -> dict[str, Any]:
    return {
        "workspace_id": str(workspace.workspace_id),
        "name": workspace.name,
        "created_at_us": epoch_micros(workspace.created_at),
        "updated_at_us": epoch_micros(workspace.updated_at),
        "version": workspace.version,
    }


def _apply_workspace_write(connection: sqlite3.Connection, write: StagedWorkspaceWrite) -> None:
    """Apply ``write``, already checked (``_check_workspace_write``) under the write lock; the
    statements keep their own conditions all the same."""
    row = _workspace_row(write.workspace)
    if write.kind == "remove":
        connection.execute("DELETE FROM members WHERE workspace_id = ?", (row["workspace_id"],))
        cursor = connection.execute(
            "DELETE FROM workspaces WHERE workspace_id = ? AND version = ?",
            (row["workspace_id"], write.expected_version),
        )
    elif write.kind == "add":
        cursor = connection.execute(
            "INSERT INTO workspaces (workspace_id, name, created_at_us, updated_at_us, version)"
            " VALUES (:workspace_id, :name, :created_at_us, :updated_at_us, :version)"
            " ON CONFLICT (workspace_id) DO NOTHING",
            row,
        )
    else:
        cursor = connection.execute(
            "UPDATE workspaces SET name = :name, created_at_us = :created_at_us,"
            " updated_at_us = :updated_at_us, version = :version"
            " WHERE workspace_id = :workspace_id AND version = :expected_version",
            {**row, "expected_version": write.expected_version},
        )
    if cursor.rowcount != 1:
        stored = read_workspace(connection, write.workspace.workspace_id)
        raise write.rejection(stored)
    if write.membership is not None:
        membership = write.membership
        connection.execute(
            "INSERT INTO members (workspace_id, member, role, added_at_us) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (workspace_id, member) DO UPDATE"
            " SET role = excluded.role, added_at_us = excluded.added_at_us",
            (
                row["workspace_id"],
                membership.member,
                str(membership.role),
                epoch_micros(membership.added_at),
            ),
        )
    if write.member is not None:
        connection.execute(
            "DELETE FROM members WHERE workspace_id = ? AND member = ?",
            (row["workspace_id"], write.member),
        )


# -- applying staged task writes (inside the commit's savepoint) ---------------------------


def _task_row(workspace_id: str, task: Task) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "task_id": str(task.task_id),
        "status": str(task.status),
        "priority": str(task.priority),
        "assignee": task.assignee,
        "created_at_us": epoch_micros(task.created_at),
        "version": task.version,
        "body": task.model_dump_json(),
    }


def _apply_write(
    connection: sqlite3.Connection, workspace_id: str, write: StagedWrite
) -> set[UUID]:
    """Apply ``write`` in the workspace; return the dependencies it adds (to be checked once
    all are applied)."""
    task = write.task
    # Only an update has edges to compare with: a new task has none, a delete adds none.
    previous = (
        {
            UUID(dependency)
            for (dependency,) in connection.execute(
                "SELECT depends_on FROM task_dependencies WHERE workspace_id = ? AND task_id = ?",
                (workspace_id, str(task.task_id)),
            )
        }
        if write.kind == "update"
        else set()
    )
    row = _task_row(workspace_id, task)
    if write.expected_version == 0:
        cursor = connection.execute(
            "INSERT INTO tasks (workspace_id, task_id, status, priority, assignee,"
            " created_at_us, version, body) VALUES (:workspace_id, :task_id, :status,"
            " :priority, :assignee, :created_at_us, :version, :body)"
            " ON CONFLICT (workspace_id, task_id) DO NOTHING",
            row,
        )
    elif write.delete:
        # The task's own edges go with it (ON DELETE CASCADE).
        cursor = connection.execute(
            "DELETE FROM tasks WHERE workspace_id = ? AND task_id = ? AND version = ?",
            (workspace_id, row["task_id"], write.expected_version),
        )
    else:
        cursor = connection.execute(
            "UPDATE tasks SET status = :status, priority = :priority, assignee = :assignee,"
            " created_at_us = :created_at_us, version = :version, body = :body"
            " WHERE workspace_id = :workspace_id AND task_id = :task_id"
            " AND version = :expected_version",
            {**row, "expected_version": write.expected_version},
        )
    if cursor.rowcount != 1:
        _raise_condition_failed(connection, workspace_id, write)
    if write.delete:
        return set()
    _replace_edges(connection, workspace_id, task)
    return set(task.dependencies) - previous


def _check_exist(
    connection: sqlite3.Connection, workspace_id: str, dependencies: set[UUID]
) -> None:
    """The store's own guard (the service checks first): no edge to a task that is not in
    the workspace."""
    found: set[str] = set()
    for chunk in id_chunks(dependencies):
        sql = (
            "SELECT task_id FROM tasks"  # noqa: S608 - "?" marks only
            f" WHERE workspace_id = ? AND task_id IN ({placeholders(len(chunk))})"
        )
        found.update(row[0] for row in connection.execute(sql, (workspace_id, *chunk)))
    missing = sorted((d for d in dependencies if str(d) not in found), key=str)
    if missing:
        raise DependenciesNotFound(missing)


def _raise_condition_failed(
    connection: sqlite3.Connection, workspace_id: str, write: StagedWrite
) -> NoReturn:
    row = connection.execute(
        "SELECT body FROM tasks WHERE workspace_id = ? AND task_id = ?",
        (workspace_id, str(write.task.task_id)),
    ).fetchone()
    raise write.rejection(
        None if row is None else Task.model_validate_json(row[0], context=FROM_STORE)
    )


def _replace_edges(connection: sqlite3.Connection, workspace_id: str, task: Task) -> None:
    task_id = str(task.task_id)
    connection.execute(
        "DELETE FROM task_dependencies WHERE workspace_id = ? AND task_id = ?",
        (workspace_id, task_id),
    )
    connection.executemany(
        "INSERT INTO task_dependencies (workspace_id, task_id, depends_on, position)"
        " VALUES (?, ?, ?, ?)",
        [
            (workspace_id, task_id, str(dep), position)
            for position, dep in enumerate(task.dependencies)
        ],
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
    workspaces: SqliteWorkspaceRepository

    def __init__(self, database: SqliteDatabase, workspace_id: UUID | None = None) -> None:
        self._database = database
        self._session = Session()
        self.workspace_id = workspace_id
        self.tasks = SqliteTaskRepository(self._session, workspace_id)
        self.outbox = StagedEvents()
        self.requests = SqliteRequestLog(self._session)
        self.workspaces = SqliteWorkspaceRepository(self._session)

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

    def _apply(self, staged: Staged) -> None:
        connection = self._session.require()
        with store_errors():
            if not connection.in_transaction:  # a second commit in the same unit of work
                connection.execute("BEGIN IMMEDIATE")
            connection.execute("SAVEPOINT uow_commit")
            try:
                # Conditions against the state before this commit first, in the in-memory
                # store's order, so both report the same error for the same staged writes.
                for workspace_write in staged.workspaces:
                    _check_workspace_write(connection, workspace_write)
                workspace_id = ""
                if staged.writes:
                    workspace_id = str(require_workspace(staged.workspace_id))
                    if not _exists(connection, workspace_id):
                        raise WorkspaceNotFound(require_workspace(staged.workspace_id))
                for workspace_write in staged.workspaces:
                    _apply_workspace_write(connection, workspace_write)
                added: set[UUID] = set()
                for write in staged.writes:
                    added |= _apply_write(connection, workspace_id, write)
                _check_exist(connection, workspace_id, added)
                _insert_events(connection, staged.events)
                _insert_requests(connection, staged.requests)
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

    def __call__(self, workspace_id: UUID | None = None) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self.database, workspace_id)
