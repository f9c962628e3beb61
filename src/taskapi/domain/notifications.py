"""Who is told what, and when: the notification rules. Pure functions over events and tasks.

An assignment notifies the new assignee; a completion notifies the assignee of each dependent
it fully unblocks (at least once); a task due within the reminder window reminds its assignee
once per task and due date. Each notification's id is derived from its cause, so a re-run
yields the same ids. See docs/events.md#the-notification-service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeGuard
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from taskapi.domain.event_readers import (
    ReceivedEvent,
    ReceivedTask,
    ReceivedTaskCreated,
    ReceivedTaskUpdated,
)
from taskapi.domain.model import Assignee, Status, Task
from taskapi.domain.text import clip

# Namespace of the name-based (v5) notification ids. Fixed forever: changing it changes ids.
_NOTIFICATION_ID_NAMESPACE = UUID("5b0c8f55-2a71-4c36-9d0e-7c1f3f1de0a1")
_MAX_SUBJECT_TITLE = 120  # keep subjects readable in a mail client's list view


class NotificationKind(StrEnum):
    TASK_ASSIGNED = "task_assigned"
    TASK_UNBLOCKED = "task_unblocked"
    TASK_DUE_SOON = "task_due_soon"


class Notification(BaseModel):
    """One message to one person about one task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: UUID = Field(description="Derived from the cause: the same cause, same id.")
    kind: NotificationKind
    recipient: Assignee
    task_id: UUID
    subject: str
    body: str
    cause: str = Field(description="What triggered it: an event id, or a reminder's due date.")


def assignment_notifications(event: ReceivedEvent) -> list[Notification]:
    """The new assignee of a created or reassigned task (nobody for an unassignment)."""
    task = event.task
    newly_assigned = isinstance(event, ReceivedTaskCreated) or (
        isinstance(event, ReceivedTaskUpdated) and "assignee" in event.changes
    )
    if task.assignee is None or not newly_assigned:
        return []
    due = "no due date" if task.due_at is None else f"due {_when(task.due_at)}"
    return [
        _notification(
            NotificationKind.TASK_ASSIGNED,
            task,
            task.assignee,
            cause=f"event:{event.event_id}",
            subject=f"Assigned to you: {_subject_title(task)}",
            body=(
                f'You are now the assignee of "{task.title}" '
                f"(priority {task.priority}, {due}, status {task.status}).\n"
                f"Task id: {task.task_id}"
            ),
        )
    ]


def is_completion(event: ReceivedEvent) -> TypeGuard[ReceivedTaskUpdated]:
    """Whether the event is a task's transition to completed."""
    if not isinstance(event, ReceivedTaskUpdated):
        return False
    change = event.changes.get("status")
    return change is not None and change.current == Status.COMPLETED


def unblocked_notifications(
    completion: ReceivedTaskUpdated,
    dependents: Iterable[Task],
    dependencies: Mapping[UUID, Task],
) -> list[Notification]:
    """The assignees of ``dependents`` that the completion leaves with no open dependency.

    ``dependencies`` holds the stored dependencies of the dependents, as read after the event.
    A missing dependency counts as open: we only announce what we could verify. For the
    completed task itself, the event's snapshot is used unless the store holds a newer version,
    so an eventually consistent read that lags behind the event cannot hide the completion,
    while a task reopened since then does block.
    """
    done = completion.task
    notifications: list[Notification] = []
    for dependent in dependents:
        if dependent.assignee is None or dependent.status == Status.COMPLETED:
            continue
        if done.task_id not in dependent.dependencies:
            continue  # no longer a dependent (edited since the event)
        statuses = (_status_of(dep, done, dependencies) for dep in dependent.dependencies)
        if all(status == Status.COMPLETED for status in statuses):
            notifications.append(
                _notification(
                    NotificationKind.TASK_UNBLOCKED,
                    dependent,
                    dependent.assignee,
                    cause=f"event:{completion.event_id}",
                    subject=f"Ready to start: {_subject_title(dependent)}",
                    body=(
                        f'Every task that "{dependent.title}" depends on is completed; '
                        f'the last one was "{done.title}". It is ready to start.\n'
                        f"Task id: {dependent.task_id}"
                    ),
                )
            )
    return notifications


def is_due_soon(task: Task, now: datetime, window: timedelta) -> bool:
    """Open, assigned, and due between now and the end of the window."""
    return (
        task.status != Status.COMPLETED
        and task.assignee is not None
        and task.due_at is not None
        and now <= task.due_at <= now + window
    )


def reminder_notification(task: Task) -> Notification:
    """The reminder for a task that ``is_due_soon``; its id depends on the due date, so
    moving the due date produces a new reminder."""
    if task.assignee is None or task.due_at is None:
        raise ValueError("only an assigned task with a due date can be reminded")
    return _notification(
        NotificationKind.TASK_DUE_SOON,
        task,
        task.assignee,
        cause=f"due:{task.due_at.isoformat()}",
        subject=f"Due soon: {_subject_title(task)}",
        body=(
            f'"{task.title}" is due {_when(task.due_at)} and is still {task.status}.\n'
            f"Task id: {task.task_id}"
        ),
    )


def _status_of(
    dependency_id: UUID, done: ReceivedTask, stored: Mapping[UUID, Task]
) -> Status | str | None:
    # A status added after this release (kept as a string) is not "completed": it blocks.
    task = stored.get(dependency_id)
    if dependency_id == done.task_id and (task is None or task.version < done.version):
        return done.status
    return None if task is None else task.status


def _notification(
    kind: NotificationKind,
    task: Task | ReceivedTask,
    recipient: str,
    *,
    cause: str,
    subject: str,
    body: str,
) -> Notification:
    name = f"{kind}|{task.task_id}|{recipient}|{cause}"
    return Notification(
        notification_id=uuid5(_NOTIFICATION_ID_NAMESPACE, name),
        kind=kind,
        recipient=recipient,
        task_id=task.task_id,
        subject=subject,
        body=body,
        cause=cause,
    )


def _subject_title(task: Task | ReceivedTask) -> str:
    # A title may contain line breaks; a subject must be a single line.
    title = " ".join(task.title.split())
    return clip(title, _MAX_SUBJECT_TITLE)


def _when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")
