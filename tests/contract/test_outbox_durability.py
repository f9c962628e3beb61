"""No lost events, for real: the process dies between commit and dispatch.

A child process creates a task through ``TaskService`` on a SQLite file and then ends with
``os._exit`` (no ``finally``, no ``atexit``, no dispatch). A fresh dispatcher on the same file
must still deliver the event, because the event was committed in the same transaction as
the task. The dispatcher delivers at least once: a crash after delivery but before the event is
marked sent means a redelivery (same ``event_id``), never a loss.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from uuid import UUID, uuid4

from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.domain.event_readers import ReceivedTaskCreated
from taskapi.service.commands import Access, CreateTask, CreateWorkspace
from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.tasks import TaskService
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import OWNER
from tests.fakes.clock import FixedClock
from tests.fakes.subscribers import RecordingSubscriber

CRASH_EXIT_CODE = 3

# Runs in the child. argv: database path, then "after-commit" or "during-delivery".
_CHILD = textwrap.dedent(
    """
    import os, sys, uuid
    from datetime import UTC, datetime

    from taskapi.adapters.sqlite.database import SqliteDatabase
    from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
    from taskapi.service.commands import Access, CreateTask, CreateWorkspace
    from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
    from taskapi.service.pagination import PageTokenCodec
    from taskapi.service.tasks import TaskService
    from taskapi.service.workspaces import WorkspaceService

    database = SqliteDatabase(sys.argv[1])
    ports = dict(
        uow_factory=SqliteUnitOfWorkFactory(database),
        clock=lambda: datetime.now(UTC),
        new_id=uuid.uuid4,
        page_tokens=PageTokenCodec(b"child"),
    )
    owner = "cognito:child"
    workspace = WorkspaceService(**ports).create(owner, CreateWorkspace(name="Child"))
    access = Access(workspace.workspace_id, owner)
    task = TaskService(**ports).create(access, CreateTask(title="survives a crash"))
    print(task.task_id, flush=True)

    def crash(event):
        print(event.event_id, flush=True)
        os._exit({code})  # delivered, but dies before the event is marked sent

    if sys.argv[2] == "during-delivery":
        OutboxDispatcher(database, [crash], clock=lambda: datetime.now(UTC)).dispatch_pending()
    os._exit({code})  # after the commit, before any dispatch
    """
).format(code=CRASH_EXIT_CODE)


def run_child_that_crashes(db_path: Path, moment: str) -> list[str]:
    """Run the child to its crash; return the lines it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db_path), moment],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == CRASH_EXIT_CODE, completed.stderr
    return completed.stdout.split()


def test_an_event_committed_before_a_crash_is_delivered_exactly_once(tmp_path: Path) -> None:
    db_path = tmp_path / "taskapi.db"
    (task_id,) = run_child_that_crashes(db_path, "after-commit")

    database = SqliteDatabase(db_path)  # a new process's view of the file
    subscriber = RecordingSubscriber()
    dispatcher = OutboxDispatcher(database, [subscriber], clock=FixedClock())

    first = dispatcher.dispatch_pending()
    second = dispatcher.dispatch_pending()

    (event,) = subscriber.delivered
    assert isinstance(event, ReceivedTaskCreated)
    assert event.task_id == UUID(task_id)
    assert (first.delivered, first.failed) == (1, 0)
    assert (second.delivered, second.failed) == (0, 0)
    assert subscriber.seen == [event]
    assert database.pending(10) == []


def test_a_crash_during_delivery_means_redelivery_not_loss(tmp_path: Path) -> None:
    db_path = tmp_path / "taskapi.db"
    task_id, delivered_event_id = run_child_that_crashes(db_path, "during-delivery")

    database = SqliteDatabase(db_path)
    (record,) = database.pending(10)
    assert record.attempts == 0  # the crash left no trace of the attempt...
    subscriber = RecordingSubscriber()
    OutboxDispatcher(database, [subscriber], clock=FixedClock()).dispatch_pending()

    (event,) = subscriber.delivered  # ...so it is offered again, with the same id
    assert event.event_id == UUID(delivered_event_id)
    assert event.task_id == UUID(task_id)
    assert database.pending(10) == []


def test_a_failing_subscriber_leaves_the_event_pending_for_the_next_run(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "taskapi.db"
    factory = SqliteUnitOfWorkFactory(SqliteDatabase(db_path))
    codec = PageTokenCodec(b"test")
    workspaces = WorkspaceService(factory, clock=FixedClock(), new_id=uuid4, page_tokens=codec)
    workspace = workspaces.create(OWNER, CreateWorkspace(name="Notified"))
    service = TaskService(factory, clock=FixedClock(), new_id=uuid4, page_tokens=codec)
    task = service.create(Access(workspace.workspace_id, OWNER), CreateTask(title="notify me"))
    subscriber = RecordingSubscriber(fail_first=1, error=ConnectionError("bus unreachable"))

    clock = FixedClock()
    failed_run = OutboxDispatcher(
        SqliteDatabase(db_path), [subscriber], clock=clock
    ).dispatch_pending()

    assert (failed_run.delivered, failed_run.failed) == (0, 1)
    (record,) = SqliteDatabase(db_path).pending(10)  # what a restarted process finds
    assert record.event.task_id == task.task_id
    assert record.attempts == 1
    assert record.last_error == "ConnectionError: bus unreachable"
    assert SqliteDatabase(db_path).pending(10, clock.now) == []  # its retry is due later

    clock.advance(RetryPolicy().first_delay)
    retry = OutboxDispatcher(SqliteDatabase(db_path), [subscriber], clock=clock).dispatch_pending()

    assert (retry.delivered, retry.failed) == (1, 0)
    assert subscriber.delivered == [record.event]
    assert subscriber.seen == [record.event, record.event]
    assert SqliteDatabase(db_path).pending(10) == []
