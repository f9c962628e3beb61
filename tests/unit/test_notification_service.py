"""The notification service on the in-memory store, fed by the real task service's events.

Tasks are created and changed through ``TaskService`` in a workspace; its outbox is delivered
to the notification service by the real ``OutboxDispatcher``. Only the notifier and the
reminder log are fakes. The workspace cases put tasks with the same ids in two workspaces:
nothing read, notified or reminded in one may come from the other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import pytest

from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.domain.event_readers import read_event
from taskapi.domain.model import Status, Task
from taskapi.domain.notifications import NotificationKind
from taskapi.service.commands import Access, CreateTask, UpdateTask
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.notifications import NotificationService
from taskapi.service.ports import UnitOfWork, UnitOfWorkFactory
from tests.fakes.builders import (
    WORKSPACE_ID,
    created_event,
    make_task,
    make_workspace,
    next_version,
    received,
    updated_event,
)
from tests.fakes.clock import FixedClock
from tests.fakes.notifications import (
    InMemoryReminderLog,
    InMemorySentLog,
    NotifierDown,
    RecordingNotifier,
)
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.workspaces import add_workspace

ANA = "ana@example.com"
BEN = "ben@example.com"
CAT = "cat@example.com"
WINDOW = timedelta(hours=24)


class OpenedFor:
    """A unit-of-work factory that records the workspace each unit of work is opened for
    (``None``: one without tasks), to show what the service reads where."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner = inner
        self.opened: list[UUID | None] = []

    def __call__(self, workspace_id: UUID | None = None) -> UnitOfWork:
        self.opened.append(workspace_id)
        return self.inner(workspace_id)


@dataclass
class World:
    tasks: ServiceHarness
    notifier: RecordingNotifier
    reminder_log: InMemoryReminderLog
    notifications: NotificationService
    dispatcher: OutboxDispatcher
    access: Access
    uow: OpenedFor
    others: dict[UUID, Access] = field(default_factory=dict)

    def create(self, title: str, *, access: Access | None = None, **fields: object) -> Task:
        command = CreateTask.model_validate({"title": title, **fields})
        return self.tasks.service.create(access or self.access, command)

    def update(self, task: Task, **changes: object) -> Task:
        access = Access(task.workspace_id, self.access.caller)
        current = self.tasks.service.get(access, task.task_id)
        command = UpdateTask.model_validate(changes)
        return self.tasks.service.update(access, task.task_id, command, current.version)

    def add_workspace(self, workspace_id: UUID, name: str) -> Access:
        workspace = make_workspace(workspace_id=workspace_id, name=name)
        access = add_workspace(self.tasks.uow_factory, workspace)
        self.others[workspace_id] = access
        return access

    def commit(self, *tasks: Task) -> None:
        """Store tasks as they are (ids chosen by the test), each in its own workspace."""
        for task in tasks:
            with self.tasks.uow_factory(task.workspace_id) as uow:
                uow.tasks.add(task)
                uow.commit()

    def deliver(self) -> None:
        report = self.dispatcher.dispatch_pending()
        assert report.failed == 0

    def sent(self) -> list[tuple[NotificationKind, str, UUID]]:
        return [(n.kind, n.recipient, n.task_id) for n in self.notifier.sent]


def build_world(
    notifier: RecordingNotifier | None = None, page_size: int = 100, workspace_batch: int = 100
) -> World:
    tasks = build_service()
    access = add_workspace(tasks.uow_factory, make_workspace(name="Team"))
    notifier = notifier or RecordingNotifier()
    reminder_log = InMemoryReminderLog()
    opened = OpenedFor(tasks.uow_factory)
    notifications = NotificationService(
        uow_factory=opened,
        notifier=notifier,
        reminder_log=reminder_log,
        sent_log=InMemorySentLog(),
        clock=tasks.clock,
        reminder_window=WINDOW,
        page_size=page_size,
        workspace_batch=workspace_batch,
    )
    dispatcher = OutboxDispatcher(tasks.store, [notifications.handle], clock=tasks.clock)
    return World(tasks, notifier, reminder_log, notifications, dispatcher, access, opened)


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
    world.tasks.service.delete(world.access, task.task_id)

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


# -- workspaces -------------------------------------------------------------------------

TEAM_B = UUID("5a5a5a5a-0000-4000-8000-00000000000b")
DESIGN_ID = UUID("00000000-0000-4000-8000-0000000000d1")
BUILD_ID = UUID("00000000-0000-4000-8000-0000000000b1")
TEST_ID = UUID("00000000-0000-4000-8000-0000000000e1")


def test_a_completion_in_one_workspace_never_reads_or_notifies_about_another(
    world: World,
) -> None:
    # Both workspaces hold a "design" and a "build" with the same ids; only B has "test".
    world.add_workspace(TEAM_B, "Other team")
    design_a = make_task(task_id=DESIGN_ID, title="Design A", status=Status.IN_PROGRESS)
    world.commit(
        design_a,
        make_task(task_id=BUILD_ID, title="Build A", dependencies=(DESIGN_ID,), assignee=BEN),
        make_task(task_id=DESIGN_ID, workspace_id=TEAM_B, title="Design B"),
        make_task(
            task_id=BUILD_ID,
            workspace_id=TEAM_B,
            title="Build B",
            dependencies=(DESIGN_ID,),
            assignee=CAT,
        ),
        make_task(
            task_id=TEST_ID,
            workspace_id=TEAM_B,
            title="Test B",
            dependencies=(DESIGN_ID,),
            assignee=ANA,
        ),
    )
    completion = updated_event(design_a, next_version(design_a, status=Status.COMPLETED))

    sent = world.notifications.handle(received(completion))

    assert [(n.kind, n.recipient, n.workspace_id, n.task_id) for n in sent] == [
        (NotificationKind.TASK_UNBLOCKED, BEN, WORKSPACE_ID, BUILD_ID)
    ]
    assert "Build A" in sent[0].body
    assert world.uow.opened == [WORKSPACE_ID]


def test_the_same_completion_in_the_other_workspace_notifies_only_its_dependents(
    world: World,
) -> None:
    world.add_workspace(TEAM_B, "Other team")
    design_b = make_task(task_id=DESIGN_ID, workspace_id=TEAM_B, status=Status.IN_PROGRESS)
    world.commit(
        make_task(task_id=DESIGN_ID, title="Design A"),
        make_task(task_id=BUILD_ID, dependencies=(DESIGN_ID,), assignee=BEN),
        design_b,
        make_task(task_id=BUILD_ID, workspace_id=TEAM_B, dependencies=(DESIGN_ID,), assignee=CAT),
    )

    sent = world.notifications.handle(
        received(updated_event(design_b, next_version(design_b, status=Status.COMPLETED)))
    )

    assert [(n.recipient, n.workspace_id, n.task_id) for n in sent] == [(CAT, TEAM_B, BUILD_ID)]
    assert sent[0].subject.startswith("[Other team] Ready to start: ")
    assert world.uow.opened == [TEAM_B]


def test_notifications_of_tasks_with_the_same_id_in_two_workspaces_have_distinct_ids(
    world: World,
) -> None:
    world.add_workspace(TEAM_B, "Other team")
    in_a = make_task(task_id=BUILD_ID, assignee=ANA)
    in_b = in_a.model_copy(update={"workspace_id": TEAM_B})
    event_a = created_event(in_a)
    event_b = event_a.model_copy(update={"workspace_id": TEAM_B, "task": in_b})

    [a] = world.notifications.handle(received(event_a))
    [b] = world.notifications.handle(received(event_b))

    assert (a.workspace_id, b.workspace_id) == (WORKSPACE_ID, TEAM_B)
    assert a.notification_id != b.notification_id


def test_every_notification_names_its_workspace(world: World) -> None:
    task = world.create("Write the launch plan", assignee=ANA)

    world.deliver()

    [notification] = world.notifier.sent
    assert notification.workspace_id == WORKSPACE_ID
    assert notification.subject == "[Team] Assigned to you: Write the launch plan"
    assert f'Workspace: "Team" ({WORKSPACE_ID})\nTask id: {task.task_id}' in notification.body


def test_an_event_of_a_deleted_workspace_is_named_by_its_id(world: World) -> None:
    gone = UUID("5a5a5a5a-0000-4000-8000-0000000000ff")

    [notification] = world.notifications.handle(
        received(created_event(make_task(workspace_id=gone, assignee=ANA)))
    )

    assert notification.workspace_id == gone
    assert notification.subject.startswith("Assigned to you: ")
    assert f"Workspace: {gone}\n" in notification.body


def test_an_update_that_notifies_nobody_reads_nothing(world: World) -> None:
    task = make_task(assignee=ANA)

    sent = world.notifications.handle(received(updated_event(task, next_version(task, title="x"))))

    assert sent == []
    assert world.uow.opened == []


def test_a_version_1_event_is_ignored_with_a_warning_and_reads_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    task = make_task(status=Status.IN_PROGRESS, assignee=ANA)
    written = json.loads(
        updated_event(task, next_version(task, status=Status.COMPLETED)).model_dump_json()
    )
    del written["workspace_id"], written["task"]["workspace_id"]
    version_1 = read_event({**written, "schema_version": 1})
    caplog.set_level(logging.WARNING, logger="taskapi.service.notifications")

    sent = world.notifications.handle(version_1)

    assert sent == []
    assert world.uow.opened == []
    [record] = [r for r in caplog.records if r.name == "taskapi.service.notifications"]
    assert record.getMessage() == (
        "event predates workspaces (schema_version 1): ignored, nothing notified"
    )
    assert getattr(record, "event_id", None) == written["event_id"]
    assert getattr(record, "task_id", None) == str(task.task_id)


# -- reminders across workspaces --------------------------------------------------------


def test_the_reminder_run_visits_every_workspace_in_batches_and_lists_each_one() -> None:
    world = build_world(workspace_batch=2)
    now = world.tasks.clock.now
    others = [UUID(f"5a5a5a5a-0000-4000-8000-00000000010{i}") for i in range(4)]
    for n, workspace_id in enumerate(others):
        world.add_workspace(workspace_id, f"Team {n}")
    due = now + timedelta(hours=1)
    # The same task id due in every workspace, each with its own assignee.
    recipients = [ANA, BEN, CAT, "dan@example.com", "eve@example.com"]
    for workspace_id, recipient in zip([WORKSPACE_ID, *others], recipients, strict=True):
        world.commit(
            make_task(task_id=BUILD_ID, workspace_id=workspace_id, due_at=due, assignee=recipient)
        )

    run = world.notifications.send_reminders()

    assert (run.workspaces, run.due_soon, run.sent) == (5, 5, 5)
    assert sorted((n.workspace_id, n.recipient) for n in world.notifier.sent) == sorted(
        zip([WORKSPACE_ID, *others], recipients, strict=True)
    )
    assert {n.task_id for n in world.notifier.sent} == {BUILD_ID}
    assert len({n.notification_id for n in world.notifier.sent}) == 5
    # Workspaces are read in batches of 2 (3 reads for 5), without tasks; the tasks of each
    # workspace only through a unit of work opened for it, once per open status.
    workspaces_in_order = sorted([WORKSPACE_ID, *others], key=str)
    assert world.uow.opened.count(None) == 3
    assert [w for w in world.uow.opened if w is not None] == [
        w for w in workspaces_in_order for _ in range(2)
    ]


def test_a_reminder_is_remembered_per_workspace() -> None:
    world = build_world()
    world.add_workspace(TEAM_B, "Other team")
    due = world.tasks.clock.now + timedelta(hours=1)
    world.commit(make_task(task_id=BUILD_ID, due_at=due, assignee=ANA))
    first = world.notifications.send_reminders()

    world.commit(make_task(task_id=BUILD_ID, workspace_id=TEAM_B, due_at=due, assignee=ANA))
    second = world.notifications.send_reminders()

    assert (first.sent, second.sent, second.already_reminded) == (1, 1, 1)
    assert [n.workspace_id for n in world.notifier.sent] == [WORKSPACE_ID, TEAM_B]
    assert world.notifier.sent[1].subject == "[Other team] Due soon: Write the quarterly report"


def test_a_workspace_without_tasks_is_visited_and_reminds_nobody() -> None:
    world = build_world(workspace_batch=1)
    world.add_workspace(TEAM_B, "Empty")

    run = world.notifications.send_reminders()

    assert (run.workspaces, run.due_soon, run.sent) == (2, 0, 0)


def test_a_run_without_workspaces_reads_no_task() -> None:
    opened = OpenedFor(InMemoryUnitOfWorkFactory())
    service = NotificationService(
        uow_factory=opened,
        notifier=RecordingNotifier(),
        reminder_log=InMemoryReminderLog(),
        sent_log=InMemorySentLog(),
        clock=FixedClock(),
        reminder_window=WINDOW,
    )

    run = service.send_reminders()

    assert (run.workspaces, run.due_soon) == (0, 0)
    assert opened.opened == [None]


@pytest.mark.parametrize("sizes", [{"page_size": 0}, {"workspace_batch": 0}])
def test_batch_sizes_must_be_positive(sizes: dict[str, int]) -> None:
    tasks = build_service()
    with pytest.raises(ValueError, match="at least 1"):
        NotificationService(
            uow_factory=tasks.uow_factory,
            notifier=RecordingNotifier(),
            reminder_log=InMemoryReminderLog(),
            sent_log=InMemorySentLog(),
            clock=tasks.clock,
            reminder_window=WINDOW,
            **sizes,
        )


def test_a_version_1_event_is_handled_in_the_configured_workspace_of_pre_workspace_tasks(
    world: World,
) -> None:
    # After a store migration moved the old tasks into one workspace, their in-flight
    # version-1 events are handled there (TASKAPI_PRE_WORKSPACE_EVENTS_WORKSPACE_ID).
    notifications = NotificationService(
        uow_factory=world.uow,
        notifier=world.notifier,
        reminder_log=world.reminder_log,
        sent_log=InMemorySentLog(),
        clock=world.tasks.clock,
        reminder_window=WINDOW,
        pre_workspace_events=WORKSPACE_ID,
    )
    design = make_task(task_id=DESIGN_ID, status=Status.IN_PROGRESS)
    world.commit(design, make_task(task_id=BUILD_ID, dependencies=(DESIGN_ID,), assignee=BEN))
    written = json.loads(
        updated_event(design, next_version(design, status=Status.COMPLETED)).model_dump_json()
    )
    del written["workspace_id"], written["task"]["workspace_id"]

    sent = notifications.handle(read_event({**written, "schema_version": 1}))

    assert notifications.handles_pre_workspace_events
    assert [(n.recipient, n.workspace_id, n.task_id) for n in sent] == [
        (BEN, WORKSPACE_ID, BUILD_ID)
    ]
    assert sent[0].subject.startswith("[Team] ")
    assert world.uow.opened == [WORKSPACE_ID]
