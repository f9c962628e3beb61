"""Edges of the task and notification services: lost races on an Idempotency-Key, what a
conflict reports, and an update that is two notifications at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskapi.domain.errors import DependenciesNotCompleted, VersionConflict
from taskapi.domain.model import Status, Task
from taskapi.domain.notifications import NotificationKind
from taskapi.service.commands import CreateTask, IdempotencyKey, UpdateTask
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.notifications import NotificationService
from taskapi.service.ports import RequestAlreadyRecorded, StoreUnavailable, UnitOfWorkFactory
from taskapi.service.tasks import Created
from tests.fakes.builders import OWNER, WORKSPACE_ID
from tests.fakes.notifications import InMemoryReminderLog, InMemorySentLog, RecordingNotifier
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits

KEY = "create-42"
COMMAND = CreateTask(title="Write the report")


def test_a_first_create_with_a_key_is_not_a_replay() -> None:
    harness = build_service()

    created = harness.tasks.create_once(COMMAND, KEY)

    assert created == Created(harness.tasks.get(created.task.task_id), replayed=False)


def lost_races(**failing: object) -> tuple[ServiceHarness, list[FailingCommits]]:
    """A service whose commits lose the race for ``KEY`` as ``failing`` says (FailingCommits)."""
    made: list[FailingCommits] = []

    def wrap(inner: UnitOfWorkFactory) -> UnitOfWorkFactory:
        scoped = IdempotencyKey(OWNER, WORKSPACE_ID, KEY).scoped()
        made.append(FailingCommits(inner, RequestAlreadyRecorded(scoped), **failing))
        return made[-1]

    return build_service(wrap=wrap), made


def test_a_create_that_lost_the_race_for_its_key_answers_with_the_winners_task() -> None:
    # The commit reports a duplicate key after the winner's record landed (here: the same
    # request, sent twice at once): the second pass finds it and replays it.
    harness, [commits] = lost_races(when="after")

    created = harness.tasks.create_once(COMMAND, KEY)

    assert created.replayed is True
    assert commits.attempts == 1
    assert [event.task_id for event in harness.events()] == [created.task.task_id]


def test_a_key_still_being_recorded_after_two_lost_races_is_a_retryable_refusal() -> None:
    harness, [commits] = lost_races(times=2)

    with pytest.raises(StoreUnavailable) as raised:
        harness.tasks.create_once(COMMAND, KEY)

    assert str(raised.value) == "a request with this Idempotency-Key is still being recorded"
    assert commits.attempts == 2
    assert harness.events() == []


def test_a_stale_delete_reports_both_versions() -> None:
    harness = build_service()
    task = harness.tasks.create(COMMAND)
    harness.tasks.update(task.task_id, UpdateTask(title="Renamed"), 1)

    with pytest.raises(VersionConflict) as raised:
        harness.tasks.delete(task.task_id, expected_version=1)

    assert raised.value.details == {"expected_version": 1, "current_version": 2}
    assert raised.value.message == (
        f"task {task.task_id} is at version 2, not 1; re-read it and retry"
    )


def test_creating_a_completed_task_with_an_open_dependency_says_it_cannot_complete() -> None:
    harness = build_service()
    open_ = harness.tasks.create(CreateTask(title="open"))

    with pytest.raises(DependenciesNotCompleted) as raised:
        harness.tasks.create(
            CreateTask(title="t", status=Status.COMPLETED, dependencies=(open_.task_id,))
        )

    assert raised.value.message == (
        f"cannot complete the task while dependencies are not completed: {open_.task_id}"
    )


def _design_and_build(
    harness: ServiceHarness, notifier: RecordingNotifier, sent_log: InMemorySentLog
) -> tuple[OutboxDispatcher, Task, Task]:
    """Design, and Build (assigned to ben) waiting on it, their creations delivered through
    the notification service and forgotten by ``notifier``."""
    notifications = NotificationService(
        harness.uow_factory,
        notifier,
        InMemoryReminderLog(),
        harness.clock,
        sent_log=sent_log,
        reminder_window=timedelta(hours=24),
    )
    dispatcher = OutboxDispatcher(harness.store, [notifications.handle], clock=harness.clock)
    design = harness.tasks.create(CreateTask(title="Design"))
    build = harness.tasks.create(
        CreateTask(title="Build", dependencies=(design.task_id,), assignee="ben@example.com")
    )
    dispatcher.dispatch_pending()
    notifier.sent.clear()
    return dispatcher, design, build


def test_completing_and_reassigning_at_once_sends_both_notifications() -> None:
    harness = build_service()
    notifier = RecordingNotifier()
    dispatcher, design, build = _design_and_build(harness, notifier, InMemorySentLog())

    harness.tasks.update(
        design.task_id,
        UpdateTask(status=Status.COMPLETED, assignee="ana@example.com"),
        design.version,
    )
    dispatcher.dispatch_pending()

    assert [(n.kind, n.recipient, n.task_id) for n in notifier.sent] == [
        (NotificationKind.TASK_ASSIGNED, "ana@example.com", design.task_id),
        (NotificationKind.TASK_UNBLOCKED, "ben@example.com", build.task_id),
    ]


def test_a_retried_event_sends_only_the_notifications_it_has_not_sent() -> None:
    """One event, two notifications: the first recipient's is sent, the second's fails, so
    the event is retried. The retry (and every later one) must not email the first again."""
    harness = build_service()
    refused: set[str] = set()
    notifier = RecordingNotifier(fails_for=lambda n: n.recipient in refused)
    sent_log = InMemorySentLog()
    dispatcher, design, build = _design_and_build(harness, notifier, sent_log)
    refused.add("ben@example.com")
    harness.tasks.update(
        design.task_id,
        UpdateTask(status=Status.COMPLETED, assignee="ana@example.com"),
        design.version,
    )

    for _ in range(3):  # ben's address keeps failing: three attempts of the one event
        assert dispatcher.dispatch_pending().failed == 1
        harness.clock.advance(timedelta(hours=1))
    refused.clear()
    assert dispatcher.dispatch_pending().delivered == 1

    assert [(n.kind, n.recipient, n.task_id) for n in notifier.sent] == [
        (NotificationKind.TASK_ASSIGNED, "ana@example.com", design.task_id),
        (NotificationKind.TASK_UNBLOCKED, "ben@example.com", build.task_id),
    ]
    assert len(sent_log.sent) == 3  # ben's assignment to Build, then the two above
