"""TaskService under random sequences of commands, checked against a model after every step.

Hypothesis drives the real service on the in-memory store (the verified fake) with creates,
dependency changes (some closing a cycle), status changes, stale-version writes and deletes
(some of tasks others depend on). Each rule predicts from a plain model which business rules
the command breaks; the service must refuse exactly those commands, and refuse them with one of
the predicted errors. The invariants then compare the store with the model and check what must
hold whatever happened: an acyclic graph, existing dependencies, a reverse index that matches
the edges, and one outbox event per accepted write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import networkx as nx
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    DomainError,
    HasDependents,
    InvalidTransition,
    TaskNotFound,
    VersionConflict,
)
from taskapi.domain.events import TaskCreated, TaskDeleted, TaskUpdated
from taskapi.domain.model import Status, Task
from taskapi.domain.rules import ALLOWED_TRANSITIONS
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.ports import Event, TaskFilter
from tests.fakes.builders import WORKSPACE_ID
from tests.fakes.clock import FixedClock
from tests.fakes.service import build_service

Refusals = set[type[DomainError]]


@dataclass
class ModelTask:
    status: Status
    dependencies: tuple[UUID, ...]
    version: int = 1


@dataclass
class Model:
    """What the store should hold, in the simplest terms that can say it."""

    tasks: dict[UUID, ModelTask] = field(default_factory=dict)

    def graph(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.tasks)
        graph.add_edges_from((t, dep) for t, m in self.tasks.items() for dep in m.dependencies)
        return graph

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        return sorted((t for t, m in self.tasks.items() if task_id in m.dependencies), key=str)

    def blocking(self, dependencies: Iterable[UUID]) -> list[UUID]:
        """The existing dependencies that are not completed."""
        return [
            dep
            for dep in dependencies
            if dep in self.tasks and self.tasks[dep].status != Status.COMPLETED
        ]

    def refusals_for_dependencies(
        self, task_id: UUID | None, status: Status, dependencies: Iterable[UUID]
    ) -> Refusals:
        """What giving a task (``None``: a new one) these dependencies would break."""
        deps = list(dependencies)
        refusals: Refusals = set()
        if any(dep not in self.tasks for dep in deps):
            refusals.add(DependenciesNotFound)
        if status == Status.COMPLETED and self.blocking(deps):
            refusals.add(DependenciesNotCompleted)
        graph = self.graph()
        if task_id is not None and any(
            dep == task_id or (dep in graph and nx.has_path(graph, dep, task_id)) for dep in deps
        ):
            refusals.add(DependencyCycle)
        return refusals


def title_changes() -> st.SearchStrategy[str]:
    return st.sampled_from(["write the docs", "fix the build", "ship it"])


class TaskServiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # The in-memory store, a clock that ticks a second per read, ids UUID(int=1), ...
        self.harness = build_service(clock=FixedClock(tick=timedelta(seconds=1)))
        self.service = self.harness.tasks
        self.model = Model()
        # Every id ever created, deleted ones included: commands on them must be refused.
        self.known_ids: list[UUID] = []
        self.accepted_writes = 0

    # -- helpers ------------------------------------------------------------------------

    def stored_tasks(self) -> dict[UUID, Task]:
        """Everything in the store, read through the repository port (paged like the API)."""
        tasks: dict[UUID, Task] = {}
        with self.harness.uow_factory(WORKSPACE_ID) as uow:
            after = None
            while True:
                page = uow.tasks.find(TaskFilter(), 100, after)
                tasks.update((t.task_id, t) for t in page.tasks)
                if page.next_position is None:
                    return tasks
                after = page.next_position

    def outbox_events(self) -> list[Event]:
        """Committed, undelivered events, oldest first (nothing dispatches them here)."""
        return self.harness.events()

    def attempt(self, refusals: Refusals, command: Callable[[], Task]) -> Task | DomainError:
        """Run ``command``; it must be refused (with a predicted error) iff ``refusals``.

        A command breaking several rules may be refused for any one of them: which check runs
        first is the service's business, that none is skipped is the property.
        """
        events_before = len(self.outbox_events())
        outcome: Task | DomainError
        try:
            outcome = command()
        except DomainError as exc:
            outcome = exc
        if isinstance(outcome, Task):
            assert not refusals, f"accepted although it breaks {refusals}"
            return outcome
        event(f"refused: {outcome.code}")
        assert refusals, f"refused although the model allows it: {outcome!r}"
        assert type(outcome) in refusals, f"{outcome!r} is none of {refusals}"
        assert len(self.outbox_events()) == events_before, "a refused write left an event"
        return outcome

    def expect_one_new_event(self, kind: type[Event], task: Task, events_before: int) -> None:
        events = self.outbox_events()
        assert len(events) == events_before + 1, "one accepted write, one event"
        assert isinstance(events[-1], kind)
        assert events[-1].task == task
        self.accepted_writes += 1

    @staticmethod
    def expect_completion_allowed(task: Task, stored_before: dict[UUID, Task]) -> None:
        """A task written as completed had every dependency completed at that moment (judged
        against the store as it was, not against the model)."""
        if task.status == Status.COMPLETED:
            statuses = {dep: stored_before[dep].status for dep in task.dependencies}
            assert set(statuses.values()) <= {Status.COMPLETED}, statuses

    def accept_write(
        self, before: ModelTask, result: Task, events_before: int, stored_before: dict[UUID, Task]
    ) -> None:
        """An accepted update: either a real change (version + 1, one event) or a no-op."""
        if result.version == before.version:
            event("accepted: no change")
            assert len(self.outbox_events()) == events_before, "a no-op left an event"
            return
        event("accepted: updated")
        assert result.version == before.version + 1, "versions go up by exactly one per write"
        self.expect_completion_allowed(result, stored_before)
        self.expect_one_new_event(TaskUpdated, result, events_before)
        self.model.tasks[result.task_id] = ModelTask(
            result.status, result.dependencies, result.version
        )

    def draw_known_id(self, data: st.DataObject) -> UUID:
        return data.draw(st.sampled_from(self.known_ids), label="task")

    @staticmethod
    def draw_stale_version(data: st.DataObject, current: int) -> int:
        """Any version but the current one: older (a lost race) or newer (a confused client)."""
        others = [v for v in range(1, current + 3) if v != current]
        return data.draw(st.sampled_from(others), label="stale version")

    # -- rules --------------------------------------------------------------------------

    @initialize()
    def first_task(self) -> None:
        # Every other rule picks an existing id, so start with one (no preconditions needed).
        self.create_task(Status.PENDING, [])

    @rule(status=st.sampled_from(Status), data=st.data())
    def create(self, status: Status, data: st.DataObject) -> None:
        deps = data.draw(
            st.lists(st.sampled_from(self.known_ids), unique=True, max_size=3),
            label="dependencies",
        )
        self.create_task(status, deps)

    def create_task(self, status: Status, deps: list[UUID]) -> None:
        stored_before = self.stored_tasks()
        events_before = len(self.outbox_events())
        # A new task has no dependents yet, so it can close no cycle.
        refusals = self.model.refusals_for_dependencies(None, status, deps)
        command = CreateTask(title="new task", status=status, dependencies=tuple(deps))
        created = self.attempt(refusals, lambda: self.service.create(command))
        if isinstance(created, DomainError):
            return
        event("accepted: created")
        assert created.version == 1
        self.expect_completion_allowed(created, stored_before)
        self.expect_one_new_event(TaskCreated, created, events_before)
        self.model.tasks[created.task_id] = ModelTask(status, tuple(deps))
        self.known_ids.append(created.task_id)

    @rule(data=st.data())
    def set_dependencies(self, data: st.DataObject) -> None:
        task_id = self.draw_known_id(data)
        deps = data.draw(
            st.lists(st.sampled_from(self.known_ids), unique=True, max_size=3),
            label="dependencies",
        )
        self.update_dependencies(task_id, deps)

    @precondition(lambda self: any(self.model.dependents_of(t) for t in self.model.tasks))
    @rule(data=st.data())
    def close_a_cycle(self, data: st.DataObject) -> None:
        # Random picks seldom close a cycle: add a task that (transitively) depends on this one.
        graph = self.model.graph()
        depended_on = sorted((t for t in graph if graph.in_degree(t)), key=str)
        task_id = data.draw(st.sampled_from(depended_on), label="task")
        upstream = data.draw(st.sampled_from(sorted(nx.ancestors(graph, task_id), key=str)))
        current = self.model.tasks[task_id]
        self.update_dependencies(task_id, [*current.dependencies, upstream])

    def update_dependencies(self, task_id: UUID, deps: list[UUID]) -> None:
        current = self.model.tasks.get(task_id)
        refusals: Refusals
        if current is None:
            refusals = {TaskNotFound}
        elif task_id in deps:
            refusals = {DependencyCycle}
        elif tuple(deps) == current.dependencies:
            refusals = set()  # nothing changes
        else:
            refusals = self.model.refusals_for_dependencies(task_id, current.status, deps)
        stored_before = self.stored_tasks()
        version = current.version if current else 1
        events_before = len(self.outbox_events())
        command = UpdateTask(dependencies=tuple(deps))
        result = self.attempt(refusals, lambda: self.service.update(task_id, command, version))
        if isinstance(result, Task) and current is not None:
            assert result.dependencies == tuple(deps)
            self.accept_write(current, result, events_before, stored_before)

    @rule(new_status=st.sampled_from(Status), data=st.data())
    def change_status(self, new_status: Status, data: st.DataObject) -> None:
        task_id = self.draw_known_id(data)
        current = self.model.tasks.get(task_id)
        refusals: Refusals = set()
        if current is None:
            refusals.add(TaskNotFound)
        elif new_status != current.status:
            if new_status not in ALLOWED_TRANSITIONS[current.status]:
                refusals.add(InvalidTransition)
            if new_status == Status.COMPLETED and self.model.blocking(current.dependencies):
                refusals.add(DependenciesNotCompleted)
        stored_before = self.stored_tasks()
        version = current.version if current else 1
        events_before = len(self.outbox_events())
        command = UpdateTask(status=new_status)
        result = self.attempt(refusals, lambda: self.service.update(task_id, command, version))
        if isinstance(result, Task) and current is not None:
            assert result.status == new_status
            self.accept_write(current, result, events_before, stored_before)

    @rule(title=title_changes(), data=st.data())
    def stale_update(self, title: str, data: st.DataObject) -> None:
        task_id = self.draw_known_id(data)
        current = self.model.tasks.get(task_id)
        stale = self.draw_stale_version(data, current.version if current else 1)
        refusals: Refusals = {VersionConflict} if current else {TaskNotFound}
        command = UpdateTask(title=title)
        refused = self.attempt(refusals, lambda: self.service.update(task_id, command, stale))
        if isinstance(refused, VersionConflict) and current is not None:
            # The loser gets the current task, so it can retry without another read.
            assert refused.current.version == current.version

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        task_id = self.draw_known_id(data)
        current = self.model.tasks.get(task_id)
        # A delete may be unconditional, or conditional on the current or a stale version.
        condition = data.draw(st.sampled_from(["none", "current", "stale"]), label="condition")
        version: int | None = None
        refusals: Refusals = set()
        if current is None:
            refusals.add(TaskNotFound)
        elif condition == "stale":
            version = self.draw_stale_version(data, current.version)
            refusals.add(VersionConflict)
        else:
            version = current.version if condition == "current" else None
        if current is not None and self.model.dependents_of(task_id):
            refusals.add(HasDependents)
        events_before = len(self.outbox_events())
        deleted = self.attempt(refusals, lambda: self.service.delete(task_id, version))
        if isinstance(deleted, HasDependents):
            assert list(deleted.dependents) == self.model.dependents_of(task_id)
        if isinstance(deleted, DomainError):
            return
        event("accepted: deleted")
        self.expect_one_new_event(TaskDeleted, deleted, events_before)
        del self.model.tasks[task_id]

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def store_matches_the_model(self) -> None:
        stored = self.stored_tasks()
        assert set(stored) == set(self.model.tasks)
        for task_id, expected in self.model.tasks.items():
            task = stored[task_id]
            assert (task.status, task.dependencies, task.version) == (
                expected.status,
                expected.dependencies,
                expected.version,
            ), task_id

    @invariant()
    def the_dependency_graph_is_acyclic_and_closed(self) -> None:
        stored = self.stored_tasks()
        graph = nx.DiGraph()
        graph.add_nodes_from(stored)
        graph.add_edges_from((t.task_id, dep) for t in stored.values() for dep in t.dependencies)
        assert nx.is_directed_acyclic_graph(graph), nx.find_cycle(graph)
        assert set(graph.nodes) == set(stored), "a dependency points at a missing task"

    @invariant()
    def dependents_are_the_reversed_edges(self) -> None:
        stored = self.stored_tasks()
        with self.harness.uow_factory(WORKSPACE_ID) as uow:
            for task_id in self.known_ids:
                expected = sorted(
                    (t.task_id for t in stored.values() if task_id in t.dependencies), key=str
                )
                assert uow.tasks.dependents_of(task_id) == expected, task_id

    @invariant()
    def one_event_per_accepted_write(self) -> None:
        events = self.outbox_events()
        note(f"{len(events)} events in the outbox")
        assert len(events) == self.accepted_writes
        assert self.harness.on_commit.calls == self.accepted_writes
        assert len({e.event_id for e in events}) == len(events), "event ids are unique"
        assert {e.workspace_id for e in events} <= {WORKSPACE_ID}, "events name the workspace"
        assert all(e.task.workspace_id == e.workspace_id for e in events)


TestTaskService = TaskServiceMachine.TestCase
