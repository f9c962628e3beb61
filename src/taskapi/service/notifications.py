"""The notification service: turns task events and the reminder schedule into notifications.

The rules live in ``domain.notifications``; this module reads what they need through the
ports and sends the results through a ``Notifier``. It does not de-duplicate events itself: the
consumer wraps ``handle`` in an idempotency guard keyed on ``event_id`` (see bootstrap), so a
redelivered event is not handled twice. Within one event, notifications are sent in order and a
failure raises, so the event is retried; that retry may repeat the ones sent before the failure
(at least once, never silently dropped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from taskapi.domain.event_readers import ReceivedEvent, ReceivedTaskUpdated
from taskapi.domain.model import Status, Task
from taskapi.domain.notifications import (
    Notification,
    assignment_notifications,
    is_completion,
    is_due_soon,
    reminder_notification,
    unblocked_notifications,
)
from taskapi.service.ports import (
    Clock,
    Notifier,
    Position,
    ReminderLog,
    TaskFilter,
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


class NotificationService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        notifier: Notifier,
        reminder_log: ReminderLog,
        clock: Clock,
        *,
        reminder_window: timedelta,
        page_size: int = 100,
    ) -> None:
        self._uow_factory = uow_factory
        self._notifier = notifier
        self._reminder_log = reminder_log
        self._clock = clock
        self._reminder_window = reminder_window
        self._page_size = page_size

    # -- events -------------------------------------------------------------------------

    def handle(self, event: ReceivedEvent) -> list[Notification]:
        """Send every notification ``event`` causes and return them."""
        notifications = assignment_notifications(event)
        if is_completion(event):
            notifications += self._unblocked_by(event)
        for notification in notifications:
            self._notifier.send(notification)
        return notifications

    def _unblocked_by(self, completion: ReceivedTaskUpdated) -> list[Notification]:
        # Two reads whatever the fan-out: the dependents (reverse edges), then all of their
        # dependencies at once. Sending happens after the unit of work is closed.
        with self._uow_factory() as uow:
            dependent_ids = uow.tasks.dependents_of(completion.task_id)
            if not dependent_ids:
                return []
            dependents = uow.tasks.get_many(dependent_ids)
            dependency_ids = {dep for task in dependents.values() for dep in task.dependencies}
            dependencies = uow.tasks.get_many(dependency_ids)
        ordered = [dependents[i] for i in dependent_ids if i in dependents]
        return unblocked_notifications(completion, ordered, dependencies)

    # -- reminders ----------------------------------------------------------------------

    def send_reminders(self) -> ReminderRun:
        """Remind the assignee of every open task due within the window, once per due date.

        A failed send is logged and skipped so one bad address cannot starve the others; it is
        not marked as reminded, so the next run tries again.
        """
        due = self.due_soon(self._clock())
        sent = already = 0
        failed: list[UUID] = []
        for task in due:
            due_at = task.due_at
            assert due_at is not None  # is_due_soon guarantees it
            if self._reminder_log.was_reminded(task.task_id, due_at):
                already += 1
                continue
            try:
                self._notifier.send(reminder_notification(task))
            except Exception as exc:  # one failure must not stop the run
                failed.append(task.task_id)
                logger.warning(
                    "reminder not sent; it is retried on the next run",
                    extra={"task_id": str(task.task_id), "error": f"{type(exc).__name__}: {exc}"},
                )
                continue
            self._reminder_log.mark_reminded(task.task_id, due_at)
            sent += 1
        return ReminderRun(
            due_soon=len(due), sent=sent, already_reminded=already, failed=tuple(failed)
        )

    def due_soon(self, now: datetime) -> list[Task]:
        """Open, assigned tasks due between ``now`` and the end of the reminder window.

        This pages through every pending and in-progress task: O(open tasks) per run through
        the port, and in the DynamoDB adapter, whose status filter is a FilterExpression on the
        created-at index, each run reads the index entries of all tasks (once per status). Fine
        for thousands of tasks and an hourly or daily schedule. At scale, index what a run
        needs: a sparse GSI holding only open, assigned tasks with a due date, keyed by due
        hour (written and removed with the task, in the same transaction), so a run queries just
        the window's partitions.
        """
        found: list[Task] = []
        for status in _OPEN_STATUSES:
            task_filter = TaskFilter(status=status)
            after: Position | None = None
            while True:
                with self._uow_factory() as uow:
                    page = uow.tasks.find(task_filter, self._page_size, after)
                found.extend(t for t in page.tasks if is_due_soon(t, now, self._reminder_window))
                if page.next_position is None:
                    break
                after = page.next_position
        return found
