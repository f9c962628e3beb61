"""Who is told what, and when: the notification rules. Pure functions over events and tasks.

An assignment notifies the new assignee; a completion notifies the assignee of each dependent
it fully unblocks (at least once); a task due within the reminder window reminds its assignee
once per task and due date. Everything happens within one workspace, which every notification
names. Each notification's id is derived from its cause, so a re-run yields the same ids.
See docs/events.md#the-notification-service.
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
    """One message to one person about one task of one workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: UUID = Field(description="Derived from the cause: the same cause, same id.")
    kind: NotificationKind
    recipient: Assignee
    workspace_id: UUID
    task_id: UUID
    subject: str
    body: str
    cause: str = Field(description="What triggered it: an event id, or a reminder's due date.")
    correlation_id: str | None = Field(
        default=None, description="The correlation id of the event that caused it, if any."
    )


def is_assignment(event: ReceivedEvent) -> bool:
    """Whether the event gives its task a new assignee (a creation with one, a reassignment)."""
    newly_assigned = isinstance(event, ReceivedTaskCreated) or (
        isinstance(event, ReceivedTaskUpdated) and "assignee" in event.changes
    )
    return newly_assigned and event.task.assignee is not None


def assignment_notifications(
    event: ReceivedEvent, *, workspace_name: str | None = None
) -> list[Notification]:
    """The new assignee of a created or reassigned task (nobody for an unassignment), told
    in the event's workspace (``workspace_name``: how to call it; ``None`` if it is gone)."""
    task = event.task
    if task.assignee is None or not is_assignment(event):
        return []
    workspace_id = _workspace_of(event)
    due = "no due date" if task.due_at is None else f"due {_when(task.due_at)}"
    return [
        _notification(
            NotificationKind.TASK_ASSIGNED,
            workspace_id,
            task,
            task.assignee,
            cause=f"event:{event.event_id}",
            correlation_id=event.correlation_id,
            subject=_subject("Assigned to you", task, workspace_name),
            body=(
                f'You are now the assignee of "{task.title}" '
                f"(priority {task.priority}, {due}, status {task.status}).\n"
                + _footer(workspace_id, workspace_name, task)
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
    *,
    workspace_name: str | None = None,
) -> list[Notification]:
    """The assignees of ``dependents`` that the completion leaves with no open dependency.

    All of them are tasks of the completion's workspace (a dependency never crosses one);
    one of another workspace is never announced. ``dependencies`` holds the stored
    dependencies of the dependents, as read after the event.
    A missing dependency counts as open: we only announce what we could verify. For the
    completed task itself, the event's snapshot is used unless the store holds a newer version,
    so an eventually consistent read that lags behind the event cannot hide the completion,
    while a task reopened since then does block.
    """
    done = completion.task
    workspace_id = _workspace_of(completion)
    notifications: list[Notification] = []
    for dependent in dependents:
        if dependent.workspace_id != workspace_id:
            continue  # not a dependent of this task: the same id in another workspace
        if dependent.assignee is None or dependent.status == Status.COMPLETED:
            continue
        if done.task_id not in dependent.dependencies:
            continue  # no longer a dependent (edited since the event)
        statuses = (_status_of(dep, done, dependencies) for dep in dependent.dependencies)
        if all(status == Status.COMPLETED for status in statuses):
            notifications.append(
                _notification(
                    NotificationKind.TASK_UNBLOCKED,
                    workspace_id,
                    dependent,
                    dependent.assignee,
                    cause=f"event:{completion.event_id}",
                    correlation_id=completion.correlation_id,
                    subject=_subject("Ready to start", dependent, workspace_name),
                    body=(
                        f'Every task that "{dependent.title}" depends on is completed; '
                        f'the last one was "{done.title}". It is ready to start.\n'
                        + _footer(workspace_id, workspace_name, dependent)
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


def reminder_notification(task: Task, *, workspace_name: str | None = None) -> Notification:
    """The reminder for a task that ``is_due_soon``; its id depends on the due date, so
    moving the due date produces a new reminder."""
    if task.assignee is None or task.due_at is None:
        raise ValueError("only an assigned task with a due date can be reminded")
    return _notification(
        NotificationKind.TASK_DUE_SOON,
        task.workspace_id,
        task,
        task.assignee,
        cause=f"due:{task.due_at.isoformat()}",
        subject=_subject("Due soon", task, workspace_name),
        body=(
            f'"{task.title}" is due {_when(task.due_at)} and is still {task.status}.\n'
            + _footer(task.workspace_id, workspace_name, task)
        ),
    )


def _workspace_of(event: ReceivedEvent) -> UUID:
    if event.workspace_id is None:
        raise ValueError(
            f"event {event.event_id} is of schema version {event.schema_version}, from before "
            "workspaces: there is no workspace to notify in"
        )
    return event.workspace_id


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
    workspace_id: UUID,
    task: Task | ReceivedTask,
    recipient: str,
    *,
    cause: str,
    subject: str,
    body: str,
    correlation_id: str | None = None,
) -> Notification:
    # Task ids are unique within a workspace only: the workspace is part of the cause.
    name = f"{kind}|{workspace_id}|{task.task_id}|{recipient}|{cause}"
    return Notification(
        notification_id=uuid5(_NOTIFICATION_ID_NAMESPACE, name),
        kind=kind,
        recipient=recipient,
        workspace_id=workspace_id,
        task_id=task.task_id,
        subject=subject,
        body=body,
        cause=cause,
        correlation_id=correlation_id,
    )


def _subject(what: str, task: Task | ReceivedTask, workspace_name: str | None) -> str:
    # Which workspace first: the same title can be a task of two of the recipient's teams.
    prefix = "" if workspace_name is None else f"[{_one_line(workspace_name)}] "
    return f"{prefix}{what}: {clip(_one_line(task.title), _MAX_SUBJECT_TITLE)}"


def _footer(workspace_id: UUID, workspace_name: str | None, task: Task | ReceivedTask) -> str:
    named = f'"{workspace_name}" ({workspace_id})'
    workspace = str(workspace_id) if workspace_name is None else named
    return f"Workspace: {workspace}\nTask id: {task.task_id}"


def _one_line(text: str) -> str:
    # A title may contain line breaks; a subject must be a single line.
    return " ".join(text.split())


def _when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")
