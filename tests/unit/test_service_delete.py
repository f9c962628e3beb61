"""TaskService.delete: dependents block it; it is optionally conditional on the version."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskapi.domain.errors import HasDependents, TaskNotFound, VersionConflict
from taskapi.domain.events import TaskDeleted
from taskapi.domain.model import Task
from taskapi.service.commands import CreateTask, UpdateTask
from tests.fakes.builders import make_task
from tests.fakes.clock import DEFAULT_NOW
from tests.fakes.service import ServiceHarness, build_service


@pytest.fixture
def harness() -> ServiceHarness:
    return build_service()


def create(harness: ServiceHarness, title: str = "t", *deps: Task) -> Task:
    return harness.tasks.create(
        CreateTask(title=title, dependencies=tuple(d.task_id for d in deps))
    )


def test_delete_removes_the_task_and_writes_one_event_with_its_last_version(
    harness: ServiceHarness,
) -> None:
    task = create(harness)
    task = harness.tasks.update(task.task_id, UpdateTask(title="last words"), 1)
    harness.clock.now = DEFAULT_NOW + timedelta(days=1)

    deleted = harness.tasks.delete(task.task_id)

    assert deleted == task
    with pytest.raises(TaskNotFound):
        harness.tasks.get(task.task_id)
    event = harness.events()[-1]
    assert isinstance(event, TaskDeleted)
    assert event.task == task
    assert event.occurred_at == DEFAULT_NOW + timedelta(days=1)
    assert len(harness.events()) == 3
    assert harness.on_commit.calls == 3


def test_a_task_others_depend_on_cannot_be_deleted_and_they_are_named(
    harness: ServiceHarness,
) -> None:
    target = create(harness, "target")
    waiting = [create(harness, f"waits {i}", target) for i in range(3)]
    with pytest.raises(HasDependents) as raised:
        harness.tasks.delete(target.task_id)
    assert raised.value.dependents == tuple(sorted((t.task_id for t in waiting), key=str))
    assert raised.value.details["task_id"] == str(target.task_id)
    assert harness.tasks.get(target.task_id) == target
    assert len(harness.events()) == 4  # the creates only


def test_once_its_dependents_are_gone_a_task_can_be_deleted(harness: ServiceHarness) -> None:
    target = create(harness, "target")
    dependent = create(harness, "dependent", target)
    harness.tasks.delete(dependent.task_id)
    assert harness.tasks.delete(target.task_id) == target


def test_delete_with_a_stale_version_conflicts(harness: ServiceHarness) -> None:
    task = create(harness)
    current = harness.tasks.update(task.task_id, UpdateTask(title="changed"), 1)
    with pytest.raises(VersionConflict) as raised:
        harness.tasks.delete(task.task_id, expected_version=1)
    assert raised.value.current == current
    assert harness.tasks.get(task.task_id) == current
    assert harness.tasks.delete(task.task_id, expected_version=2) == current


def test_deleting_a_missing_task_is_not_found(harness: ServiceHarness) -> None:
    with pytest.raises(TaskNotFound):
        harness.tasks.delete(make_task().task_id)
    assert harness.events() == []
