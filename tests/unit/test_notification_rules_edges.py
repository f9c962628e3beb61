"""The text people receive, and the order of the dependents a completion walks through."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from taskapi.domain.model import Priority, Status
from taskapi.domain.notifications import (
    assignment_notifications,
    reminder_notification,
    unblocked_notifications,
)
from tests.fakes.builders import created_event, make_task, next_version, received, updated_event
from tests.fakes.clock import DEFAULT_NOW

ANA = "ana@example.com"
BEN = "ben@example.com"


def test_an_assignment_message_gives_priority_due_date_and_status() -> None:
    task = make_task(
        title="Ship it",
        priority=Priority.HIGH,
        due_at=DEFAULT_NOW + timedelta(days=1, hours=2, minutes=5),
        assignee=ANA,
    )

    [notification] = assignment_notifications(received(created_event(task)))

    assert notification.subject == "Assigned to you: Ship it"
    assert notification.body == (
        'You are now the assignee of "Ship it" '
        "(priority high, due 2025-01-16 11:35 UTC, status pending).\n"
        f"Workspace: {task.workspace_id}\n"
        f"Task id: {task.task_id}"
    )


def test_an_assignment_message_says_when_there_is_no_due_date() -> None:
    task = make_task(title="Ship it", assignee=ANA)

    [notification] = assignment_notifications(received(created_event(task)))

    assert "(priority medium, no due date, status pending)" in notification.body


def test_a_reminder_message_says_when_the_task_is_due_and_its_status() -> None:
    task = make_task(
        title="File taxes",
        status=Status.IN_PROGRESS,
        due_at=DEFAULT_NOW + timedelta(hours=3),
        assignee=ANA,
    )

    reminder = reminder_notification(task)

    assert reminder.subject == "Due soon: File taxes"
    assert reminder.body == (
        f'"File taxes" is due 2025-01-15 12:30 UTC and is still in_progress.\n'
        f"Workspace: {task.workspace_id}\n"
        f"Task id: {task.task_id}"
    )


def test_only_an_assigned_task_with_a_due_date_can_be_reminded() -> None:
    message = "only an assigned task with a due date can be reminded"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        reminder_notification(make_task(due_at=DEFAULT_NOW))


def test_dependents_that_are_skipped_do_not_stop_the_ones_after_them() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    unassigned = make_task(dependencies=(blocker.task_id,))
    done = make_task(dependencies=(blocker.task_id,), assignee=BEN, status=Status.COMPLETED)
    edited_since = make_task(assignee=BEN)  # no longer depends on the blocker
    ready = make_task(title="Launch", dependencies=(blocker.task_id,), assignee=ANA)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)),
        [unassigned, done, edited_since, ready],
        {blocker.task_id: completed},
    )

    assert [(n.recipient, n.task_id) for n in notifications] == [(ANA, ready.task_id)]
    [notification] = notifications
    assert notification.subject == "Ready to start: Launch"
    assert notification.body == (
        'Every task that "Launch" depends on is completed; the last one was '
        f'"{blocker.title}". It is ready to start.\n'
        f"Workspace: {ready.workspace_id}\nTask id: {ready.task_id}"
    )
