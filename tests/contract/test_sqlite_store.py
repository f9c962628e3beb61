"""What the SQLite store promises beyond the repository contract: its file format, locking
and error mapping, and its wiring by the composition root. (Its schema migrations, the
workspace one above all: test_sqlite_migrations.py.)"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.repository import ID_CHUNK_SIZE
from taskapi.adapters.sqlite.schema import SCHEMA_VERSION, ensure_schema
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.bootstrap import build_runtime
from taskapi.config import Settings
from taskapi.domain.model import Priority, Status
from taskapi.service.commands import Access, CreateTask, CreateWorkspace
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import StoreFailure, StoreUnavailable, TaskFilter
from taskapi.service.tasks import TaskService
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import (
    OWNER,
    WORKSPACE_ID,
    created_event,
    make_membership,
    make_task,
    make_workspace,
    received,
)
from tests.fakes.subscribers import RecordingSubscriber


class TracingDatabase(SqliteDatabase):
    """Records every SQL statement its connections run."""

    def __init__(self, path: Path) -> None:
        self.statements: list[str] = []
        super().__init__(path)

    def open_connection(self) -> sqlite3.Connection:
        connection = super().open_connection()
        connection.set_trace_callback(self.statements.append)
        return connection


def with_workspace(database: SqliteDatabase) -> SqliteUnitOfWorkFactory:
    """A factory on ``database``, which now holds the workspace ``WORKSPACE_ID``."""
    factory = SqliteUnitOfWorkFactory(database)
    workspace = make_workspace()
    with factory() as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()
    return factory


def test_a_new_file_gets_the_schema_in_wal_mode(tmp_path: Path) -> None:
    database = SqliteDatabase(tmp_path / "new.db")
    with closing(database.open_connection()) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "taskapi.db"
    task = make_task()
    event = created_event(task)
    with with_workspace(SqliteDatabase(path))(WORKSPACE_ID) as uow:
        uow.tasks.add(task)
        uow.outbox.add(event)
        uow.commit()

    reopened = SqliteDatabase(path)
    with SqliteUnitOfWorkFactory(reopened)(WORKSPACE_ID) as uow:
        assert uow.tasks.get(task.task_id) == task
        assert uow.workspaces.get(WORKSPACE_ID) == make_workspace()
    assert [r.event for r in reopened.pending(10)] == [received(event)]


def test_a_file_of_the_first_schema_version_is_migrated_with_its_pending_events(
    tmp_path: Path,
) -> None:
    # What the first release left: schema version 1, one undelivered event that failed once.
    path = tmp_path / "old.db"
    event = created_event(make_task())
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        ensure_schema(connection, version=1)
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
        connection.execute(
            "INSERT INTO outbox (event_id, event_type, payload, attempts, last_error, created_at)"
            " VALUES (?, ?, ?, 1, 'ConnectionError: down', ?)",
            (str(event.event_id), event.event_type, event.model_dump_json(), "2025-01-15"),
        )

    database = SqliteDatabase(path)

    (record,) = database.pending(10, datetime.now(UTC))  # due at once, as it was before
    assert (record.event, record.attempts) == (received(event), 1)
    database.dead_letter(event.event_id, "ConnectionError: still down")
    assert [(d.event_id, d.attempts) for d in database.dead_letters()] == [(event.event_id, 2)]


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteDatabase(path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreFailure, match="schema version"):
        SqliteDatabase(path)


def test_a_file_that_is_not_a_database_is_a_store_failure(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, " * 100)
    with pytest.raises(StoreFailure, match="not a database"):
        SqliteDatabase(path)


def test_an_in_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        SqliteDatabase(":memory:")


def test_a_held_write_lock_makes_the_store_unavailable_after_the_busy_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    database = SqliteDatabase(path, busy_timeout_ms=50)
    task = make_task()
    with with_workspace(database)(WORKSPACE_ID) as uow:
        uow.tasks.add(task)
        uow.outbox.add(created_event(task))
        uow.commit()

    other_writer = sqlite3.connect(path, isolation_level=None)
    try:
        other_writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable), SqliteUnitOfWorkFactory(database)():
            pass  # pragma: no cover - entering must fail
        # WAL: the dispatcher still reads while a writer holds the lock.
        assert [r.event.task_id for r in database.pending(10)] == [task.task_id]
    finally:
        other_writer.close()


def test_get_many_is_one_query_per_chunk_of_ids(tmp_path: Path) -> None:
    database = TracingDatabase(tmp_path / "traced.db")
    ids = [uuid4() for _ in range(2 * ID_CHUNK_SIZE + 1)]
    with SqliteUnitOfWorkFactory(database)(WORKSPACE_ID) as uow:
        database.statements.clear()
        uow.tasks.get_many(ids)
        reads = [s for s in database.statements if s.startswith("SELECT")]
        database.statements.clear()
        uow.tasks.dependencies_of(ids)
        edge_reads = [s for s in database.statements if s.startswith("SELECT")]
    assert len(reads) == 3
    assert len(edge_reads) == 3


def test_dependencies_of_keeps_the_declared_order(tmp_path: Path) -> None:
    """Not part of the port's contract, but it makes cycle paths reported by SQLite the same
    as the in-memory store's."""
    deps = [make_task() for _ in range(5)]
    task = make_task(dependencies=tuple(d.task_id for d in reversed(deps)))
    factory = with_workspace(SqliteDatabase(tmp_path / "order.db"))
    with factory(WORKSPACE_ID) as uow:
        for t in (*deps, task):
            uow.tasks.add(t)
        uow.commit()
    with factory(WORKSPACE_ID) as uow:
        assert uow.tasks.dependencies_of([task.task_id]) == {task.task_id: task.dependencies}


def test_using_the_repository_outside_its_unit_of_work_is_a_clear_error(tmp_path: Path) -> None:
    uow = SqliteUnitOfWorkFactory(SqliteDatabase(tmp_path / "x.db"))(WORKSPACE_ID)
    with pytest.raises(RuntimeError, match="context manager"):
        uow.tasks.get(uuid4())
    with pytest.raises(RuntimeError, match="context manager"):
        uow.workspaces.get(WORKSPACE_ID)


def test_bootstrap_wires_sqlite_by_default_with_the_dispatcher_on_the_same_file(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "does" / "not" / "exist" / "yet"
    runtime = build_runtime(Settings(store="sqlite", data_dir=data_dir, db_path=None))
    assert Settings.model_fields["store"].default == "sqlite"

    workspace = runtime.workspaces.create(OWNER, CreateWorkspace(name="Wired"))
    task = runtime.service.create(Access(workspace.workspace_id, OWNER), CreateTask(title="wired"))

    assert (data_dir / "taskapi.db").is_file()
    assert runtime.dispatcher is not None
    subscriber = RecordingSubscriber()
    runtime.dispatcher.subscribe(subscriber)
    runtime.dispatcher.dispatch_pending()
    assert [e.task_id for e in subscriber.delivered] == [task.task_id]


def test_a_keyed_create_on_a_locked_database_is_unavailable_and_its_retry_creates_once(
    tmp_path: Path,
) -> None:
    # The Idempotency-Key record lives in the task store: a busy store is StoreUnavailable
    # (503 with Retry-After) for the record as for the task, never a StoreFailure (500).
    path = tmp_path / "locked.db"
    database = SqliteDatabase(path, busy_timeout_ms=50)
    factory = SqliteUnitOfWorkFactory(database)
    codec = PageTokenCodec(b"sqlite-store-test")
    clock, access = (lambda: datetime.now(UTC)), Access(uuid4(), OWNER)
    workspaces = WorkspaceService(
        uow_factory=factory, clock=clock, new_id=lambda: access.workspace_id, page_tokens=codec
    )
    workspaces.create(OWNER, CreateWorkspace(name="Locked"))
    service = TaskService(uow_factory=factory, clock=clock, new_id=uuid4, page_tokens=codec)
    command = CreateTask(title="after the lock")
    other_writer = sqlite3.connect(path, isolation_level=None)
    try:
        other_writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable) as busy:
            service.create_once(access, command, "locked-1")
    finally:
        other_writer.close()
    created = service.create_once(access, command, "locked-1")
    replayed = service.create_once(access, command, "locked-1")

    assert busy.value.retry_after_seconds == 1
    assert (created.replayed, replayed.replayed) == (False, True)
    assert replayed.task == created.task
    assert len(database.pending(10)) == 1


def test_every_read_is_an_index_search_within_its_workspace(tmp_path: Path) -> None:
    """The listing indexes, the reverse edges and the member indexes are per workspace: no
    read the repositories make scans a table, and each listing reads its own index."""
    database = TracingDatabase(tmp_path / "plans.db")
    factory = with_workspace(database)
    task = make_task()
    start = {"created_at": task.created_at.isoformat(), "task_id": str(task.task_id)}
    joined = {"added_at": task.created_at.isoformat(), "workspace_id": str(WORKSPACE_ID)}
    with factory(WORKSPACE_ID) as uow:
        uow.tasks.add(task)
        uow.tasks.add(make_task(dependencies=(task.task_id,)))
        uow.commit()
        database.statements.clear()
        uow.tasks.get(task.task_id)
        uow.tasks.dependencies_of([task.task_id])
        uow.tasks.find(TaskFilter(), 10, None)
        uow.tasks.find(TaskFilter(status=Status.PENDING), 10, start)
        uow.tasks.find(TaskFilter(priority=Priority.HIGH), 10, None)
        uow.tasks.find(TaskFilter(assignee="ana@example.com"), 10, None)
        uow.tasks.find_dependents(task.task_id, 10, None)
        uow.workspaces.of_member(OWNER, 10, joined)
        uow.workspaces.members(WORKSPACE_ID, 10, None)
        uow.workspaces.owners(WORKSPACE_ID)
        uow.workspaces.all(10, None)
        reads = [s for s in database.statements if s.startswith("SELECT")]

    with closing(sqlite3.connect(database.path)) as connection:
        plans = {
            sql: [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]
            for sql in reads
        }
    assert len(plans) == 11
    for sql, plan in plans.items():
        assert all(not step.startswith("SCAN") for step in plan), (sql, plan)
    used = " ".join(step for plan in plans.values() for step in plan)
    for index in (
        "tasks_by_created (workspace_id=?)",
        "tasks_by_status (workspace_id=? AND status=? AND (created_at_us,task_id)>(?,?))",
        "tasks_by_priority (workspace_id=? AND priority=?)",
        "tasks_by_assignee (workspace_id=? AND assignee=?)",
        "task_dependencies_by_depends_on (workspace_id=? AND depends_on=? AND task_id>?)",
        "members_by_member (member=? AND (added_at_us,workspace_id)>(?,?))",
    ):
        assert index in used
