"""TaskService.create: the new task, its checks, and its one event."""

from __future__ import annotations

from uuid import UUID

import pytest

from taskapi.domain.errors import DependenciesNotCompleted, DependenciesNotFound
from taskapi.domain.events import SCHEMA_VERSION, TaskCreated
from taskapi.domain.model import Priority, Status
from taskapi.service.commands import CreateTask
from taskapi.service.ports import StoreFailure, StoreUnavailable
from tests.fakes.clock import DEFAULT_NOW
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits


@pytest.fixture
def harness() -> ServiceHarness:
    return build_service()


def test_create_stores_version_one_with_the_clock_and_a_new_id(harness: ServiceHarness) -> None:
    task = harness.tasks.create(
        CreateTask(title="  Plan the offsite ", priority=Priority.HIGH, assignee="ana@example.com")
    )
    assert task.task_id == harness.ids.issued[0]
    assert (task.title, task.priority, task.status) == ("Plan the offsite", "high", "pending")
    assert (task.created_at, task.updated_at, task.version) == (DEFAULT_NOW, DEFAULT_NOW, 1)
    assert harness.tasks.get(task.task_id) == task


def test_create_writes_exactly_one_task_created_event(harness: ServiceHarness) -> None:
    task = harness.tasks.create(CreateTask(title="t"))
    (event,) = harness.events()
    assert isinstance(event, TaskCreated)
    assert event.task == task
    assert event.occurred_at == DEFAULT_NOW
    assert event.event_id == harness.ids.issued[1]
    assert event.schema_version == SCHEMA_VERSION
    assert harness.on_commit.calls == 1


def test_create_with_existing_dependencies(harness: ServiceHarness) -> None:
    first = harness.tasks.create(CreateTask(title="first"))
    second = harness.tasks.create(CreateTask(title="second"))
    task = harness.tasks.create(
        CreateTask(title="after both", dependencies=(second.task_id, first.task_id))
    )
    assert task.dependencies == (second.task_id, first.task_id)
    assert harness.tasks.dependents(first.task_id).tasks == [task]


def test_missing_dependencies_are_named_and_nothing_is_written(harness: ServiceHarness) -> None:
    existing = harness.tasks.create(CreateTask(title="exists"))
    ghost_a, ghost_b = UUID(int=900), UUID(int=901)
    with pytest.raises(DependenciesNotFound) as raised:
        harness.tasks.create(
            CreateTask(title="t", dependencies=(ghost_b, existing.task_id, ghost_a))
        )
    assert raised.value.missing == (ghost_b, ghost_a)
    assert len(harness.stored_tasks()) == 1
    assert len(harness.events()) == 1
    assert harness.on_commit.calls == 1


def test_creating_a_completed_task_needs_completed_dependencies(harness: ServiceHarness) -> None:
    done = harness.tasks.create(CreateTask(title="done", status=Status.COMPLETED))
    open_ = harness.tasks.create(CreateTask(title="open"))
    with pytest.raises(DependenciesNotCompleted) as raised:
        harness.tasks.create(
            CreateTask(
                title="t", status=Status.COMPLETED, dependencies=(done.task_id, open_.task_id)
            )
        )
    assert raised.value.blocking == (open_.task_id,)

    task = harness.tasks.create(
        CreateTask(title="t", status=Status.COMPLETED, dependencies=(done.task_id,))
    )
    assert task.status == Status.COMPLETED


@pytest.mark.parametrize(
    "error",
    [StoreUnavailable("throttled", retry_after_seconds=2), StoreFailure("table is gone")],
    ids=["unavailable", "failure"],
)
def test_a_store_error_at_commit_propagates_and_writes_nothing(error: Exception) -> None:
    harness = build_service(wrap=lambda inner: FailingCommits(inner, error))
    with pytest.raises(type(error)) as raised:
        harness.tasks.create(CreateTask(title="t"))
    assert raised.value is error
    assert harness.stored_tasks() == {}
    assert harness.events() == []
    assert harness.on_commit.calls == 0
