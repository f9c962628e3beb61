"""The SQLite file across releases: a file the release before workspaces left (schema version
3, built by the schema code of that version and written with its statements) opens without
losing a task, an edge or an event; its tasks land in the memberless ``Default`` workspace,
which the SQL documented in docs/architecture.md claims."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from taskapi.adapters.sqlite.database import SqliteDatabase, connect
from taskapi.adapters.sqlite.repository import epoch_micros
from taskapi.adapters.sqlite.schema import (
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    SCHEMA_VERSION,
    ensure_schema,
)
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.domain.errors import DependenciesNotFound
from taskapi.domain.model import Priority, Status, Task
from taskapi.domain.workspaces import Role
from taskapi.service.ports import StoreFailure, TaskFilter
from tests.fakes.builders import (
    OWNER,
    created_event,
    make_membership,
    make_task,
    make_workspace,
    next_version,
    received,
)
from tests.fakes.clock import DEFAULT_NOW

V3 = 3
ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
EVERYTHING = TaskFilter()


def build_v3_file(path: Path, tasks: list[Task], events: int = 1) -> list[object]:
    """A file as the last release before workspaces left it: its schema (version 3), its
    tasks and edges written with its statements, pending events, an Idempotency-Key record.
    Returns the events, as the dispatcher should read them back."""
    with closing(connect(path)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        ensure_schema(connection, version=V3)
        for task in tasks:
            body = task.model_dump_json(exclude={"workspace_id"})  # what a v3 task was
            connection.execute(
                "INSERT INTO tasks (task_id, status, priority, assignee, created_at_us,"
                " version, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    str(task.task_id),
                    str(task.status),
                    str(task.priority),
                    task.assignee,
                    epoch_micros(task.created_at),
                    task.version,
                    body,
                ),
            )
            connection.executemany(
                "INSERT INTO task_dependencies (task_id, depends_on, position) VALUES (?, ?, ?)",
                [(str(task.task_id), str(d), i) for i, d in enumerate(task.dependencies)],
            )
        written = [created_event(task) for task in tasks[:events]]
        for event in written:
            connection.execute(
                "INSERT INTO outbox (event_id, event_type, payload, created_at)"
                " VALUES (?, ?, ?, ?)",
                (
                    str(event.event_id),
                    event.event_type,
                    event.model_dump_json(),
                    event.occurred_at.isoformat(),
                ),
            )
        if tasks:
            connection.execute(
                "INSERT INTO requests (request_key, fingerprint, task, expires_at_us)"
                " VALUES ('an-old-key', 'f', ?, ?)",
                (
                    tasks[0].model_dump_json(exclude={"workspace_id"}),
                    epoch_micros(datetime.now(UTC) + timedelta(hours=1)),
                ),
            )
        assert connection.execute("PRAGMA user_version").fetchone() == (V3,)
    return [received(event) for event in written]


def in_default(task: Task) -> Task:
    return task.model_copy(update={"workspace_id": DEFAULT_WORKSPACE_ID})


def a_v3_graph() -> list[Task]:
    """A diamond (top -> left, right -> bottom) and a loose task, of varied fields."""
    bottom = make_task(title="bottom", status=Status.COMPLETED, created_at=DEFAULT_NOW)
    left = make_task(
        title="left",
        dependencies=(bottom.task_id,),
        priority=Priority.HIGH,
        created_at=DEFAULT_NOW + timedelta(minutes=1),
    )
    right = make_task(
        title="right",
        dependencies=(bottom.task_id,),
        assignee="ana@example.com",
        created_at=DEFAULT_NOW + timedelta(minutes=2),
    )
    top = make_task(
        title="top",
        dependencies=(right.task_id, left.task_id),
        created_at=DEFAULT_NOW + timedelta(minutes=3),
    )
    loose = make_task(title="loose", created_at=DEFAULT_NOW + timedelta(minutes=4))
    return [bottom, left, right, top, next_version(loose, title="loose, renamed")]


def test_a_v3_file_keeps_every_task_edge_and_event_in_the_default_workspace(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v3.db"
    tasks = a_v3_graph()
    bottom, left, right, top, loose = tasks
    events = build_v3_file(path, tasks, events=2)

    database = SqliteDatabase(path)

    with closing(database.open_connection()) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with SqliteUnitOfWorkFactory(database)(DEFAULT_WORKSPACE_ID) as uow:
        workspace = uow.workspaces.get(DEFAULT_WORKSPACE_ID)
        assert workspace is not None
        assert (workspace.name, workspace.version) == (DEFAULT_WORKSPACE_NAME, 1)
        assert uow.workspaces.members(DEFAULT_WORKSPACE_ID, 10, None).members == []
        assert uow.workspaces.owners(DEFAULT_WORKSPACE_ID) == []
        assert [w.workspace_id for w in uow.workspaces.all(10, None)] == [DEFAULT_WORKSPACE_ID]

        assert uow.tasks.get_many([t.task_id for t in tasks]) == {
            t.task_id: in_default(t) for t in tasks
        }
        assert uow.tasks.find(EVERYTHING, 10, None).tasks == [in_default(t) for t in tasks]
        page = uow.tasks.find(EVERYTHING, 2, None)
        assert page.next_position is not None
        assert uow.tasks.find(EVERYTHING, 10, page.next_position).tasks == [
            in_default(t) for t in (right, top, loose)
        ]
        high = uow.tasks.find(TaskFilter(priority=Priority.HIGH), 10, None).tasks
        assert high == [in_default(left)]
        assigned = uow.tasks.find(TaskFilter(assignee="ana@example.com"), 10, None).tasks
        assert assigned == [in_default(right)]
        assert uow.tasks.dependencies_of([top.task_id]) == {top.task_id: top.dependencies}
        assert uow.tasks.dependents_of(bottom.task_id) == sorted(
            [left.task_id, right.task_id], key=str
        )
    assert [r.event for r in database.pending(10)] == events


def test_the_migrated_tasks_are_written_like_any_others(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    bottom, left, right, top, loose = tasks = a_v3_graph()
    build_v3_file(path, tasks)
    factory = SqliteUnitOfWorkFactory(SqliteDatabase(path))

    with factory(DEFAULT_WORKSPACE_ID) as uow:
        uow.tasks.update(next_version(in_default(top), dependencies=(left.task_id,)), 1)
        uow.tasks.remove(in_default(loose))
        uow.commit()
    with factory(DEFAULT_WORKSPACE_ID) as uow:
        uow.tasks.add(make_task(workspace_id=DEFAULT_WORKSPACE_ID, dependencies=(uuid4(),)))
        with pytest.raises(DependenciesNotFound):
            uow.commit()
    # Another workspace may hold a task with a migrated task's id, and sees none of them.
    other = make_workspace(workspace_id=uuid4())
    twin = make_task(task_id=bottom.task_id, workspace_id=other.workspace_id, title="twin")
    with factory() as uow:
        uow.workspaces.add(other, make_membership(other))
        uow.commit()
    with factory(other.workspace_id) as uow:
        assert uow.tasks.find(EVERYTHING, 10, None).tasks == []
        uow.tasks.add(twin)
        uow.commit()

    with factory(DEFAULT_WORKSPACE_ID) as uow:
        assert uow.tasks.dependents_of(right.task_id) == []
        assert uow.tasks.dependents_of(left.task_id) == [top.task_id]
        assert uow.tasks.get(loose.task_id) is None
        assert uow.tasks.get(bottom.task_id) == in_default(bottom)
    with factory(other.workspace_id) as uow:
        assert uow.tasks.get(bottom.task_id) == twin


def test_a_v3_file_without_tasks_gets_no_default_workspace(tmp_path: Path) -> None:
    build_v3_file(tmp_path / "empty.db", [])
    for path in (tmp_path / "empty.db", tmp_path / "new.db"):
        with SqliteUnitOfWorkFactory(SqliteDatabase(path))() as uow:
            assert uow.workspaces.all(10, None) == []


def test_an_edge_of_a_task_that_is_gone_is_not_migrated(tmp_path: Path) -> None:
    # Possible only if a v3 writer ran with foreign keys off; it must not block the migration.
    path = tmp_path / "v3.db"
    task = make_task()
    build_v3_file(path, [task])
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute(
            "INSERT INTO task_dependencies (task_id, depends_on, position) VALUES (?, ?, 0)",
            (str(uuid4()), str(task.task_id)),
        )

    with SqliteUnitOfWorkFactory(SqliteDatabase(path))(DEFAULT_WORKSPACE_ID) as uow:
        assert uow.tasks.dependents_of(task.task_id) == []
        assert uow.tasks.get(task.task_id) == in_default(task)


def test_the_old_idempotency_records_are_dropped(tmp_path: Path) -> None:
    # Keys are scoped to a workspace now: none of them could match again.
    path = tmp_path / "v3.db"
    build_v3_file(path, [make_task()])
    with SqliteUnitOfWorkFactory(SqliteDatabase(path))() as uow:
        assert uow.requests.get("an-old-key", datetime.now(UTC)) is None


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    build_v3_file(path, [make_task()])
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("UPDATE tasks SET body = 'not json'")

    with pytest.raises(StoreFailure, match="schema version 4"):
        SqliteDatabase(path)

    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (V3,)
        assert connection.execute("SELECT body FROM tasks").fetchall() == [("not json",)]
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert "workspaces" not in tables


def claim_script(member: str) -> str:
    """The claim SQL exactly as docs/architecture.md gives it, for ``member``."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    found = re.search(r"<!-- claim-default-workspace -->\n```sql\n(.*?)```", text, re.DOTALL)
    assert found is not None, "the claim SQL block is gone from docs/architecture.md"
    return found.group(1).replace("'MEMBER'", f"'{member}'")


def test_the_documented_sql_claims_the_default_workspace(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    (task,) = tasks = [make_task()]
    build_v3_file(path, tasks)
    database = SqliteDatabase(path)

    # As `sqlite3 -bail` runs it: a connection of its own, foreign keys off until it says so.
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.executescript(claim_script(OWNER))

    with SqliteUnitOfWorkFactory(database)(DEFAULT_WORKSPACE_ID) as uow:
        membership = uow.workspaces.membership(DEFAULT_WORKSPACE_ID, OWNER)
        workspace = uow.workspaces.get(DEFAULT_WORKSPACE_ID)
        mine = uow.workspaces.of_member(OWNER, 10, None).workspaces
        assert uow.tasks.get(task.task_id) == in_default(task)
    assert membership is not None
    assert membership.role == Role.OWNER
    assert workspace is not None
    assert workspace.version == 2
    assert workspace.updated_at >= workspace.created_at
    assert [(w.workspace, w.role) for w in mine] == [(workspace, Role.OWNER)]


def test_the_documented_sql_changes_nothing_without_a_default_workspace(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteDatabase(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            connection.executescript(claim_script(OWNER))
        connection.execute("ROLLBACK")  # what `sqlite3 -bail` exiting does
        assert connection.execute("SELECT count(*) FROM members").fetchone() == (0,)


def test_the_file_itself_keeps_tasks_inside_existing_workspaces(tmp_path: Path) -> None:
    # The foreign key behind the unit of work's checks, for whoever writes the file directly.
    path = tmp_path / "fk.db"
    database = SqliteDatabase(path)
    workspace = make_workspace(workspace_id=uuid4())
    factory = SqliteUnitOfWorkFactory(database)
    with factory() as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()
    with factory(workspace.workspace_id) as uow:
        uow.tasks.add(make_task(workspace_id=workspace.workspace_id))
        uow.commit()
    with closing(database.open_connection()) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            connection.execute(
                "INSERT INTO tasks (workspace_id, task_id, status, priority, created_at_us,"
                " version, body) VALUES (?, ?, 'pending', 'low', 0, 1, '{}')",
                (str(uuid4()), str(uuid4())),
            )
        connection.execute("DELETE FROM members")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            connection.execute("DELETE FROM workspaces")
