"""TaskService.update: partial updates, optimistic concurrency, workflow and graph rules."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    InvalidTransition,
    TaskNotFound,
    VersionConflict,
)
from taskapi.domain.events import FieldChange, TaskUpdated
from taskapi.domain.model import Priority, Status, Task
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.ports import UnitOfWork, UnitOfWorkFactory
from tests.fakes.builders import make_task
from tests.fakes.clock import DEFAULT_NOW, FixedClock
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits

LATER = DEFAULT_NOW + timedelta(hours=1)


@pytest.fixture
def harness() -> ServiceHarness:
    return build_service()


def create(harness: ServiceHarness, title: str = "t", **fields: object) -> Task:
    return harness.tasks.create(CreateTask.model_validate({"title": title, **fields}))


def update_events(harness: ServiceHarness) -> list[TaskUpdated]:
    return [e for e in harness.events() if isinstance(e, TaskUpdated)]


def test_an_update_writes_version_plus_one_with_the_new_time(harness: ServiceHarness) -> None:
    task = create(harness, "old title")
    harness.clock.now = LATER
    updated = harness.tasks.update(task.task_id, UpdateTask(title="new title"), 1)
    assert (updated.title, updated.version, updated.updated_at) == ("new title", 2, LATER)
    assert updated.created_at == task.created_at
    assert harness.tasks.get(task.task_id) == updated


def test_an_update_writes_one_event_with_the_previous_values(harness: ServiceHarness) -> None:
    task = create(harness, "old", description="details", assignee="ana@example.com")
    harness.clock.now = LATER
    updated = harness.tasks.update(
        task.task_id,
        UpdateTask(
            title="new",
            description=None,  # an explicit null clears it
            priority=Priority.HIGH,
            assignee="ana@example.com",  # unchanged: not listed
            due_at=datetime(2030, 1, 1, tzinfo=UTC),
        ),
        1,
    )
    (event,) = update_events(harness)
    assert event.task == updated
    assert event.occurred_at == LATER
    assert event.changes == {
        "title": FieldChange(previous="old", current="new"),
        "description": FieldChange(previous="details", current=None),
        "priority": FieldChange(previous="medium", current="high"),
        "due_at": FieldChange(previous=None, current="2030-01-01T00:00:00Z"),
    }
    assert harness.on_commit.calls == 2


def test_each_write_increases_the_version_by_one(harness: ServiceHarness) -> None:
    task = create(harness)
    for version, status in enumerate((Status.IN_PROGRESS, Status.COMPLETED, Status.PENDING), 1):
        task = harness.tasks.update(task.task_id, UpdateTask(status=status), version)
        assert task.version == version + 1
    assert [e.task.version for e in update_events(harness)] == [2, 3, 4]
    assert [e.changes["status"].previous for e in update_events(harness)] == [
        "pending",
        "in_progress",
        "completed",
    ]


def test_an_update_that_changes_nothing_writes_nothing(harness: ServiceHarness) -> None:
    task = create(harness, "same", priority=Priority.LOW)
    harness.clock.now = LATER
    result = harness.tasks.update(
        task.task_id, UpdateTask(title="  same  ", priority=Priority.LOW), 1
    )
    empty = harness.tasks.update(task.task_id, UpdateTask(), 1)
    assert result == empty == task
    assert harness.tasks.get(task.task_id).version == 1
    assert update_events(harness) == []
    assert harness.on_commit.calls == 1  # the create only


def test_a_stale_version_conflicts_with_the_current_task(harness: ServiceHarness) -> None:
    task = create(harness)
    current = harness.tasks.update(task.task_id, UpdateTask(title="first writer"), 1)
    with pytest.raises(VersionConflict) as raised:
        harness.tasks.update(task.task_id, UpdateTask(title="second writer"), 1)
    assert raised.value.current == current
    assert raised.value.expected_version == 1
    assert raised.value.details == {"expected_version": 1, "current_version": 2}
    assert harness.tasks.get(task.task_id) == current
    assert len(update_events(harness)) == 1


def test_a_conflict_detected_at_commit_propagates_and_writes_nothing() -> None:
    """The race the read-time check cannot see: another writer commits in between (DynamoDB
    finds out only when its conditional write fails)."""
    winner = make_task(version=2)
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, VersionConflict(winner, 1), on_commit=2)
    )
    task = create(harness)
    with pytest.raises(VersionConflict):
        harness.tasks.update(task.task_id, UpdateTask(title="lost"), 1)
    assert harness.tasks.get(task.task_id) == task
    assert update_events(harness) == []
    assert harness.on_commit.calls == 1


def test_updating_a_missing_task_is_not_found(harness: ServiceHarness) -> None:
    ghost = make_task().task_id
    with pytest.raises(TaskNotFound) as raised:
        harness.tasks.update(ghost, UpdateTask(title="x"), 1)
    assert raised.value.task_id == ghost


def test_a_refused_transition_names_the_allowed_ones(harness: ServiceHarness) -> None:
    task = create(harness, status=Status.COMPLETED)
    with pytest.raises(InvalidTransition) as raised:
        harness.tasks.update(task.task_id, UpdateTask(status=Status.IN_PROGRESS), 1)
    assert raised.value.details["allowed"] == ["pending"]
    assert update_events(harness) == []


def test_completing_needs_every_dependency_completed(harness: ServiceHarness) -> None:
    done = create(harness, "done", status=Status.COMPLETED)
    open_a = create(harness, "open a")
    open_b = create(harness, "open b", status=Status.IN_PROGRESS)
    task = create(harness, dependencies=[open_b.task_id, done.task_id, open_a.task_id])

    with pytest.raises(DependenciesNotCompleted) as raised:
        harness.tasks.update(task.task_id, UpdateTask(status=Status.COMPLETED), 1)
    assert raised.value.blocking == (open_b.task_id, open_a.task_id)

    for dep in (open_a, open_b):
        harness.tasks.update(dep.task_id, UpdateTask(status=Status.COMPLETED), dep.version)
    completed = harness.tasks.update(task.task_id, UpdateTask(status=Status.COMPLETED), 1)
    assert completed.status == Status.COMPLETED


def test_a_dependency_that_would_close_a_cycle_is_refused_with_the_path(
    harness: ServiceHarness,
) -> None:
    a = create(harness, "a")
    b = create(harness, "b", dependencies=[a.task_id])
    c = create(harness, "c", dependencies=[b.task_id])
    with pytest.raises(DependencyCycle) as raised:
        harness.tasks.update(a.task_id, UpdateTask(dependencies=[c.task_id]), 1)
    assert raised.value.path == (a.task_id, c.task_id, b.task_id, a.task_id)
    assert harness.tasks.get(a.task_id) == a
    assert update_events(harness) == []


def test_depending_on_itself_is_a_cycle(harness: ServiceHarness) -> None:
    a = create(harness)
    with pytest.raises(DependencyCycle) as raised:
        harness.tasks.update(a.task_id, UpdateTask(dependencies=[a.task_id]), 1)
    assert raised.value.path == (a.task_id, a.task_id)


def test_unknown_dependencies_are_named(harness: ServiceHarness) -> None:
    a = create(harness)
    ghost = make_task().task_id
    with pytest.raises(DependenciesNotFound) as raised:
        harness.tasks.update(a.task_id, UpdateTask(dependencies=[ghost]), 1)
    assert raised.value.missing == (ghost,)


def test_changing_dependencies_moves_the_reverse_edges(harness: ServiceHarness) -> None:
    a, b = create(harness, "a"), create(harness, "b")
    task = create(harness, dependencies=[a.task_id])
    harness.tasks.update(task.task_id, UpdateTask(dependencies=[b.task_id]), 1)
    assert harness.tasks.dependents(a.task_id).tasks == []
    assert [t.task_id for t in harness.tasks.dependents(b.task_id).tasks] == [task.task_id]


@pytest.mark.parametrize("field", ["title", "status", "priority", "dependencies"])
def test_required_fields_cannot_be_nulled(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        UpdateTask.model_validate({field: None})


def test_the_update_time_comes_from_the_clock_not_the_client() -> None:
    clock = FixedClock(tick=timedelta(minutes=5))
    harness = build_service(clock=clock)
    task = create(harness)
    updated = harness.tasks.update(task.task_id, UpdateTask(title="later"), 1)
    assert updated.updated_at == task.created_at + timedelta(minutes=5)


def test_a_completed_task_stays_editable_after_a_dependency_is_reopened(
    harness: ServiceHarness,
) -> None:
    dependency = create(harness, "dependency", status="completed")
    task = create(harness, "task", dependencies=[str(dependency.task_id)], status="completed")
    harness.tasks.update(dependency.task_id, UpdateTask(status=Status.PENDING), 1)

    edited = harness.tasks.update(task.task_id, UpdateTask(title="renamed"), 1)

    assert (edited.title, edited.status, edited.version) == ("renamed", Status.COMPLETED, 2)


def test_changing_the_dependencies_of_a_completed_task_requires_completed_ones(
    harness: ServiceHarness,
) -> None:
    done = create(harness, "done", status="completed")
    open_task = create(harness, "open")
    task = create(harness, "task", dependencies=[str(done.task_id)], status="completed")

    with pytest.raises(DependenciesNotCompleted) as refused:
        harness.tasks.update(
            task.task_id, UpdateTask(dependencies=(done.task_id, open_task.task_id)), 1
        )

    assert refused.value.blocking == (open_task.task_id,)
    assert harness.tasks.get(task.task_id).version == 1


class _GraphReads:
    """Wraps a unit-of-work factory and records every ``dependencies_of`` call (graph walk)
    and every ``get_many`` call (dependency reads)."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner = inner
        self.calls: list[list[UUID]] = []
        self.get_many_calls: list[list[UUID]] = []
        self.walks: list[list[UUID]] = []  # the first levels of cycle checks

    def __call__(self, workspace_id: UUID | None = None) -> UnitOfWork:
        reads = self
        uow = self.inner(workspace_id)

        class Repository:
            def __getattr__(self, name: str) -> Any:
                return getattr(uow.tasks, name)

            def get_many(
                self, ids: Collection[UUID], *, graph_walk: bool = False
            ) -> dict[UUID, Task]:
                reads.get_many_calls.append(list(ids))
                if graph_walk:
                    reads.walks.append(list(ids))
                return uow.tasks.get_many(ids, graph_walk=graph_walk)

            def dependencies_of(self, ids: Collection[UUID]) -> Mapping[UUID, Sequence[UUID]]:
                reads.calls.append(list(ids))
                return uow.tasks.dependencies_of(ids)

        class Recording:
            tasks = Repository()
            outbox = uow.outbox
            workspaces = uow.workspaces
            requests = uow.requests

            def __enter__(self) -> Recording:
                uow.__enter__()
                return self

            def __exit__(self, *exc: Any) -> None:
                uow.__exit__(*exc)

            def commit(self) -> None:
                uow.commit()

        return Recording()  # type: ignore[return-value]


def test_removing_dependencies_does_not_walk_the_graph_but_adding_one_does() -> None:
    harness = build_service(wrap=_GraphReads)
    graph_reads = harness.uow_factory
    assert isinstance(graph_reads, _GraphReads)
    first, second, third = (create(harness, name) for name in ("first", "second", "third"))
    task = create(harness, "task", dependencies=[str(first.task_id), str(second.task_id)])

    harness.tasks.update(task.task_id, UpdateTask(dependencies=(first.task_id,)), 1)
    assert (graph_reads.walks, graph_reads.calls) == ([], [])

    harness.tasks.update(task.task_id, UpdateTask(dependencies=(first.task_id, third.task_id)), 2)
    # The walk starts from the dependencies as read for the existence check: each new
    # dependency is read once, and their own (empty) dependencies end the walk.
    assert graph_reads.walks == [[first.task_id, third.task_id]]
    assert graph_reads.calls == []


def test_each_dependency_is_read_once_and_the_walk_reads_only_the_levels_below() -> None:
    harness = build_service(wrap=_GraphReads)
    reads = harness.uow_factory
    assert isinstance(reads, _GraphReads)
    root = create(harness, "root")
    middle = create(harness, "middle", dependencies=[str(root.task_id)])
    task = create(harness, "task")
    reads.get_many_calls.clear()

    harness.tasks.update(task.task_id, UpdateTask(dependencies=(middle.task_id,)), 1)

    assert reads.get_many_calls == [[middle.task_id]]
    assert reads.calls == [[root.task_id]]  # the next level only; middle is not read again


def test_an_edit_that_neither_completes_nor_changes_dependencies_reads_no_dependency() -> None:
    harness = build_service(wrap=_GraphReads)
    reads = harness.uow_factory
    assert isinstance(reads, _GraphReads)
    dependency = create(harness, "dependency")
    task = create(harness, "task", dependencies=[str(dependency.task_id)])
    reads.get_many_calls.clear()

    harness.tasks.update(task.task_id, UpdateTask(title="renamed", priority=Priority.HIGH), 1)
    harness.tasks.update(task.task_id, UpdateTask(status=Status.IN_PROGRESS), 2)

    assert (reads.get_many_calls, reads.calls) == ([], [])


def test_removing_a_dependency_of_a_completed_task_says_what_is_refused(
    harness: ServiceHarness,
) -> None:
    # A and B completed; C depends on both and is completed; B is reopened; C drops A.
    a = create(harness, "A", status="completed")
    b = create(harness, "B", status="completed")
    c = create(harness, "C", dependencies=[str(a.task_id), str(b.task_id)], status="completed")
    harness.tasks.update(b.task_id, UpdateTask(status=Status.PENDING), 1)

    with pytest.raises(DependenciesNotCompleted) as refused:
        harness.tasks.update(c.task_id, UpdateTask(dependencies=(b.task_id,)), 1)

    # Nothing is being completed: what is refused is changing the dependencies of a task that
    # is completed while one it keeps (B) is not, and the message says so and how to proceed.
    message = refused.value.message
    assert "cannot complete" not in message
    assert "dependencies of a completed task" in message
    assert "status pending" in message
    assert message.endswith(str(b.task_id))
    assert refused.value.details == {"blocking_dependencies": [str(b.task_id)]}
    assert harness.tasks.get(c.task_id).version == 1
    # Reopening it in the same update is allowed, as the message says.
    reopened = harness.tasks.update(
        c.task_id, UpdateTask(dependencies=(b.task_id,), status=Status.PENDING), 1
    )
    assert (reopened.status, reopened.dependencies) == (Status.PENDING, (b.task_id,))


def test_the_update_schema_says_which_fields_may_be_absent_but_never_null() -> None:
    # What the OpenAPI request body publishes must match what the validator enforces.
    properties = UpdateTask.model_json_schema()["properties"]

    assert properties["title"]["type"] == "string"
    assert properties["status"] == {"$ref": "#/$defs/Status"}
    assert properties["priority"] == {"$ref": "#/$defs/Priority"}
    assert properties["dependencies"]["type"] == "array"
    for name in ("title", "status", "priority", "dependencies"):
        assert "anyOf" not in properties[name]
        assert "default" not in properties[name]
    assert {"type": "null"} in properties["assignee"]["anyOf"]
    with pytest.raises(ValidationError):
        UpdateTask.model_validate({"title": None})
