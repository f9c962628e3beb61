"""TaskService queries: get, list (filters and page tokens) and dependents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskapi.domain.errors import InvalidPageToken, TaskNotFound
from taskapi.domain.model import Priority, Status, Task
from taskapi.service.commands import CreateTask, ListTasks
from tests.fakes.builders import make_task
from tests.fakes.clock import FixedClock
from tests.fakes.service import ServiceHarness, build_service


@pytest.fixture
def harness() -> ServiceHarness:
    # Every create gets its own instant, so creation order is listing order.
    return build_service(clock=FixedClock(tick=timedelta(seconds=1)))


def create_many(harness: ServiceHarness, count: int) -> list[Task]:
    return [
        harness.tasks.create(
            CreateTask(
                title=f"task {i}",
                status=list(Status)[i % 3],
                priority=list(Priority)[(i // 3) % 3],
                assignee="ana@example.com" if i % 2 else None,
            )
        )
        for i in range(count)
    ]


def list_all(harness: ServiceHarness, **query: object) -> tuple[list[Task], int]:
    tasks: list[Task] = []
    token: str | None = None
    pages = 0
    while True:
        page = harness.tasks.list_tasks(ListTasks.model_validate({**query, "next_token": token}))
        tasks += page.tasks
        pages += 1
        if page.next_token is None:
            return tasks, pages
        token = page.next_token


def test_get_of_an_unknown_task_is_not_found(harness: ServiceHarness) -> None:
    ghost = make_task().task_id
    with pytest.raises(TaskNotFound) as raised:
        harness.tasks.get(ghost)
    assert raised.value.details == {"task_id": str(ghost)}


def test_list_pages_through_every_task_in_creation_order(harness: ServiceHarness) -> None:
    tasks = create_many(harness, 11)
    first = harness.tasks.list_tasks(ListTasks(limit=4))
    assert first.limit == 4
    assert first.tasks == tasks[:4]
    listed, pages = list_all(harness, limit=4)
    assert listed == tasks
    assert pages == 3


@pytest.mark.parametrize(
    "query",
    [
        {"status": "in_progress"},
        {"priority": "high"},
        {"assignee": "ana@example.com"},
        {"status": "pending", "priority": "low"},
    ],
)
def test_list_filters_across_pages(harness: ServiceHarness, query: dict[str, str]) -> None:
    tasks = create_many(harness, 15)
    expected = [t for t in tasks if all(str(getattr(t, k)) == v for k, v in query.items())]
    assert expected  # the data covers every filter
    listed, _ = list_all(harness, limit=2, **query)
    assert listed == expected


def test_a_token_only_works_with_the_filters_it_was_issued_for(harness: ServiceHarness) -> None:
    create_many(harness, 9)  # three pending
    token = harness.tasks.list_tasks(ListTasks(limit=2, status=Status.PENDING)).next_token
    assert token is not None
    with pytest.raises(InvalidPageToken, match="different filters"):
        harness.tasks.list_tasks(ListTasks(limit=2, status=Status.COMPLETED, next_token=token))


def test_a_garbage_token_is_invalid(harness: ServiceHarness) -> None:
    with pytest.raises(InvalidPageToken):
        harness.tasks.list_tasks(ListTasks(next_token="not-a-token"))


def test_dependents_are_the_tasks_sorted_by_id(harness: ServiceHarness) -> None:
    target = harness.tasks.create(CreateTask(title="target"))
    dependents = [
        harness.tasks.create(CreateTask(title=f"d{i}", dependencies=(target.task_id,)))
        for i in range(3)
    ]
    harness.tasks.create(CreateTask(title="unrelated"))
    assert harness.tasks.dependents(target.task_id).tasks == sorted(
        dependents, key=lambda t: str(t.task_id)
    )
    assert harness.tasks.dependents(dependents[0].task_id).tasks == []


def test_dependents_of_an_unknown_task_is_not_found(harness: ServiceHarness) -> None:
    with pytest.raises(TaskNotFound):
        harness.tasks.dependents(make_task().task_id)
