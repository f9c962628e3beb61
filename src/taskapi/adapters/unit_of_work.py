"""What the unit of work of every store shares: staging, the commit protocol, list positions.

Writes and events wait in ``StagedWrites``/``StagedEvents`` until ``commit()``, which hands them
to the store's ``_apply`` (all or nothing). A store supplies only ``_begin``, ``_apply`` and
``_end``. See docs/architecture.md#unit-of-work-and-the-outbox-no-lost-events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Final, Literal, Self
from uuid import UUID

from taskapi.domain.errors import (
    InvalidPageToken,
    TaskNotFound,
    VersionConflict,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.model import Task, to_utc
from taskapi.domain.text import clip
from taskapi.domain.workspaces import Membership, Workspace
from taskapi.service.ports import Event, Position, RecordedRequest

# What a store keeps of a failed delivery's error: enough to diagnose it, and bounded, so a
# huge exception message cannot bloat the outbox (or exceed DynamoDB's 400 KB item limit).
MAX_LAST_ERROR_LENGTH: Final = 1000


def bounded_error(error: str) -> str:
    """``error`` as an outbox record keeps it: cut to ``MAX_LAST_ERROR_LENGTH`` characters."""
    return clip(error, MAX_LAST_ERROR_LENGTH)


@dataclass(frozen=True, slots=True)
class StagedWrite:
    """A task write waiting for commit, conditional on the version it replaces
    (``expected_version`` 0: the task must not exist yet)."""

    task: Task
    expected_version: int
    delete: bool = False

    @property
    def kind(self) -> Literal["add", "update", "remove"]:
        if self.delete:
            return "remove"
        return "add" if self.expected_version == 0 else "update"

    def accepts(self, stored: Task | None) -> bool:
        """Whether the write's condition holds against the ``stored`` task."""
        if self.expected_version == 0:
            return stored is None
        return stored is not None and stored.version == self.expected_version

    def added_dependencies(self, stored: Task | None) -> set[UUID]:
        """The dependencies this write adds to the stored task (all of a new task's)."""
        if self.delete:
            return set()
        return set(self.task.dependencies) - set(stored.dependencies if stored else ())

    def rejection(self, stored: Task | None) -> TaskNotFound | VersionConflict:
        """The domain error of this write when its condition failed against ``stored``."""
        if stored is None:
            return TaskNotFound(self.task.task_id)
        return VersionConflict(stored, self.expected_version)


class StagedWrites:
    """The write half of a ``TaskRepository``: writes wait here, one per task, until the unit
    of work commits (reads keep seeing committed state)."""

    def __init__(self) -> None:
        self.staged: dict[UUID, StagedWrite] = {}

    def add(self, task: Task) -> None:
        self.staged[task.task_id] = StagedWrite(task, expected_version=0)

    def update(self, task: Task, expected_version: int) -> None:
        self.staged[task.task_id] = StagedWrite(task, expected_version)

    def remove(self, task: Task) -> None:
        self.staged[task.task_id] = StagedWrite(task, task.version, delete=True)

    def discard(self) -> None:
        """Forget the staged writes (after a commit, or when the unit of work ends)."""
        self.staged.clear()


class StagedEvents:
    """The ``OutboxWriter`` of a unit of work: events wait here, in order, for the commit."""

    def __init__(self) -> None:
        self.staged: list[Event] = []

    def add(self, event: Event) -> None:
        if any(staged.event_id == event.event_id for staged in self.staged):
            raise ValueError(f"event id {event.event_id} is already staged in this unit of work")
        self.staged.append(event)

    def discard(self) -> None:
        self.staged.clear()


class StagedRequests:
    """The write half of a ``RequestLog``: records wait here for the commit."""

    def __init__(self) -> None:
        self.staged: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> None:
        self.staged.append(record)

    def discard(self) -> None:
        self.staged.clear()


WorkspaceWriteKind = Literal["add", "update", "remove", "put_member", "remove_member"]


@dataclass(frozen=True, slots=True)
class StagedWorkspaceWrite:
    """A write to a workspace waiting for commit: the workspace's new version (or, for a
    remove, the one removed), conditional on the version it replaces (0: must not exist),
    with the member it adds or changes (``membership``) or removes (``member``)."""

    workspace: Workspace
    expected_version: int
    kind: WorkspaceWriteKind
    membership: Membership | None = None
    member: str | None = None

    def accepts(self, stored: Workspace | None) -> bool:
        if self.expected_version == 0:
            return stored is None
        return stored is not None and stored.version == self.expected_version

    def rejection(self, stored: Workspace | None) -> WorkspaceNotFound | WorkspaceVersionConflict:
        if stored is None:
            return WorkspaceNotFound(self.workspace.workspace_id)
        return WorkspaceVersionConflict(stored, self.expected_version)


class StagedWorkspaces:
    """The write half of a ``WorkspaceRepository``: one staged write per workspace."""

    def __init__(self) -> None:
        self.staged: dict[UUID, StagedWorkspaceWrite] = {}

    def add(self, workspace: Workspace, owner: Membership) -> None:
        self._stage(StagedWorkspaceWrite(workspace, 0, "add", membership=owner))

    def update(self, workspace: Workspace, expected_version: int) -> None:
        self._stage(StagedWorkspaceWrite(workspace, expected_version, "update"))

    def remove(self, workspace: Workspace) -> None:
        self._stage(StagedWorkspaceWrite(workspace, workspace.version, "remove"))

    def put_member(
        self, workspace: Workspace, expected_version: int, membership: Membership
    ) -> None:
        self._stage(
            StagedWorkspaceWrite(workspace, expected_version, "put_member", membership=membership)
        )

    def remove_member(self, workspace: Workspace, expected_version: int, member: str) -> None:
        self._stage(
            StagedWorkspaceWrite(workspace, expected_version, "remove_member", member=member)
        )

    def _stage(self, write: StagedWorkspaceWrite) -> None:
        self.staged[write.workspace.workspace_id] = write

    def discard(self) -> None:
        self.staged.clear()


@dataclass(frozen=True, slots=True)
class Staged:
    """Everything a unit of work hands its store's ``_apply`` on commit. ``workspace_id``:
    the workspace whose tasks it wrote (``None``: it was opened without one)."""

    workspace_id: UUID | None
    writes: list[StagedWrite]
    events: list[Event]
    requests: list[RecordedRequest]
    workspaces: list[StagedWorkspaceWrite]


def require_workspace(workspace_id: UUID | None) -> UUID:
    """The workspace a task repository reads and writes; a unit of work opened without one
    reaches no tasks."""
    if workspace_id is None:
        raise RuntimeError("this unit of work was opened without a workspace: it has no tasks")
    return workspace_id


def is_live(record: RecordedRequest | None, now: datetime) -> bool:
    """Whether ``record`` still holds its key at ``now``."""
    return record is not None and record.expires_at > now


class StagingUnitOfWork(ABC):
    """A unit of work that stages writes and events and applies them in ``commit()``.

    ``commit()`` hands ``_apply`` everything staged; if ``_apply`` raises, nothing was applied
    and the staged writes stay until the unit of work ends (a caller may inspect the store
    and leave). Leaving, with or without a commit, discards what is staged, then ``_end``s.
    """

    workspace_id: UUID | None
    tasks: StagedWrites
    outbox: StagedEvents
    requests: StagedRequests
    workspaces: StagedWorkspaces

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._discard()
        finally:
            self._end()

    def commit(self) -> None:
        strays = [
            w.task.task_id
            for w in self.tasks.staged.values()
            if w.task.workspace_id != self.workspace_id
        ]
        if strays:  # a bug in the caller: it would store a task under the wrong workspace
            raise ValueError(f"tasks of another workspace staged in this one: {strays}")
        self._apply(
            Staged(
                workspace_id=self.workspace_id,
                writes=list(self.tasks.staged.values()),
                events=list(self.outbox.staged),
                requests=list(self.requests.staged),
                workspaces=list(self.workspaces.staged.values()),
            )
        )
        self._discard()

    def _discard(self) -> None:
        self.tasks.discard()
        self.outbox.discard()
        self.requests.discard()
        self.workspaces.discard()

    def _begin(self) -> None:
        """Called on entering the unit of work (nothing by default)."""
        return None

    @abstractmethod
    def _apply(self, staged: Staged) -> None:
        """Apply every write, each conditional on its expected version (task writes also on
        their workspace still existing), store every event in the outbox and every request
        record, each conditional on its key being free: all of it, or (raising the error of
        the first failed condition) none of it."""

    def _end(self) -> None:
        """Called on leaving the unit of work, after the staging is discarded (nothing by
        default)."""
        return None


# -- list positions: every store lists in (created_at, task_id) order and resumes alike ----
# A position reaches a store from a signed page token; one of another shape (another store or
# release) is a bad token (400), never a server error.

_KEYS = frozenset({"created_at", "task_id"})


def position_after(created_at: datetime, task_id: UUID | str) -> Position:
    """The position that resumes a listing after the task with these keys."""
    return {"created_at": to_utc(created_at).isoformat(), "task_id": str(task_id)}


def parse_position(position: Position) -> tuple[datetime, UUID]:
    """The (created_at, task_id) a listing resumes after; ``InvalidPageToken`` if malformed."""
    try:
        if set(position) != _KEYS:
            raise ValueError(f"unexpected keys {sorted(position)}")
        return to_utc(datetime.fromisoformat(position["created_at"])), UUID(position["task_id"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidPageToken("it does not belong to this store") from exc


# Dependents are listed in task id order (as strings); a position is the last id of a page.


def dependent_position_after(task_id: UUID) -> Position:
    """The position that resumes a dependents listing after the dependent ``task_id``."""
    return {"dependent_id": str(task_id)}


def parse_dependent_position(position: Position) -> UUID:
    """The dependent id a dependents listing resumes after; ``InvalidPageToken`` if malformed."""
    try:
        if set(position) != {"dependent_id"}:
            raise ValueError(f"unexpected keys {sorted(position)}")
        return UUID(position["dependent_id"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidPageToken("it does not belong to this listing") from exc


# Members are listed in member order; a position is the last member of a page.


def member_position_after(member: str) -> Position:
    return {"member": member}


def parse_member_position(position: Position) -> str:
    """The member a members listing resumes after; ``InvalidPageToken`` if malformed."""
    member = position.get("member") if set(position) == {"member"} else None
    if not isinstance(member, str):
        raise InvalidPageToken("it does not belong to this listing")
    return member


# A member's workspaces are listed in the order they joined them: (added_at, workspace_id).


def joined_position_after(added_at: datetime, workspace_id: UUID) -> Position:
    return {"added_at": to_utc(added_at).isoformat(), "workspace_id": str(workspace_id)}


def parse_joined_position(position: Position) -> tuple[datetime, UUID]:
    """The (added_at, workspace_id) a listing of workspaces resumes after."""
    try:
        if set(position) != {"added_at", "workspace_id"}:
            raise ValueError(f"unexpected keys {sorted(position)}")
        added_at = to_utc(datetime.fromisoformat(position["added_at"]))
        return added_at, UUID(position["workspace_id"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidPageToken("it does not belong to this listing") from exc
