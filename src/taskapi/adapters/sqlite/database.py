"""The local SQLite file: its connections, its schema, and the dispatcher's outbox reader
(pending events, their retry schedule, the dead letters).

Every unit of work and every outbox call opens its own short-lived connection (``sqlite3``
connections must not cross threads); WAL lets readers proceed while a writer holds the lock,
and a busy wait that times out is ``StoreUnavailable``. See docs/architecture.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from taskapi.adapters.outbox import read_record
from taskapi.adapters.sqlite.schema import MigrationFailed, SchemaTooNew, ensure_schema
from taskapi.adapters.unit_of_work import bounded_error
from taskapi.domain.model import to_utc
from taskapi.service.ports import (
    DeadLetter,
    OutboxRecord,
    StoreFailure,
    StoreUnavailable,
)

DEFAULT_BUSY_TIMEOUT_MS = 5000


def connect(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A new connection to ``path`` for the calling thread, configured as every local store
    needs it; the caller closes it.

    Autocommit mode (``isolation_level=None``): transactions are started and ended explicitly,
    never implicitly by the ``sqlite3`` module. ``timeout`` is SQLite's busy timeout: how long
    to wait for the write lock.
    """
    connection = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys = ON")  # per connection; off by default
        # Durable commits: a 201 means the task and its event survive a power loss too.
        connection.execute("PRAGMA synchronous = FULL")
    except BaseException:
        connection.close()
        raise
    return connection


def use_wal(connection: sqlite3.Connection, path: Path) -> None:
    """Switch the file to WAL journal mode (it stays so), or fail saying why."""
    (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode != "wal":
        raise StoreFailure(f"{path} cannot use WAL journal mode (got {mode!r})")


@contextmanager
def store_errors() -> Iterator[None]:
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


class SqliteDatabase:
    """One SQLite file: creates or checks its schema on construction, hands out configured
    connections, and is the dispatcher's outbox reader."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        if str(path) == ":memory:":
            # Every unit of work opens its own connection; each would see a different,
            # empty in-memory database. Use InMemoryUnitOfWorkFactory for that instead.
            raise ValueError("SqliteDatabase needs a file path")
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        with store_errors(), self._connection() as connection:
            use_wal(connection, self.path)
            try:
                ensure_schema(connection)
            except (SchemaTooNew, MigrationFailed) as exc:
                raise StoreFailure(f"{self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    def open_connection(self) -> sqlite3.Connection:
        """A new, configured connection for the calling thread; the caller closes it."""
        return connect(self.path, busy_timeout_ms=self._busy_timeout_ms)

    def _connection(self) -> closing[sqlite3.Connection]:
        return closing(self.open_connection())

    # -- outbox reader (the dispatcher's side) -------------------------------------------

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxRecord]:
        due_by = _NO_TIME_LIMIT if now is None else _micros(now)
        records: list[OutboxRecord] = []
        after = (-1, -1)  # (due_us, sequence) of the last row read: pages past set-aside rows
        with store_errors(), self._connection() as connection:
            while len(records) < limit:
                wanted = limit - len(records)
                rows = connection.execute(
                    "SELECT due_us, sequence, event_id, payload, attempts, last_error"
                    " FROM outbox WHERE due_us <= ? AND (due_us, sequence) > (?, ?)"
                    " ORDER BY due_us, sequence LIMIT ?",
                    (due_by, *after, wanted),
                ).fetchall()
                for _, _, event_id, payload, attempts, last_error in rows:
                    event = read_record(payload)
                    if isinstance(event, str):
                        _set_aside(connection, event_id, event, count_attempt=False)
                    else:
                        records.append(OutboxRecord(event, attempts, last_error))
                if len(rows) < wanted:
                    break
                after = (rows[-1][0], rows[-1][1])
        return records

    def mark_sent(self, event_id: UUID) -> None:
        with store_errors(), self._connection() as connection, _write(connection):
            connection.execute("DELETE FROM outbox WHERE event_id = ?", (str(event_id),))
            # Delivered after all, by another dispatcher: no dead letter any more.
            connection.execute(
                "DELETE FROM outbox_dead_letters WHERE event_id = ?", (str(event_id),)
            )

    def mark_failed(self, event_id: UUID, error: str, retry_at: datetime | None = None) -> None:
        due = None if retry_at is None else _micros(retry_at)
        with store_errors(), self._connection() as connection:
            connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
                " due_us = COALESCE(?, due_us) WHERE event_id = ?",
                (bounded_error(error), due, str(event_id)),
            )

    def dead_letter(self, event_id: UUID, error: str) -> None:
        with store_errors(), self._connection() as connection:
            _set_aside(connection, str(event_id), bounded_error(error), count_attempt=True)

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        with store_errors(), self._connection() as connection:
            rows = connection.execute(
                "SELECT event_id, event_type, attempts, last_error, dead_lettered_at"
                " FROM outbox_dead_letters ORDER BY sequence LIMIT ?",
                (-1 if limit is None else limit,),  # a negative LIMIT is no limit
            ).fetchall()
        return [
            DeadLetter(UUID(event_id), event_type, attempts, error, datetime.fromisoformat(at))
            for event_id, event_type, attempts, error, at in rows
        ]

    def redrive(self, event_id: UUID) -> bool:
        with store_errors(), self._connection() as connection, _write(connection):
            moved = connection.execute(
                "INSERT INTO outbox (event_id, event_type, payload, created_at)"
                " SELECT event_id, event_type, payload, created_at FROM outbox_dead_letters"
                " WHERE event_id = ?",
                (str(event_id),),
            ).rowcount
            connection.execute(
                "DELETE FROM outbox_dead_letters WHERE event_id = ?", (str(event_id),)
            )
        return moved > 0


_NO_TIME_LIMIT = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(instant: datetime) -> int:
    return (to_utc(instant) - _EPOCH) // timedelta(microseconds=1)


@contextmanager
def _write(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on an autocommit connection."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _set_aside(
    connection: sqlite3.Connection, event_id: str, error: str, *, count_attempt: bool
) -> None:
    """Move an outbox row to the dead letters (nothing if it is no longer pending)."""
    with _write(connection):
        connection.execute(
            "INSERT OR REPLACE INTO outbox_dead_letters (event_id, event_type, payload,"
            " attempts, last_error, created_at, dead_lettered_at)"
            " SELECT event_id, event_type, payload, attempts + ?, ?, created_at, ?"
            " FROM outbox WHERE event_id = ?",
            (int(count_attempt), error, datetime.now(UTC).isoformat(), event_id),
        )
        connection.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))
