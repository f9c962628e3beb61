"""Every successful write adds exactly one outbox event, in the same commit as the change."""

from __future__ import annotations

import pytest

from taskapi.domain.events import TaskCreated, TaskDeleted, TaskUpdated
from taskapi.domain.model import Status
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.ports import StoreUnavailable
from tests.fakes.service import build_service
from tests.fakes.unit_of_work import FailingCommits


def test_a_task_lifecycle_leaves_one_event_per_write_in_order() -> None:
    harness = build_service()
    service = harness.tasks
    task = service.create(CreateTask(title="ship it"))
    service.update(task.task_id, UpdateTask(status=Status.IN_PROGRESS), 1)
    service.update(task.task_id, UpdateTask(status=Status.IN_PROGRESS), 2)  # no-op: no event
    last = service.update(task.task_id, UpdateTask(status=Status.COMPLETED, title="shipped"), 2)
    service.delete(task.task_id)

    events = harness.events()
    assert [type(e) for e in events] == [TaskCreated, TaskUpdated, TaskUpdated, TaskDeleted]
    assert [e.task.version for e in events] == [1, 2, 3, 3]
    assert {e.task_id for e in events} == {task.task_id}
    assert len({e.event_id for e in events}) == 4
    assert events[-1].task == last
    assert harness.on_commit.calls == 4


def test_a_write_whose_commit_failed_leaves_no_event_and_a_retry_leaves_one() -> None:
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, StoreUnavailable("throttled"), on_commit=2)
    )
    task = harness.tasks.create(CreateTask(title="t"))
    failing = harness.uow_factory
    assert isinstance(failing, FailingCommits)

    with pytest.raises(StoreUnavailable):
        harness.tasks.update(task.task_id, UpdateTask(title="retried"), 1)
    assert [type(e) for e in harness.events()] == [TaskCreated]

    harness.tasks.update(task.task_id, UpdateTask(title="retried"), 1)
    assert [type(e) for e in harness.events()] == [TaskCreated, TaskUpdated]
    assert (failing.attempts, failing.failures) == (3, 1)
