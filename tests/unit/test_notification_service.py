"""The notification service on the in-memory store, fed by the real task service's events.

Tasks are created and changed through ``TaskService``; its outbox is delivered to the
notification service by the real ``OutboxDispatcher``. Only the notifier and the reminder log
are fakes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import pytest

from taskapi.domain.model import Status, Task
from taskapi.domain.notifications import NotificationKind
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.notifications import NotificationService
from tests.fakes.builders import make_task, next_version, received, updated_event
from tests.fakes.notifications import InMemoryReminderLog, NotifierDown, RecordingNotifier
from tests.fakes.service import ServiceHarness, build_service

ANA = "ana@example.com"
BEN = "ben@example.com"
CAT = "cat@example.com"
WINDOW = timedelta(hours=24)


@dataclass
class World:
    tasks: ServiceHarness
    notifier: RecordingNotifier
    reminder_log: InMemoryReminderLog
    notifications: NotificationService
    dispatcher: OutboxDispatcher

    def create(self, title: str, **fields: object) -> Task:
        return self.tasks.service.create(CreateTask.model_validate({"title": title, **fields}))

    def update(self, task: Task, **changes: object) -> Task:
        current = self.tasks.service.get(task.task_id)
        command = UpdateTask.model_validate(changes)
        return self.tasks.service.update(task.task_id, command, current.version)

    def deliver(self) -> None:
        report = self.dispatcher.dispatch_pending()
        assert report.failed == 0

    def sent(self) -> list[tuple[NotificationKind, str, UUID]]:
        return [(n.kind, n.recipient, n.task_id) for n in self.notifier.sent]


def build_world(notifier: RecordingNotifier | None = None, page_size: int = 100) -> World:
    tasks = build_service()
    notifier = notifier or RecordingNotifier()
    reminder_log = InMemoryReminderLog()
    notifications = NotificationService(
        uow_factory=tasks.uow_factory,
        notifier=notifier,
        reminder_log=reminder_log,
        clock=tasks.clock,
        reminder_window=WINDOW,
        page_size=page_size,
    )
    dispatcher = OutboxDispatcher(tasks.store, [notifications.handle], clock=tasks.clock)
    return World(tasks, notifier, reminder_log, notifications, dispatcher)


@pytest.fixture
def world() -> World:
    return build_world()


# -- assignment -------------------------------------------------------------------------


def test_creating_an_assigned_task_notifies_the_assignee(world: World) -> None:
    task = world.create("Write the launch plan", assignee=ANA)

    world.deliver()

    assert world.sent() == [(NotificationKind.TASK_ASSIGNED, ANA, task.task_id)]


def test_reassigning_notifies_the_new_assignee(world: World) -> None:
    task = world.create("Review", assignee=ANA)
    world.deliver()

    world.update(task, assignee=BEN)
    world.deliver()

    assert world.sent() == [
        (NotificationKind.TASK_ASSIGNED, ANA, task.task_id),
        (NotificationKind.TASK_ASSIGNED, BEN, task.task_id),
    ]


def test_other_updates_and_deletions_notify_nobody(world: World) -> None:
    task = world.create("Review")
    world.update(task, title="Review the draft", priority="high")
    world.tasks.service.delete(task.task_id)

    world.deliver()

    assert world.sent() == []


# -- completion unblocks dependents -----------------------------------------------------


def test_completing_a_dependency_notifies_the_unblocked_dependents_assignee(world: World) -> None:
    design = world.create("Design")
    build = world.create("Build", dependencies=[str(design.task_id)], assignee=BEN)
    world.deliver()
    world.notifier.sent.clear()

    world.update(design, status="completed")
    world.deliver()

    assert world.sent() == [(NotificationKind.TASK_UNBLOCKED, BEN, build.task_id)]


def test_a_dependent_is_notified_only_when_its_last_dependency_completes(world: World) -> None:
    design = world.create("Design")
    budget = world.create("Budget")
    build = world.create(
        "Build", dependencies=[str(design.task_id), str(budget.task_id)], assignee=BEN
    )
    world.deliver()
    world.notifier.sent.clear()

    world.update(design, status="completed")
    world.deliver()
    assert world.sent() == []

    world.update(budget, status="in_progress")
    world.update(budget, status="completed")
    world.deliver()
    assert world.sent() == [(NotificationKind.TASK_UNBLOCKED, BEN, build.task_id)]


def test_one_completion_notifies_every_unblocked_dependent(world: World) -> None:
    design = world.create("Design")
    other = world.create("Other")
    build = world.create("Build", dependencies=[str(design.task_id)], assignee=BEN)
    test = world.create("Test", dependencies=[str(design.task_id)], assignee=CAT)
    world.create("Blocked", dependencies=[str(design.task_id), str(other.task_id)], assignee=ANA)
    world.deliver()
    world.notifier.sent.clear()

    world.update(design, status="completed")
    world.deliver()

    assert sorted(world.sent()) == sorted(
        [
            (NotificationKind.TASK_UNBLOCKED, BEN, build.task_id),
            (NotificationKind.TASK_UNBLOCKED, CAT, test.task_id),
        ]
    )


def test_a_completion_without_dependents_reads_nothing_more_and_sends_nothing(
    world: World,
) -> None:
    task = make_task(status=Status.IN_PROGRESS)

    sent = world.notifications.handle(
        received(updated_event(task, next_version(task, status=Status.COMPLETED)))
    )

    assert sent == []


def test_a_failed_send_raises_so_the_event_stays_pending() -> None:
    world = build_world(RecordingNotifier(fails_for=lambda n: n.recipient == ANA))
    world.create("Review", assignee=ANA)

    report = world.dispatcher.dispatch_pending()

    assert (report.delivered, report.failed) == (0, 1)
    [pending] = world.tasks.store.pending(10)
    assert pending.last_error is not None
    assert NotifierDown.__name__ in pending.last_error


# -- reminders --------------------------------------------------------------------------


def test_a_task_due_within_the_window_is_reminded_once(world: World) -> None:
    now = world.tasks.clock.now
    task = world.create("Pay rent", due_at=now + timedelta(hours=2), assignee=ANA)

    first = world.notifications.send_reminders()
    second = world.notifications.send_reminders()

    assert world.sent() == [(NotificationKind.TASK_DUE_SOON, ANA, task.task_id)]
    assert (first.due_soon, first.sent, first.already_reminded) == (1, 1, 0)
    assert (second.due_soon, second.sent, second.already_reminded) == (1, 0, 1)


def test_moving_the_due_date_earns_a_new_reminder(world: World) -> None:
    now = world.tasks.clock.now
    task = world.create("Pay rent", due_at=now + timedelta(hours=2), assignee=ANA)
    world.notifications.send_reminders()

    world.update(task, due_at=(now + timedelta(hours=5)).isoformat())
    run = world.notifications.send_reminders()

    assert run.sent == 1
    reminders = [n for n in world.notifier.sent if n.kind == NotificationKind.TASK_DUE_SOON]
    assert len(reminders) == 2
    assert reminders[0].notification_id != reminders[1].notification_id


def test_only_open_assigned_tasks_due_within_the_window_are_reminded(world: World) -> None:
    now = world.tasks.clock.now
    due = world.create("Due", due_at=now + timedelta(hours=1), assignee=ANA)
    in_progress = world.create(
        "Started", due_at=now + timedelta(hours=23), assignee=BEN, status="in_progress"
    )
    world.create("Later", due_at=now + WINDOW + timedelta(hours=1), assignee=ANA)
    world.create("Done", due_at=now + timedelta(hours=1), assignee=ANA, status="completed")
    world.create("Nobody's", due_at=now + timedelta(hours=1))
    world.create("No due date", assignee=ANA)
    world.create("Overdue", due_at=now - timedelta(hours=1), assignee=ANA)

    run = world.notifications.send_reminders()

    assert sorted(world.sent()) == sorted(
        [
            (NotificationKind.TASK_DUE_SOON, ANA, due.task_id),
            (NotificationKind.TASK_DUE_SOON, BEN, in_progress.task_id),
        ]
    )
    assert run.due_soon == 2


def test_the_reminder_run_pages_through_every_open_task() -> None:
    world = build_world(page_size=2)
    now = world.tasks.clock.now
    created = [
        world.create(f"Task {i}", due_at=now + timedelta(hours=1 + i), assignee=ANA)
        for i in range(5)
    ]
    world.update(created[0], status="in_progress")
    world.update(created[1], status="in_progress")

    run = world.notifications.send_reminders()

    assert run.sent == 5
    assert {n.task_id for n in world.notifier.sent} == {t.task_id for t in created}


def test_a_failed_reminder_does_not_stop_the_run_and_is_retried_next_time() -> None:
    down = {"ana@example.com"}
    world = build_world(RecordingNotifier(fails_for=lambda n: n.recipient in down))
    now = world.tasks.clock.now
    for_ana = world.create("A", due_at=now + timedelta(hours=1), assignee=ANA)
    world.create("B", due_at=now + timedelta(hours=1), assignee=BEN)

    first = world.notifications.send_reminders()
    down.clear()
    second = world.notifications.send_reminders()

    assert (first.sent, first.failed) == (1, (for_ana.task_id,))
    assert (second.sent, second.already_reminded, second.failed) == (1, 1, ())
    assert sorted(n.recipient for n in world.notifier.sent) == [ANA, BEN]


def test_every_task_reminded_before_is_counted_and_the_rest_still_go_out(world: World) -> None:
    now = world.tasks.clock.now
    for title in ("A", "B"):
        world.create(title, due_at=now + timedelta(hours=1), assignee=ANA)
    world.notifications.send_reminders()
    world.create("C", due_at=now + timedelta(hours=1), assignee=BEN)

    run = world.notifications.send_reminders()

    assert (run.due_soon, run.sent, run.already_reminded) == (3, 1, 2)
    assert [n.recipient for n in world.notifier.sent] == [ANA, ANA, BEN]


def test_a_failed_reminder_is_logged_with_its_task_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = build_world(RecordingNotifier(fails_for=lambda n: True))
    task = world.create("A", due_at=world.tasks.clock.now + timedelta(hours=1), assignee=ANA)
    caplog.set_level(logging.WARNING, logger="taskapi.service.notifications")

    world.notifications.send_reminders()

    [record] = [r for r in caplog.records if r.name == "taskapi.service.notifications"]
    assert record.getMessage() == "reminder not sent; it is retried on the next run"
    assert (getattr(record, "task_id", None), getattr(record, "error", None)) == (
        str(task.task_id),
        f"NotifierDown: cannot reach {ANA}",
    )
