"""Ports: what the service needs from the outside world, as Protocols.

Adapters implement them (memory, SQLite, DynamoDB); the service never knows which one it has.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from taskapi.domain.events import TaskCreated, TaskDeleted, TaskUpdated
from taskapi.domain.model import Priority, Status, Task
from taskapi.domain.workspaces import Membership, Role, Workspace

if TYPE_CHECKING:
    # Only the event consumers and the notifier use these: the API's write path never reads
    # an event back, and keeping them out keeps them off its cold start.
    from taskapi.domain.event_readers import ReceivedEvent
    from taskapi.domain.notifications import Notification

# An event as the service writes it (strict: validated by the models the schemas come from).
Event = TaskCreated | TaskUpdated | TaskDeleted

# A store's resume position for listing: JSON-serialisable. The service wraps it in a signed
# ``next_token``, so a client can pass it back but not forge or alter it.
Position = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskFilter:
    status: Status | None = None
    priority: Priority | None = None
    assignee: str | None = None

    def matches(self, task: Task) -> bool:
        """Whether ``task`` passes every filter that is set."""
        return (
            (self.status is None or task.status == self.status)
            and (self.priority is None or task.priority == self.priority)
            and (self.assignee is None or task.assignee == self.assignee)
        )


@dataclass(frozen=True, slots=True)
class TaskSlice:
    tasks: list[Task]
    next_position: Position | None


class TaskRepository(Protocol):
    """The tasks of one workspace (the unit of work's) and their reverse dependency edges.
    It never reads or writes another workspace's task, whatever the ids: two workspaces may
    even hold a task with the same id. Writes are staged until the unit of work commits;
    reads see committed state."""

    def get(self, task_id: UUID) -> Task | None: ...

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        """The tasks that exist among ``task_ids`` (one round trip per call where possible).
        ``graph_walk``: they are also the first level of a cycle check (``dependencies_of``
        reads the next ones), so a store that guards walks at commit starts that guard now."""
        ...

    def dependencies_of(self, task_ids: Collection[UUID]) -> Mapping[UUID, Sequence[UUID]]:
        """Dependency ids of each existing task among ``task_ids``, for graph walks."""
        ...

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        """Ids of the tasks that depend on ``task_id`` (the reverse edges), sorted."""
        ...

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        """Up to ``limit`` of the tasks that depend on ``task_id``, in task id order (as
        strings), resuming after ``after``: the dependents a page at a time."""
        ...

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        """Up to ``limit`` tasks matching the filter in a stable order (created_at, task_id)."""
        ...

    def add(self, task: Task) -> None:
        """Stage a new task (version 1) with its reverse edges."""
        ...

    def update(self, task: Task, expected_version: int) -> None:
        """Stage a new version; the commit fails with a conflict unless the stored version is
        still ``expected_version``. Reverse edges follow the new dependencies."""
        ...

    def remove(self, task: Task) -> None:
        """Stage a delete of ``task`` conditional on its version being unchanged."""
        ...


@dataclass(frozen=True, slots=True)
class WorkspaceRole:
    """A workspace as one of its members sees it: with the member's role."""

    workspace: Workspace
    role: Role


@dataclass(frozen=True, slots=True)
class WorkspaceSlice:
    workspaces: list[WorkspaceRole]
    next_position: Position | None


@dataclass(frozen=True, slots=True)
class MemberSlice:
    members: list[Membership]
    next_position: Position | None


class WorkspaceRepository(Protocol):
    """Workspaces and their members. A workspace and its members are one aggregate: every
    change of its members is also a new version of the workspace, so two concurrent changes
    of one workspace's members conflict (and cannot, between them, remove its last owner).
    Writes are staged until the unit of work commits; reads see committed state."""

    def get(self, workspace_id: UUID) -> Workspace | None: ...

    def membership(self, workspace_id: UUID, member: str) -> Membership | None:
        """``member``'s membership of the workspace (one read: every request makes it)."""
        ...

    def owners(self, workspace_id: UUID) -> list[str]:
        """The members whose role is owner, sorted."""
        ...

    def members(self, workspace_id: UUID, limit: int, after: Position | None) -> MemberSlice:
        """Up to ``limit`` members in member order, resuming after ``after``."""
        ...

    def of_member(self, member: str, limit: int, after: Position | None) -> WorkspaceSlice:
        """Up to ``limit`` of the workspaces ``member`` belongs to, in the order they joined
        them (``added_at``, then workspace id), resuming after ``after``."""
        ...

    def all(self, limit: int, after: UUID | None) -> list[Workspace]:
        """Up to ``limit`` workspaces in workspace id order (as strings), after the workspace
        ``after``: for jobs that visit every workspace in turn, without reading any task."""
        ...

    def add(self, workspace: Workspace, owner: Membership) -> None:
        """Stage a new workspace (version 1) with its first owner."""
        ...

    def update(self, workspace: Workspace, expected_version: int) -> None:
        """Stage a new version (e.g. a rename), conditional on ``expected_version``."""
        ...

    def remove(self, workspace: Workspace) -> None:
        """Stage the delete of the workspace and all its members, conditional on its version
        being unchanged; the commit raises ``WorkspaceNotEmpty`` if it holds tasks."""
        ...

    def put_member(
        self, workspace: Workspace, expected_version: int, membership: Membership
    ) -> None:
        """Stage adding a member or changing their role, with ``workspace`` as its new
        version, conditional on ``expected_version``."""
        ...

    def remove_member(self, workspace: Workspace, expected_version: int, member: str) -> None:
        """Stage removing ``member``, with ``workspace`` as its new version, conditional on
        ``expected_version``."""
        ...


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A create made with an ``Idempotency-Key``: what a retry with the same key is answered
    with, until ``expires_at``. ``key`` is already scoped to the caller; stores treat it as
    opaque."""

    key: str
    fingerprint: str  # of the request: a retry must carry the same one
    task: Task  # the task as it was created: the response to replay
    recorded_at: datetime
    expires_at: datetime


class RequestLog(Protocol):
    """The requests recorded with the tasks they created, in the same atomic write."""

    def get(self, key: str, now: datetime) -> RecordedRequest | None:
        """The live record of ``key`` (one that has not expired by ``now``), if any."""
        ...

    def add(self, record: RecordedRequest) -> None:
        """Stage a record; the commit raises ``RequestAlreadyRecorded`` (and writes nothing)
        if a live record holds the key by then."""
        ...


class RequestAlreadyRecorded(Exception):
    """A concurrent request with the same key committed first."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a request with key {key[:16]}... was recorded first")
        self.key = key


class OutboxWriter(Protocol):
    def add(self, event: Event) -> None:
        """Stage an event to be committed atomically with the task writes."""
        ...


class UnitOfWork(Protocol):
    """One atomic write: the task changes and their outbox events commit together or not at
    all. Used as a context manager; leaving without ``commit()`` discards staged writes.

    A unit of work opened for a workspace (``factory(workspace_id)``) reaches that
    workspace's tasks, and its commit raises ``WorkspaceNotFound`` if the workspace no longer
    exists by then; one opened without reaches no tasks (``tasks`` raises ``RuntimeError``)."""

    @property
    def tasks(self) -> TaskRepository: ...

    @property
    def workspaces(self) -> WorkspaceRepository: ...

    @property
    def outbox(self) -> OutboxWriter: ...

    @property
    def requests(self) -> RequestLog: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Apply every staged write atomically. Raises ``VersionConflict`` or
        ``WorkspaceVersionConflict`` (domain) when a conditional write lost the race."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, workspace_id: UUID | None = None) -> UnitOfWork: ...


@dataclass(slots=True)
class OutboxRecord:
    # Read back as a tolerant reader reads it: a row committed by a later minor release (new
    # fields, a new status) is delivered, not refused.
    event: ReceivedEvent
    attempts: int = 0
    last_error: str | None = field(default=None)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox event set aside: delivery failed for the last time, or the record could not
    be read (``last_error`` then starts with ``unreadable:``). Kept until redriven."""

    event_id: UUID
    event_type: str
    attempts: int
    last_error: str | None
    dead_lettered_at: datetime


class OutboxReader(Protocol):
    """The dispatcher's side of the outbox: committed events not yet delivered, each due now
    or at the time of its next retry, and the dead letters set aside."""

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxRecord]:
        """Up to ``limit`` undelivered events due at ``now`` (all of them if ``None``): new
        events in commit order, then retried ones in the order they fell due, so a retried
        event comes after the events that were pending when it failed. A record that cannot
        be read is moved to the dead letters instead, and the batch filled past it."""
        ...

    def mark_sent(self, event_id: UUID) -> None:
        """The event was delivered: it is neither pending nor a dead letter any more."""
        ...

    def mark_failed(self, event_id: UUID, error: str, retry_at: datetime | None = None) -> None:
        """Record a failed delivery attempt; the event stays pending, due again at
        ``retry_at`` (``None``: when it was due before)."""
        ...

    def dead_letter(self, event_id: UUID, error: str) -> None:
        """Record a last failed attempt and set the pending event aside: it is not offered
        again until redriven. (Nothing happens if it is not pending.)"""
        ...

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters, in the order they were set aside (all of them if ``None``)."""
        ...

    def redrive(self, event_id: UUID) -> bool:
        """Return a dead letter to the outbox as a new event (no attempts, behind the events
        pending now); ``False`` if it is not a dead letter."""
        ...


class PublishableEvent(Protocol):
    """What publishing an event needs of it: a task event as written, or the relay's envelope
    of one read back from the outbox (``domain.event_readers.EventEnvelope``)."""

    @property
    def event_id(self) -> UUID: ...

    @property
    def event_type(self) -> str: ...

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def correlation_id(self) -> str | None:
        """The correlation id of the request that caused the event, if it names one."""
        ...

    def model_dump_json(self) -> str:
        """The event's JSON: the bus's ``detail``."""
        ...


class EventPublisher(Protocol):
    """Publishes committed events beyond the process (EventBridge in AWS): the stream
    relay's port."""

    def publish(self, events: Sequence[PublishableEvent]) -> Mapping[UUID, str]:
        """Publish ``events``; return the reason each one that was not accepted failed, by
        event id (empty: all were accepted). The caller decides what to retry."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class IdSource(Protocol):
    def __call__(self) -> UUID: ...


class Notifier(Protocol):
    """Delivers one notification to its recipient (email in AWS, a mailbox file locally)."""

    def send(self, notification: Notification) -> None:
        """Deliver or raise; a raise leaves the cause to be retried."""
        ...


class ReminderLog(Protocol):
    """Remembers which (workspace, task, due date) were reminded, so each is reminded once.
    (Task ids are unique within a workspace only.)"""

    def was_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> bool: ...

    def mark_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> None: ...


class SentLog(Protocol):
    """Remembers which notifications were sent (by ``notification_id``, derived from their
    cause), so retrying an event whose later send failed does not send its earlier ones again."""

    def was_sent(self, notification_id: UUID) -> bool: ...

    def mark_sent(self, notification_id: UUID) -> None: ...


class StoreUnavailable(Exception):
    """The store refused the request for now (throttling); the client should retry later."""

    def __init__(self, message: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class StoreFailure(Exception):
    """The store failed in a way the client cannot fix (access, missing table, timeout)."""
