"""The SQLite schema and its versioning (``PRAGMA user_version``).

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``. Opening a database
applies, in one transaction that holds the write lock and reads the version first, every
migration it has not had yet, so two processes opening a file at once apply each one once.
A file written by a newer release (a higher ``user_version``) is refused rather than guessed at.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

# A migration step: one SQL statement, or a function for what SQL cannot do portably.
Step = str | Callable[[sqlite3.Connection], None]

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

# Workspaces (schema version 4). A file of an earlier version held one shared task space: its
# tasks move into this workspace, which the migration creates (only if there are tasks) with no
# members; an operator claims it (docs/architecture.md#upgrading-a-file-from-before-workspaces).
DEFAULT_WORKSPACE_ID: Final = UUID("00000000-0000-4000-8000-000000000000")
DEFAULT_WORKSPACE_NAME: Final = "Default"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_VERSION_4_TABLES = (
    # A workspace and its members are one aggregate: every change of its members is a new
    # version of the workspace row (the optimistic-concurrency token of both).
    """
    CREATE TABLE workspaces (
        workspace_id  TEXT    NOT NULL PRIMARY KEY,
        name          TEXT    NOT NULL,
        created_at_us INTEGER NOT NULL,
        updated_at_us INTEGER NOT NULL,
        version       INTEGER NOT NULL CHECK (version >= 1)
    ) WITHOUT ROWID
    """,
    # The primary key lists a workspace's members in member order (and finds one membership);
    # members_by_member lists a member's workspaces in the order they joined them.
    """
    CREATE TABLE members (
        workspace_id TEXT    NOT NULL REFERENCES workspaces (workspace_id),
        member       TEXT    NOT NULL,
        role         TEXT    NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
        added_at_us  INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, member)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX members_by_member ON members (member, added_at_us, workspace_id)",
    # Tasks are keyed by (workspace, task): two workspaces may hold the same task id. The
    # foreign key backs the unit of work's own checks: a task is only written into an existing
    # workspace, and a workspace that holds tasks cannot be deleted.
    """
    CREATE TABLE tasks_v4 (
        workspace_id  TEXT    NOT NULL REFERENCES workspaces (workspace_id),
        task_id       TEXT    NOT NULL,
        status        TEXT    NOT NULL,
        priority      TEXT    NOT NULL,
        assignee      TEXT,
        created_at_us INTEGER NOT NULL,
        version       INTEGER NOT NULL CHECK (version >= 1),
        body          TEXT    NOT NULL,
        PRIMARY KEY (workspace_id, task_id)
    )
    """,
    # Dependency edges never cross a workspace: an edge and its reverse-edge index entry are
    # the workspace's, and a task's own edges go with it (ON DELETE CASCADE).
    """
    CREATE TABLE task_dependencies_v4 (
        workspace_id TEXT    NOT NULL,
        task_id      TEXT    NOT NULL,
        depends_on   TEXT    NOT NULL,
        position     INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, task_id, depends_on),
        FOREIGN KEY (workspace_id, task_id)
            REFERENCES tasks_v4 (workspace_id, task_id) ON DELETE CASCADE
    ) WITHOUT ROWID
    """,
)


def _move_tasks_into_the_default_workspace(connection: sqlite3.Connection) -> None:
    """Create the default workspace if there are tasks, and copy them, their bodies now naming
    their workspace, and their edges into it (in Python rather than with ``json_set``:
    SQLite's JSON functions are optional before 3.38)."""
    workspace_id = str(DEFAULT_WORKSPACE_ID)
    if connection.execute("SELECT 1 FROM tasks LIMIT 1").fetchone() is None:
        return
    now_us = (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)
    connection.execute(
        "INSERT INTO workspaces (workspace_id, name, created_at_us, updated_at_us, version)"
        " VALUES (?, ?, ?, ?, 1)",
        (workspace_id, DEFAULT_WORKSPACE_NAME, now_us, now_us),
    )
    rows = connection.execute(
        "SELECT task_id, status, priority, assignee, created_at_us, version, body FROM tasks"
    )
    connection.executemany(
        "INSERT INTO tasks_v4 (workspace_id, task_id, status, priority, assignee,"
        " created_at_us, version, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (workspace_id, *columns, _with_workspace(body, workspace_id))
            for (*columns, body) in rows
        ),
    )
    # Only edges of a task that exists (the old foreign key kept it so, if it was enforced).
    connection.execute(
        "INSERT INTO task_dependencies_v4 (workspace_id, task_id, depends_on, position)"
        " SELECT ?, d.task_id, d.depends_on, d.position"
        " FROM task_dependencies AS d JOIN tasks AS t ON t.task_id = d.task_id",
        (workspace_id,),
    )


def _with_workspace(body: str, workspace_id: str) -> str:
    return json.dumps({**json.loads(body), "workspace_id": workspace_id}, separators=(",", ":"))


_VERSION_4: tuple[Step, ...] = (
    *_VERSION_4_TABLES,
    _move_tasks_into_the_default_workspace,
    # Children first: the old tasks then have no references left to cascade to.
    "DROP TABLE task_dependencies",
    "DROP TABLE tasks",
    # Renaming a table also renames it in the foreign keys that reference it.
    "ALTER TABLE tasks_v4 RENAME TO tasks",
    "ALTER TABLE task_dependencies_v4 RENAME TO task_dependencies",
    # The listing indexes, now per workspace, in listing order (created_at, task_id).
    "CREATE INDEX tasks_by_created ON tasks (workspace_id, created_at_us, task_id)",
    "CREATE INDEX tasks_by_status ON tasks (workspace_id, status, created_at_us, task_id)",
    "CREATE INDEX tasks_by_priority ON tasks (workspace_id, priority, created_at_us, task_id)",
    "CREATE INDEX tasks_by_assignee ON tasks (workspace_id, assignee, created_at_us, task_id)",
    # "Who depends on X" in a workspace: one range scan, already sorted by task id.
    """
    CREATE INDEX task_dependencies_by_depends_on
        ON task_dependencies (workspace_id, depends_on, task_id)
    """,
    # Idempotency-Key records are now scoped to a workspace too: no earlier record can match
    # a key again, and the tasks they hold name no workspace. They were short-lived anyway.
    "DELETE FROM requests",
)

MIGRATIONS: tuple[tuple[Step, ...], ...] = (_VERSION_1, _VERSION_2, _VERSION_3, _VERSION_4)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The file was written by a newer release of taskapi."""


class MigrationFailed(Exception):
    """A migration could not read what the file holds; the file is left as it was."""


def ensure_schema(connection: sqlite3.Connection, version: int = SCHEMA_VERSION) -> None:
    """Bring the database to ``version`` (creating it if empty), atomically. Only tests ask
    for a version below ``SCHEMA_VERSION``: to build the file an earlier release left.

    ``connection`` must be in autocommit mode (``isolation_level=None``).
    """
    if not 0 <= version <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {version}")
    connection.execute("BEGIN IMMEDIATE")  # serialise with any other process doing the same
    try:
        (found,) = connection.execute("PRAGMA user_version").fetchone()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {found}; "
                f"this release understands up to {SCHEMA_VERSION}"
            )
        for number, migration in enumerate(MIGRATIONS[found:version], start=found + 1):
            for step in migration:
                if isinstance(step, str):
                    connection.execute(step)
                    continue
                try:
                    step(connection)
                except (ValueError, TypeError) as exc:  # e.g. a task body that is not JSON
                    raise MigrationFailed(f"migrating to schema version {number}: {exc}") from exc
        # PRAGMA takes no bound parameters; the version is an integer (ours, or checked).
        connection.execute(f"PRAGMA user_version = {max(found, version):d}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
