"""The notification rules: pure functions, so plain values in and notifications out."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID

import pytest

from taskapi.domain.event_readers import read_event
from taskapi.domain.model import Status
from taskapi.domain.notifications import (
    NotificationKind,
    assignment_notifications,
    is_completion,
    is_due_soon,
    reminder_notification,
    unblocked_notifications,
)
from tests.fakes.builders import (
    created_event,
    deleted_event,
    make_task,
    next_version,
    received,
    updated_event,
)
from tests.fakes.clock import DEFAULT_NOW

ANA = "ana@example.com"
BEN = "ben@example.com"
OTHER_WORKSPACE = UUID("9e4d2b71-0c3a-4f58-b6e1-2a7d8c9f0e13")


# -- assignment -------------------------------------------------------------------------


def test_a_task_created_with_an_assignee_notifies_the_assignee() -> None:
    task = make_task(title="Ship it", assignee=ANA)

    [notification] = assignment_notifications(received(created_event(task)))

    assert notification.kind == NotificationKind.TASK_ASSIGNED
    assert notification.recipient == ANA
    assert notification.task_id == task.task_id
    assert "Ship it" in notification.subject


def test_a_task_created_without_an_assignee_notifies_nobody() -> None:
    assert assignment_notifications(received(created_event(make_task()))) == []


def test_a_reassignment_notifies_the_new_assignee_only() -> None:
    before = make_task(assignee=ANA)
    after = next_version(before, assignee=BEN)

    notifications = assignment_notifications(received(updated_event(before, after)))

    assert [n.recipient for n in notifications] == [BEN]


def test_a_first_assignment_by_update_notifies_the_assignee() -> None:
    before = make_task()
    after = next_version(before, assignee=ANA)

    assert [
        n.recipient for n in assignment_notifications(received(updated_event(before, after)))
    ] == [ANA]


def test_an_unassignment_notifies_nobody() -> None:
    before = make_task(assignee=ANA)
    after = next_version(before, assignee=None)

    assert assignment_notifications(received(updated_event(before, after))) == []


def test_an_update_that_leaves_the_assignee_alone_notifies_nobody() -> None:
    before = make_task(assignee=ANA)
    after = next_version(before, title="A better title")

    assert assignment_notifications(received(updated_event(before, after))) == []


def test_a_deletion_notifies_nobody() -> None:
    assert assignment_notifications(received(deleted_event(make_task(assignee=ANA)))) == []


def test_a_title_with_line_breaks_gives_a_single_line_subject() -> None:
    task = make_task(title="first line\nsecond\r\nthird", assignee=ANA)

    [notification] = assignment_notifications(received(created_event(task)))

    assert "\n" not in notification.subject
    assert "\r" not in notification.subject
    assert notification.subject.endswith("first line second third")


def test_notification_ids_depend_on_the_cause_only() -> None:
    event = created_event(make_task(assignee=ANA))
    again = assignment_notifications(received(event))[0]
    other_event = event.model_copy(update={"event_id": created_event(event.task).event_id})

    assert assignment_notifications(received(event))[0].notification_id == again.notification_id
    assert (
        assignment_notifications(received(other_event))[0].notification_id != again.notification_id
    )


# -- completion -------------------------------------------------------------------------


def test_is_completion_recognises_only_a_transition_to_completed() -> None:
    task = make_task(status=Status.IN_PROGRESS)
    completed = next_version(task, status=Status.COMPLETED)
    reopened = next_version(completed, status=Status.PENDING)

    assert is_completion(received(updated_event(task, completed))) is True
    assert is_completion(received(updated_event(completed, reopened))) is False
    assert is_completion(received(updated_event(task, next_version(task, title="x")))) is False
    assert is_completion(received(created_event(make_task(status=Status.COMPLETED)))) is False
    assert is_completion(received(deleted_event(completed))) is False


def test_completing_the_last_open_dependency_notifies_the_dependents_assignee() -> None:
    done_earlier = make_task(status=Status.COMPLETED)
    blocker = make_task(status=Status.IN_PROGRESS)
    dependent = make_task(
        title="Launch", dependencies=(done_earlier.task_id, blocker.task_id), assignee=ANA
    )
    completed = next_version(blocker, status=Status.COMPLETED)

    [notification] = unblocked_notifications(
        received(updated_event(blocker, completed)),
        [dependent],
        {done_earlier.task_id: done_earlier, blocker.task_id: completed},
    )

    assert notification.kind == NotificationKind.TASK_UNBLOCKED
    assert notification.recipient == ANA
    assert notification.task_id == dependent.task_id
    assert "Launch" in notification.subject


def test_a_dependent_with_another_open_dependency_is_not_notified() -> None:
    still_open = make_task(status=Status.PENDING)
    blocker = make_task(status=Status.IN_PROGRESS)
    dependent = make_task(dependencies=(still_open.task_id, blocker.task_id), assignee=ANA)
    completed = next_version(blocker, status=Status.COMPLETED)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)),
        [dependent],
        {still_open.task_id: still_open, blocker.task_id: completed},
    )

    assert notifications == []


def test_only_the_unblocked_and_assigned_dependents_are_notified() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    ready = make_task(dependencies=(blocker.task_id,), assignee=ANA)
    unassigned = make_task(dependencies=(blocker.task_id,))
    other_open = make_task()
    waiting = make_task(dependencies=(blocker.task_id, other_open.task_id), assignee=BEN)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)),
        [ready, unassigned, waiting],
        {blocker.task_id: completed, other_open.task_id: other_open},
    )

    assert [(n.recipient, n.task_id) for n in notifications] == [(ANA, ready.task_id)]


def test_a_lagging_read_of_the_completed_task_does_not_hide_the_completion() -> None:
    # An eventually consistent read can return the version before the event's.
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    dependent = make_task(dependencies=(blocker.task_id,), assignee=ANA)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)), [dependent], {blocker.task_id: blocker}
    )

    assert [n.recipient for n in notifications] == [ANA]


def test_a_task_reopened_since_the_event_blocks_again() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    reopened = next_version(completed, status=Status.PENDING)
    dependent = make_task(dependencies=(blocker.task_id,), assignee=ANA)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)), [dependent], {blocker.task_id: reopened}
    )

    assert notifications == []


def test_a_dependency_that_cannot_be_read_counts_as_open() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    unknown = make_task(status=Status.COMPLETED)
    dependent = make_task(dependencies=(blocker.task_id, unknown.task_id), assignee=ANA)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)), [dependent], {blocker.task_id: completed}
    )

    assert notifications == []


def test_completed_dependents_and_former_dependents_are_not_notified() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    completed = next_version(blocker, status=Status.COMPLETED)
    already_done = make_task(dependencies=(blocker.task_id,), assignee=ANA)
    already_done = already_done.model_copy(update={"status": Status.COMPLETED})
    edited_since = make_task(assignee=BEN)  # no longer depends on the blocker

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)), [already_done, edited_since], {}
    )

    assert notifications == []


# -- reminders --------------------------------------------------------------------------

WINDOW = timedelta(hours=24)


@pytest.mark.parametrize(
    ("due_in", "status", "assignee", "expected"),
    [
        (timedelta(hours=1), Status.PENDING, ANA, True),
        (timedelta(hours=23), Status.IN_PROGRESS, ANA, True),
        (WINDOW, Status.PENDING, ANA, True),  # the window's end is inside it
        (timedelta(0), Status.PENDING, ANA, True),
        (WINDOW + timedelta(seconds=1), Status.PENDING, ANA, False),
        (timedelta(seconds=-1), Status.PENDING, ANA, False),  # overdue: not "due soon"
        (timedelta(hours=1), Status.COMPLETED, ANA, False),
        (timedelta(hours=1), Status.PENDING, None, False),
    ],
)
def test_due_soon(due_in: timedelta, status: Status, assignee: str | None, expected: bool) -> None:
    task = make_task(due_at=DEFAULT_NOW + due_in, status=status, assignee=assignee)

    assert is_due_soon(task, DEFAULT_NOW, WINDOW) is expected


def test_a_task_without_a_due_date_is_never_due_soon() -> None:
    assert not is_due_soon(make_task(assignee=ANA), DEFAULT_NOW, WINDOW)


def test_a_reminder_names_the_due_date_and_changes_identity_with_it() -> None:
    task = make_task(title="File taxes", due_at=DEFAULT_NOW + timedelta(hours=3), assignee=ANA)
    moved = task.model_copy(update={"due_at": DEFAULT_NOW + timedelta(hours=5)})

    reminder = reminder_notification(task)

    assert reminder.kind == NotificationKind.TASK_DUE_SOON
    assert reminder.recipient == ANA
    assert "File taxes" in reminder.subject
    assert "2025-01-15 12:30 UTC" in reminder.body
    assert reminder_notification(task).notification_id == reminder.notification_id
    assert reminder_notification(moved).notification_id != reminder.notification_id


def test_a_task_without_assignee_or_due_date_cannot_be_reminded() -> None:
    with pytest.raises(ValueError, match="assigned task with a due date"):
        reminder_notification(make_task(assignee=ANA))


# -- workspaces -------------------------------------------------------------------------


def test_a_notification_is_in_the_events_workspace_and_names_it() -> None:
    task = make_task(title="Ship it", assignee=ANA, workspace_id=OTHER_WORKSPACE)

    [notification] = assignment_notifications(
        received(created_event(task)), workspace_name="Launch team"
    )

    assert notification.workspace_id == OTHER_WORKSPACE
    assert notification.subject == "[Launch team] Assigned to you: Ship it"
    assert f'Workspace: "Launch team" ({OTHER_WORKSPACE})' in notification.body


def test_a_workspace_name_is_one_line_in_a_subject() -> None:
    task = make_task(due_at=DEFAULT_NOW + timedelta(hours=1), assignee=ANA)

    reminder = reminder_notification(task, workspace_name="Ops  and\u2028support")

    assert reminder.subject.startswith("[Ops and support] Due soon: ")


def test_the_same_cause_in_another_workspace_is_another_notification() -> None:
    task = make_task(due_at=DEFAULT_NOW + timedelta(hours=1), assignee=ANA)
    same_id_elsewhere = task.model_copy(update={"workspace_id": OTHER_WORKSPACE})

    here, there = reminder_notification(task), reminder_notification(same_id_elsewhere)

    assert here.notification_id != there.notification_id
    assert (here.workspace_id, there.workspace_id) == (task.workspace_id, OTHER_WORKSPACE)


def test_a_dependent_of_another_workspace_is_never_announced() -> None:
    blocker = make_task(status=Status.IN_PROGRESS)
    elsewhere = make_task(
        dependencies=(blocker.task_id,), assignee=ANA, workspace_id=OTHER_WORKSPACE
    )
    completed = next_version(blocker, status=Status.COMPLETED)

    notifications = unblocked_notifications(
        received(updated_event(blocker, completed)), [elsewhere], {blocker.task_id: completed}
    )

    assert notifications == []


def test_a_version_1_event_cannot_become_a_notification() -> None:
    written = json.loads(created_event(make_task(assignee=ANA)).model_dump_json())
    del written["workspace_id"], written["task"]["workspace_id"]

    with pytest.raises(ValueError, match="before workspaces"):
        assignment_notifications(read_event({**written, "schema_version": 1}))
