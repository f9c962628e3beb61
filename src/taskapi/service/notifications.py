"""The notification service: turns task events and the reminder schedule into notifications.

The rules live in ``domain.notifications``; this module reads what they need through the ports,
always within one workspace (the event's; the reminder run visits them one at a time, never
scanning every task), and sends through a ``Notifier``. The consumer wraps ``handle`` in an
idempotency guard on ``event_id`` (see bootstrap). Within one event, notifications are sent in
order and a failure raises, so the event is retried (at least once, never silently dropped);
each sent notification is marked, so the retry sends only those not sent yet.
A version-1 event names no workspace: it is logged and ignored. See docs/events.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from taskapi.domain.event_readers import ReceivedEvent, ReceivedTaskUpdated
from taskapi.domain.model import Status, Task
from taskapi.domain.notifications import (
    Notification,
    assignment_notifications,
    is_assignment,
    is_completion,
    is_due_soon,
    reminder_notification,
    unblocked_notifications,
)
from taskapi.domain.workspaces import Workspace
from taskapi.service.ports import (
    Clock,
    Notifier,
    Position,
    ReminderLog,
    SentLog,
    TaskFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)

logger = logging.getLogger(__name__)

# Statuses a reminder can concern: a completed task is never "due soon".
_OPEN_STATUSES = (Status.PENDING, Status.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class ReminderRun:
    """What one scheduled reminder run did."""

    due_soon: int
    sent: int
    already_reminded: int
    failed: tuple[UUID, ...]  # task ids whose reminder could not be sent; retried next run
    workspaces: int = 0  # workspaces visited


class NotificationService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        notifier: Notifier,
        reminder_log: ReminderLog,
        clock: Clock,
        *,
        sent_log: SentLog,
        reminder_window: timedelta,
        page_size: int = 100,
        workspace_batch: int = 100,
        pre_workspace_events: UUID | None = None,
    ) -> None:
        """``pre_workspace_events``: the workspace a version-1 event (from before workspaces)
        is handled in, the one a store migration moved the old tasks into; ``None``: such
        events are ignored, with a warning."""
        if page_size < 1 or workspace_batch < 1:
            raise ValueError("page_size and workspace_batch must be at least 1")
        self._uow_factory = uow_factory
        self._notifier = notifier
        self._reminder_log = reminder_log
        self._sent_log = sent_log
        self._clock = clock
        self._reminder_window = reminder_window
        self._page_size = page_size
        self._workspace_batch = workspace_batch
        self._pre_workspace_events = pre_workspace_events

    @property
    def handles_pre_workspace_events(self) -> bool:
        """Whether a version-1 event is handled (in the configured workspace) or ignored."""
        return self._pre_workspace_events is not None

    # -- events -------------------------------------------------------------------------

    def handle(self, event: ReceivedEvent) -> list[Notification]:
        """Send every notification ``event`` causes, within its workspace, and return them."""
        if event.workspace_id is None and self._pre_workspace_events is not None:
            logger.info(
                "event predates workspaces: handled in the workspace of pre-workspace tasks",
                extra={
                    "event_id": str(event.event_id),
                    "workspace_id": str(self._pre_workspace_events),
                },
            )
            event = _in_workspace(event, self._pre_workspace_events)
        workspace_id = event.workspace_id
        if workspace_id is None:
            # Retrying cannot give it a workspace, and guessing one could notify about another
            # workspace's task: acknowledge it, visibly.
            logger.warning(
                "event predates workspaces (schema_version %d): ignored, nothing notified",
                event.schema_version,
                extra={
                    "event_id": str(event.event_id),
                    "event_type": event.event_type,
                    "task_id": str(event.task_id),
                },
            )
            return []
        assigned, completed = is_assignment(event), is_completion(event)
        if not (assigned or completed):
            return []  # most updates notify nobody: read nothing
        # Reads happen in the event's workspace only; sending, after the unit of work closed.
        with self._uow_factory(workspace_id) as uow:
            workspace_name = _name_of(uow.workspaces.get(workspace_id))
            notifications = assignment_notifications(event, workspace_name=workspace_name)
            if is_completion(event):
                notifications += self._unblocked_by(uow, event, workspace_name)
        for notification in notifications:
            # A retry of this event (an earlier attempt failed on a later notification) sends
            # only what was not sent yet.
            if self._sent_log.was_sent(notification.notification_id):
                continue
            self._notifier.send(notification)
            self._sent_log.mark_sent(notification.notification_id)
        return notifications

    def _unblocked_by(
        self, uow: UnitOfWork, completion: ReceivedTaskUpdated, workspace_name: str | None
    ) -> list[Notification]:
        # Two reads whatever the fan-out: the dependents (reverse edges), then all of their
        # dependencies at once.
        dependent_ids = uow.tasks.dependents_of(completion.task_id)
        if not dependent_ids:
            return []
        dependents = uow.tasks.get_many(dependent_ids)
        dependency_ids = {dep for task in dependents.values() for dep in task.dependencies}
        dependencies = uow.tasks.get_many(dependency_ids)
        ordered = [dependents[i] for i in dependent_ids if i in dependents]
        return unblocked_notifications(
            completion, ordered, dependencies, workspace_name=workspace_name
        )

    # -- reminders ----------------------------------------------------------------------

    def send_reminders(self) -> ReminderRun:
        """Remind the assignee of every open task due within the window, once per due date.

        A failed send is logged and skipped so one bad address cannot starve the others; it is
        not marked as reminded, so the next run tries again.
        """
        now = self._clock()
        due = sent = already = visited = 0
        failed: list[UUID] = []
        for workspace in self._every_workspace():
            visited += 1
            for task in self._due_soon_in(workspace.workspace_id, now):
                due += 1
                due_at = task.due_at
                assert due_at is not None  # is_due_soon guarantees it
                if self._reminder_log.was_reminded(task.workspace_id, task.task_id, due_at):
                    already += 1
                    continue
                try:
                    self._notifier.send(reminder_notification(task, workspace_name=workspace.name))
                except Exception as exc:  # one failure must not stop the run
                    failed.append(task.task_id)
                    logger.warning(
                        "reminder not sent; it is retried on the next run",
                        extra={
                            "workspace_id": str(task.workspace_id),
                            "task_id": str(task.task_id),
                            "error": f"{type(exc).__name__}: {exc}",
                        },
                    )
                    continue
                self._reminder_log.mark_reminded(task.workspace_id, task.task_id, due_at)
                sent += 1
        return ReminderRun(
            due_soon=due,
            sent=sent,
            already_reminded=already,
            failed=tuple(failed),
            workspaces=visited,
        )

    def due_soon(self, now: datetime) -> list[Task]:
        """Open, assigned tasks of every workspace due between ``now`` and the end of the
        reminder window, workspace by workspace (in workspace id order)."""
        return [
            task
            for workspace in self._every_workspace()
            for task in self._due_soon_in(workspace.workspace_id, now)
        ]

    def _every_workspace(self) -> Iterator[Workspace]:
        # A batch of workspaces per read, without reading any task; each batch is read in a
        # unit of work of its own, closed before the workspaces' tasks are listed.
        after: UUID | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.workspaces.all(self._workspace_batch, after)
            yield from batch
            if len(batch) < self._workspace_batch:
                return
            after = batch[-1].workspace_id

    def _due_soon_in(self, workspace_id: UUID, now: datetime) -> Iterator[Task]:
        """The open, assigned tasks of one workspace due within the window.

        This pages through the workspace's pending and in-progress tasks (its listing, never
        a scan of the table): O(open tasks) per run, and in the DynamoDB adapter, whose status
        filter is a FilterExpression on the workspace's created-at listing, each run reads the
        listing entries of all of the workspace's tasks (once per status). Fine for thousands
        of tasks and an hourly or daily schedule. At scale, index what a run needs: a sparse
        index holding only open, assigned tasks with a due date, keyed by due hour (written
        and removed with the task, in the same transaction), so a run queries just the
        window's partitions.
        """
        for status in _OPEN_STATUSES:
            task_filter = TaskFilter(status=status)
            after: Position | None = None
            while True:
                with self._uow_factory(workspace_id) as uow:
                    page = uow.tasks.find(task_filter, self._page_size, after)
                yield from (t for t in page.tasks if is_due_soon(t, now, self._reminder_window))
                if page.next_position is None:
                    break
                after = page.next_position


def _in_workspace(event: ReceivedEvent, workspace_id: UUID) -> ReceivedEvent:
    """A version-1 event as if it named ``workspace_id`` (at the top and in its task)."""
    task = event.task.model_copy(update={"workspace_id": workspace_id})
    return event.model_copy(update={"workspace_id": workspace_id, "task": task})


def _name_of(workspace: Workspace | None) -> str | None:
    # A workspace deleted since the event: its tasks were deleted first, but the event may
    # still be worth telling (an assignment); it is then named by its id only.
    return None if workspace is None else workspace.name
