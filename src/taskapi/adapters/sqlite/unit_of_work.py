"""SQLite adapters: the local, embedded task store and its outbox.

Same semantics as the in-memory adapter (the repository contract suite runs on both):

* **One transaction per unit of work.** ``__enter__`` opens a connection and starts
  ``BEGIN IMMEDIATE``, which takes SQLite's single write lock up front. Writers are therefore
  serialised for the whole read-check-write of a use case (including the cycle check), and the
  reads inside see one consistent snapshot. ``commit()`` applies the staged writes and their
  outbox events and commits; leaving without ``commit()`` rolls everything back.
* **Writes are staged** until ``commit()``, then applied as conditional statements
  (``UPDATE ... WHERE version = ?``). A failed condition raises ``VersionConflict`` (or
  ``TaskNotFound``) and rolls back to a savepoint, so nothing of that commit is applied and the
  unit of work still reads committed state.
* **Thread safety.** ``sqlite3`` connections must not be shared between threads, so every unit
  of work, and every outbox-reader call, uses its own short-lived connection. Opening one is a
  file open (no network), cheap next to the fsync of a commit. WAL journal mode lets readers
  (the outbox dispatcher) proceed while a writer holds the lock; ``busy_timeout`` makes a
  writer wait for the lock instead of failing at once, and a wait that times out surfaces as
  ``StoreUnavailable`` (retry later).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from uuid import UUID

from taskapi.adapters.listing import parse_position, position_after
from taskapi.adapters.sqlite.schema import SchemaTooNew, ensure_schema
from taskapi.adapters.unit_of_work import (
    StagedEvents,
    StagedWrite,
    StagedWrites,
    StagingUnitOfWork,
    bounded_error,
)
from taskapi.domain.events import parse_event
from taskapi.domain.model import Task, to_utc
from taskapi.service.ports import (
    Event,
    OutboxRecord,
    Position,
    StoreFailure,
    StoreUnavailable,
    TaskFilter,
    TaskSlice,
)

# Ids per `IN (...)` query: far below SQLite's bound-parameter limit (999 before 3.32).
ID_CHUNK_SIZE = 500
DEFAULT_BUSY_TIMEOUT_MS = 5000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


# -- errors ----------------------------------------------------------------------------------


@contextmanager
def _store_errors() -> Iterator[None]:
    """Translate ``sqlite3`` errors into the port's infrastructure errors.

    Domain errors raised inside pass through untouched.
    """
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc) from exc


def _translate(exc: sqlite3.Error) -> Exception:
    # Extended result codes keep the primary code in the low byte (SQLITE_BUSY_SNAPSHOT etc.).
    primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreUnavailable(f"the local database is busy: {exc}", retry_after_seconds=1)
    return StoreFailure(f"the local database failed: {type(exc).__name__}: {exc}")


# -- the database ----------------------------------------------------------------------------


class SqliteDatabase:
    """One SQLite file: creates or checks its schema on construction, hands out configured
    connections, and is the dispatcher's outbox reader."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        if str(path) == ":memory:":
            # Every unit of work opens its own connection; each would see a different,
            # empty in-memory database. Use InMemoryUnitOfWorkFactory for that instead.
            raise ValueError("SqliteDatabase needs a file path")
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_ms / 1000
        with _store_errors(), self._connection() as connection:
            (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise StoreFailure(f"{self.path} cannot use WAL journal mode (got {mode!r})")
            try:
                ensure_schema(connection)
            except SchemaTooNew as exc:
                raise StoreFailure(f"{self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    def open_connection(self) -> sqlite3.Connection:
        """A new, configured connection for the calling thread; the caller closes it.

        Autocommit mode (``isolation_level=None``): transactions are started and ended
        explicitly, never implicitly by the ``sqlite3`` module.
        """
        # `timeout` is SQLite's busy_timeout: how long to wait for the write lock.
        connection = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys = ON")  # per connection; off by default
            # Durable commits: a 201 means the task and its event survive a power loss too.
            connection.execute("PRAGMA synchronous = FULL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _connection(self) -> closing[sqlite3.Connection]:
        return closing(self.open_connection())

    # -- outbox reader (the dispatcher's side); each call is one autocommit statement ----

    def pending(self, limit: int) -> list[OutboxRecord]:
        with _store_errors(), self._connection() as connection:
            rows = connection.execute(
                "SELECT payload, attempts, last_error FROM outbox ORDER BY sequence LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            OutboxRecord(event=parse_event(payload), attempts=attempts, last_error=last_error)
            for payload, attempts, last_error in rows
        ]

    def mark_sent(self, event_id: UUID) -> None:
        with _store_errors(), self._connection() as connection:
            connection.execute("DELETE FROM outbox WHERE event_id = ?", (str(event_id),))

    def mark_failed(self, event_id: UUID, error: str) -> None:
        with _store_errors(), self._connection() as connection:
            connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE event_id = ?",
                (bounded_error(error), str(event_id)),
            )


# -- repository ------------------------------------------------------------------------------


class _Session:
    """The connection of one unit of work, shared by the unit of work and its repository."""

    def __init__(self) -> None:
        self.connection: sqlite3.Connection | None = None

    def require(self) -> sqlite3.Connection:
        if self.connection is None:
            raise RuntimeError("use the unit of work as a context manager: `with uow_factory():`")
        return self.connection


def _chunks(ids: Iterable[UUID]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(str(i) for i in ids))
    for start in range(0, len(unique), ID_CHUNK_SIZE):
        yield unique[start : start + ID_CHUNK_SIZE]


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def _epoch_micros(instant: datetime) -> int:
    """Exact integer microseconds since the epoch: sorts like the datetimes, in any year."""
    return (to_utc(instant) - _EPOCH) // _MICROSECOND


class SqliteTaskRepository(StagedWrites):
    def __init__(self, session: _Session) -> None:
        super().__init__()
        self._session = session

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with _store_errors():
            return self._session.require().execute(sql, params).fetchall()

    def get(self, task_id: UUID) -> Task | None:
        rows = self._query("SELECT body FROM tasks WHERE task_id = ?", (str(task_id),))
        return Task.model_validate_json(rows[0][0]) if rows else None

    def get_many(self, task_ids: Collection[UUID]) -> dict[UUID, Task]:
        found: dict[UUID, Task] = {}
        for chunk in _chunks(task_ids):
            marks = _placeholders(len(chunk))
            sql = f"SELECT body FROM tasks WHERE task_id IN ({marks})"  # noqa: S608 - "?" only
            for (body,) in self._query(sql, chunk):
                task = Task.model_validate_json(body)
                found[task.task_id] = task
        return found

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        edges: dict[UUID, list[UUID]] = {}
        for chunk in _chunks(task_ids):
            # LEFT JOIN: an existing task without dependencies still appears (with none).
            marks = _placeholders(len(chunk))
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
            params.extend((_epoch_micros(created_at), str(task_id)))
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


# -- applying staged writes (inside the commit's savepoint) --------------------------------


def _task_row(task: Task) -> dict[str, Any]:
    return {
        "task_id": str(task.task_id),
        "status": str(task.status),
        "priority": str(task.priority),
        "assignee": task.assignee,
        "created_at_us": _epoch_micros(task.created_at),
        "version": task.version,
        "body": task.model_dump_json(),
    }


def _apply_write(connection: sqlite3.Connection, write: StagedWrite) -> None:
    task = write.task
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
    if not write.delete:
        _replace_edges(connection, task)


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


def _insert_events(connection: sqlite3.Connection, events: Sequence[Event]) -> None:
    connection.executemany(
        "INSERT INTO outbox (event_id, event_type, payload, created_at) VALUES (?, ?, ?, ?)",
        [
            (str(e.event_id), e.event_type, e.model_dump_json(), e.occurred_at.isoformat())
            for e in events
        ],
    )


# -- unit of work ----------------------------------------------------------------------------


class SqliteUnitOfWork(StagingUnitOfWork):
    tasks: SqliteTaskRepository

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database
        self._session = _Session()
        self.tasks = SqliteTaskRepository(self._session)
        self.outbox = StagedEvents()

    def _begin(self) -> None:
        with _store_errors():
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

    def _apply(self, writes: list[StagedWrite], events: list[Event]) -> None:
        connection = self._session.require()
        with _store_errors():
            if not connection.in_transaction:  # a second commit in the same unit of work
                connection.execute("BEGIN IMMEDIATE")
            connection.execute("SAVEPOINT uow_commit")
            try:
                for write in writes:
                    _apply_write(connection, write)
                _insert_events(connection, events)
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
