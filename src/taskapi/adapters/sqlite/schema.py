"""The SQLite schema and its versioning (``PRAGMA user_version``).

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``. Opening a database
applies, in one transaction that holds the write lock and reads the version first, every
migration it has not had yet, so two processes opening a file at once apply each one once.
A file written by a newer release (a higher ``user_version``) is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

_VERSION_1 = (
    # The task body is the source of truth (Task.model_dump_json()); the other columns copy
    # the fields `find` filters and sorts on so SQL can use indexes instead of parsing JSON.
    """
    CREATE TABLE IF NOT EXISTS tasks (
        task_id       TEXT    NOT NULL PRIMARY KEY,
        status        TEXT    NOT NULL,
        priority      TEXT    NOT NULL,
        assignee      TEXT,
        created_at_us INTEGER NOT NULL,  -- microseconds since the Unix epoch (UTC): exact, sortable
        version       INTEGER NOT NULL CHECK (version >= 1),
        body          TEXT    NOT NULL
    )
    """,
    # Listing order is (created_at, task_id); each filter gets an index that ends in that order,
    # so a filtered page is an index range scan that stops after `limit` rows.
    "CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at_us, task_id)",
    "CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, created_at_us, task_id)",
    "CREATE INDEX IF NOT EXISTS tasks_by_priority ON tasks (priority, created_at_us, task_id)",
    "CREATE INDEX IF NOT EXISTS tasks_by_assignee ON tasks (assignee, created_at_us, task_id)",
    # One row per dependency edge, written in the same transaction as the task. Deleting a task
    # cascades to its own edges. `depends_on` deliberately has no foreign key: the service
    # checks that dependencies exist (under the write lock), and the store keeps the same
    # semantics as the in-memory and DynamoDB adapters, which cannot enforce one.
    """
    CREATE TABLE IF NOT EXISTS task_dependencies (
        task_id    TEXT    NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        depends_on TEXT    NOT NULL,
        position   INTEGER NOT NULL,  -- index in Task.dependencies: forward reads keep the order
        PRIMARY KEY (task_id, depends_on)
    ) WITHOUT ROWID
    """,
    # "Who depends on X" is one index range scan, already sorted by task id.
    """
    CREATE INDEX IF NOT EXISTS task_dependencies_by_depends_on
        ON task_dependencies (depends_on, task_id)
    """,
    # Committed events not yet delivered. `sequence` is the rowid: without AUTOINCREMENT SQLite
    # assigns max(rowid) + 1, so a new event always sorts after every pending one (only ids of
    # delivered, deleted rows are ever reused, which is harmless).
    """
    CREATE TABLE IF NOT EXISTS outbox (
        sequence   INTEGER NOT NULL PRIMARY KEY,
        event_id   TEXT    NOT NULL UNIQUE,
        event_type TEXT    NOT NULL,
        payload    TEXT    NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT    NOT NULL
    )
    """,
)

_VERSION_2 = (
    # Creates made with an Idempotency-Key, written in the transaction of the task they
    # created: a retry with the same key is answered from here (docs/api.md#idempotency-keys).
    """
    CREATE TABLE IF NOT EXISTS requests (
        request_key   TEXT    NOT NULL PRIMARY KEY,  -- scoped to the caller, opaque
        fingerprint   TEXT    NOT NULL,
        task          TEXT    NOT NULL,  -- the task as created: the response to replay
        expires_at_us INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS requests_by_expiry ON requests (expires_at_us)",
)

_VERSION_3 = (
    # When an outbox event is next due, in microseconds since the Unix epoch: 0 (a new or
    # redriven event) is due at once; a failed delivery moves it to the time of its retry.
    "ALTER TABLE outbox ADD COLUMN due_us INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX IF NOT EXISTS outbox_by_due ON outbox (due_us, sequence)",
    # Events set aside: delivered for the last time without success, or unreadable. They are
    # kept until redriven (moved back to `outbox`); `sequence` is the order they were set aside.
    """
    CREATE TABLE IF NOT EXISTS outbox_dead_letters (
        sequence         INTEGER NOT NULL PRIMARY KEY,
        event_id         TEXT    NOT NULL UNIQUE,
        event_type       TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        attempts         INTEGER NOT NULL,
        last_error       TEXT,
        created_at       TEXT    NOT NULL,
        dead_lettered_at TEXT    NOT NULL
    )
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_VERSION_1, _VERSION_2, _VERSION_3)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The file was written by a newer release of taskapi."""


def ensure_schema(connection: sqlite3.Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION`` (creating it if empty), atomically.

    ``connection`` must be in autocommit mode (``isolation_level=None``).
    """
    connection.execute("BEGIN IMMEDIATE")  # serialise with any other process doing the same
    try:
        (found,) = connection.execute("PRAGMA user_version").fetchone()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {found}; "
                f"this release understands up to {SCHEMA_VERSION}"
            )
        for migration in MIGRATIONS[found:]:
            for statement in migration:
                connection.execute(statement)
        # PRAGMA takes no bound parameters; SCHEMA_VERSION is our own integer constant.
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
