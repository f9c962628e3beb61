"""Reads of the local store: a workspace's tasks by id, BFS levels of its dependency graph,
dependents, and keyset-paginated listing; workspaces and their members. Every task query names
the workspace (the first column of every task key and index), so none can reach another
workspace's task. Writes are staged (``StagedWrites``, ``StagedWorkspaces``) until the unit of
work commits. See docs/architecture.md.
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
    StagedWorkspaces,
    StagedWrites,
    dependent_position_after,
    joined_position_after,
    member_position_after,
    parse_dependent_position,
    parse_joined_position,
    parse_member_position,
    parse_position,
    position_after,
    require_workspace,
)
from taskapi.domain.model import FROM_STORE, Task, to_utc
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.ports import (
    MemberSlice,
    Position,
    RecordedRequest,
    TaskFilter,
    TaskSlice,
    WorkspaceRole,
    WorkspaceSlice,
)

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


def from_epoch_micros(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


def _query(session: Session, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    with store_errors():
        return session.require().execute(sql, params).fetchall()


class SqliteTaskRepository(StagedWrites):
    """The tasks of one workspace (``None``: a unit of work without one reaches none)."""

    def __init__(self, session: Session, workspace_id: UUID | None) -> None:
        super().__init__()
        self._session = session
        self._workspace_id = workspace_id

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run ``sql``, whose first parameter is the workspace, with ``params`` after it."""
        self._session.require()
        workspace_id = str(require_workspace(self._workspace_id))
        return _query(self._session, sql, (workspace_id, *params))

    def get(self, task_id: UUID) -> Task | None:
        rows = self._query(
            "SELECT body FROM tasks WHERE workspace_id = ? AND task_id = ?", (str(task_id),)
        )
        return Task.model_validate_json(rows[0][0], context=FROM_STORE) if rows else None

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        # Units of work hold the store's write lock: a walk needs no guard of its own.
        del graph_walk
        found: dict[UUID, Task] = {}
        for chunk in id_chunks(task_ids):
            marks = placeholders(len(chunk))
            sql = (
                "SELECT body FROM tasks"  # noqa: S608 - "?" marks only
                f" WHERE workspace_id = ? AND task_id IN ({marks})"
            )
            for (body,) in self._query(sql, chunk):
                task = Task.model_validate_json(body, context=FROM_STORE)
                found[task.task_id] = task
        return found

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        edges: dict[UUID, list[UUID]] = {}
        for chunk in id_chunks(task_ids):
            # LEFT JOIN: an existing task without dependencies still appears (with none).
            marks = placeholders(len(chunk))
            sql = (
                "SELECT t.task_id, d.depends_on FROM tasks AS t"  # noqa: S608 - "?" marks only
                " LEFT JOIN task_dependencies AS d"
                " ON d.workspace_id = t.workspace_id AND d.task_id = t.task_id"
                f" WHERE t.workspace_id = ? AND t.task_id IN ({marks})"
                " ORDER BY t.task_id, d.position"
            )
            for task_id, depends_on in self._query(sql, chunk):
                deps = edges.setdefault(UUID(task_id), [])
                if depends_on is not None:
                    deps.append(UUID(depends_on))
        return {task_id: tuple(deps) for task_id, deps in edges.items()}

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        rows = self._query(
            "SELECT task_id FROM task_dependencies WHERE workspace_id = ? AND depends_on = ?"
            " ORDER BY task_id",
            (str(task_id),),
        )
        return [UUID(dependent) for (dependent,) in rows]

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        # One range scan of the reverse-edge index (workspace_id, depends_on, task_id), one
        # row more than the page to tell whether another page exists.
        sql = (
            "SELECT t.body FROM task_dependencies AS d JOIN tasks AS t"
            " ON t.workspace_id = d.workspace_id AND t.task_id = d.task_id"
            " WHERE d.workspace_id = ? AND d.depends_on = ? AND d.task_id > ?"
            " ORDER BY d.task_id LIMIT ?"
        )
        start = "" if after is None else str(parse_dependent_position(after))
        rows = self._query(sql, (str(task_id), start, limit + 1))
        tasks = [Task.model_validate_json(body, context=FROM_STORE) for (body,) in rows[:limit]]
        more = len(rows) > limit
        return TaskSlice(
            tasks=tasks, next_position=dependent_position_after(tasks[-1].task_id) if more else None
        )

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        conditions = ["workspace_id = ?"]  # the workspace is _query's first parameter
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
        where = f"WHERE {' AND '.join(conditions)}"
        # One extra row tells whether another page exists without a COUNT query.
        # Only fixed fragments are interpolated; every value is a bound parameter.
        order = "ORDER BY created_at_us, task_id LIMIT ?"
        sql = f"SELECT body FROM tasks {where} {order}"  # noqa: S608
        rows = self._query(sql, [*params, limit + 1])
        tasks = [Task.model_validate_json(body, context=FROM_STORE) for (body,) in rows[:limit]]
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
        rows = _query(
            self._session,
            "SELECT fingerprint, task, expires_at_us FROM requests"
            " WHERE request_key = ? AND expires_at_us > ?",
            (key, epoch_micros(now)),
        )
        if not rows:
            return None
        fingerprint, task, expires_at_us = rows[0]
        return RecordedRequest(
            key=key,
            fingerprint=fingerprint,
            task=Task.model_validate_json(task, context=FROM_STORE),
            recorded_at=now,
            expires_at=from_epoch_micros(expires_at_us),
        )


_WORKSPACE_COLUMNS = "w.workspace_id, w.name, w.created_at_us, w.updated_at_us, w.version"


def _workspace(row: Sequence[Any]) -> Workspace:
    """The workspace of a row that starts with ``_WORKSPACE_COLUMNS``."""
    workspace_id, name, created_at_us, updated_at_us, version = row[:5]
    return Workspace(
        workspace_id=UUID(workspace_id),
        name=name,
        created_at=from_epoch_micros(created_at_us),
        updated_at=from_epoch_micros(updated_at_us),
        version=version,
    )


def _membership(workspace_id: str, member: str, role: str, added_at_us: int) -> Membership:
    return Membership(
        workspace_id=UUID(workspace_id),
        member=member,
        role=Role(role),
        added_at=from_epoch_micros(added_at_us),
    )


def read_workspace(connection: sqlite3.Connection, workspace_id: UUID) -> Workspace | None:
    """The stored workspace (for the repository, and for the commit's conditions)."""
    row = connection.execute(
        f"SELECT {_WORKSPACE_COLUMNS} FROM workspaces AS w WHERE w.workspace_id = ?",  # noqa: S608
        (str(workspace_id),),
    ).fetchone()
    return None if row is None else _workspace(row)


class SqliteWorkspaceRepository(StagedWorkspaces):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def get(self, workspace_id: UUID) -> Workspace | None:
        with store_errors():
            return read_workspace(self._session.require(), workspace_id)

    def membership(self, workspace_id: UUID, member: str) -> Membership | None:
        rows = _query(
            self._session,
            "SELECT workspace_id, member, role, added_at_us FROM members"
            " WHERE workspace_id = ? AND member = ?",
            (str(workspace_id), member),
        )
        return _membership(*rows[0]) if rows else None

    def owners(self, workspace_id: UUID) -> list[str]:
        rows = _query(
            self._session,
            "SELECT member FROM members WHERE workspace_id = ? AND role = ? ORDER BY member",
            (str(workspace_id), str(Role.OWNER)),
        )
        return [member for (member,) in rows]

    def members(self, workspace_id: UUID, limit: int, after: Position | None) -> MemberSlice:
        # A range scan of the primary key (workspace_id, member), one row more than the page.
        start = "" if after is None else parse_member_position(after)
        rows = _query(
            self._session,
            "SELECT workspace_id, member, role, added_at_us FROM members"
            " WHERE workspace_id = ? AND member > ? ORDER BY member LIMIT ?",
            (str(workspace_id), start, limit + 1),
        )
        page = [_membership(*row) for row in rows[:limit]]
        more = len(rows) > limit
        return MemberSlice(page, member_position_after(page[-1].member) if more else None)

    def of_member(self, member: str, limit: int, after: Position | None) -> WorkspaceSlice:
        # A range scan of members_by_member (member, added_at_us, workspace_id).
        conditions: list[str] = ["m.member = ?"]
        params: list[Any] = [member]
        if after is not None:
            added_at, workspace_id = parse_joined_position(after)
            conditions.append("(m.added_at_us, m.workspace_id) > (?, ?)")
            params.extend((epoch_micros(added_at), str(workspace_id)))
        sql = (
            f"SELECT {_WORKSPACE_COLUMNS}, m.role, m.added_at_us"  # noqa: S608 - fixed text
            " FROM members AS m JOIN workspaces AS w ON w.workspace_id = m.workspace_id"
            f" WHERE {' AND '.join(conditions)}"
            " ORDER BY m.added_at_us, m.workspace_id LIMIT ?"
        )
        rows = _query(self._session, sql, [*params, limit + 1])
        page = [WorkspaceRole(_workspace(row), Role(row[5])) for row in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return WorkspaceSlice(
            page,
            None
            if last is None
            else joined_position_after(from_epoch_micros(last[6]), UUID(last[0])),
        )

    def all(self, limit: int, after: UUID | None) -> list[Workspace]:
        rows = _query(
            self._session,
            f"SELECT {_WORKSPACE_COLUMNS} FROM workspaces AS w"  # noqa: S608 - fixed text
            " WHERE w.workspace_id > ? ORDER BY w.workspace_id LIMIT ?",
            ("" if after is None else str(after), limit),
        )
        return [_workspace(row) for row in rows]
