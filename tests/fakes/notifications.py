"""Fakes for the notification service's ports (a recording notifier, a reminder log) and a
runtime that wires the real notification service around them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.idempotent_consumer import IdempotentEventConsumer
from taskapi.bootstrap import Notifications, Runtime
from taskapi.domain.notifications import Notification
from taskapi.service.notifications import NotificationService
from taskapi.service.ports import Notifier, ReminderLog, SentLog
from tests.fakes.service import ServiceHarness


class NotifierDown(RuntimeError):
    """The default error a ``RecordingNotifier`` raises while it is failing."""


class RecordingNotifier:
    """A ``Notifier`` that keeps what it was asked to send, and can fail on purpose.

    ``fails_for(notification)`` decides per call; by default nothing fails. Failed attempts are
    in ``attempts`` but not in ``sent``.
    """

    def __init__(self, fails_for: Callable[[Notification], bool] | None = None) -> None:
        self.fails_for = fails_for or (lambda _: False)
        self.attempts: list[Notification] = []
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.attempts.append(notification)
        if self.fails_for(notification):
            raise NotifierDown(f"cannot reach {notification.recipient}")
        self.sent.append(notification)

    def sent_to(self, recipient: str) -> list[Notification]:
        return [n for n in self.sent if n.recipient == recipient]


class InMemoryReminderLog:
    """A ``ReminderLog`` in a set."""

    def __init__(self) -> None:
        self.marked: set[tuple[UUID, UUID, datetime]] = set()

    def was_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> bool:
        return (workspace_id, task_id, due_at) in self.marked

    def mark_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> None:
        self.marked.add((workspace_id, task_id, due_at))


class InMemorySentLog:
    """A ``SentLog`` in a set."""

    def __init__(self) -> None:
        self.sent: set[UUID] = set()

    def was_sent(self, notification_id: UUID) -> bool:
        return notification_id in self.sent

    def mark_sent(self, notification_id: UUID) -> None:
        self.sent.add(notification_id)


def notification_runtime(
    tasks: ServiceHarness,
    notifier: Notifier,
    reminder_log: ReminderLog | None = None,
    reminder_window: timedelta = timedelta(hours=24),
    pre_workspace_events: UUID | None = None,
    sent_log: SentLog | None = None,
) -> Runtime:
    """A runtime for ``bootstrap.override_runtime``: the harness's task service, and the real
    notification service and idempotent consumer over the same in-memory store, with
    ``notifier`` (and an in-memory reminder log) as the only fakes."""
    service = NotificationService(
        uow_factory=tasks.uow_factory,
        notifier=notifier,
        reminder_log=reminder_log or InMemoryReminderLog(),
        sent_log=sent_log or InMemorySentLog(),
        clock=tasks.clock,
        reminder_window=reminder_window,
        pre_workspace_events=pre_workspace_events,
    )
    consumer = IdempotentEventConsumer(service.handle, InMemoryPersistenceLayer())
    return Runtime(
        service=tasks.service,
        workspaces=tasks.workspaces,
        dispatcher=None,
        notifications=Notifications(service=service, consumer=consumer, mailbox=None),
    )
