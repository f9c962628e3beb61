"""The DynamoDB store beyond the shared repository contract: what only a store without locks
has to get right (races decided by conditions), DynamoDB's 100-item transaction limit, and
the access patterns (how many round trips each operation costs).

Races are played out deterministically: two units of work are interleaved by hand, step by
step, instead of hoping threads collide.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import pytest

from taskapi.adapters.aws.eventbridge import EventEntryBuilder, EventEntryTooLarge
from taskapi.adapters.dynamodb.items import TENTATIVE, edge_key
from taskapi.adapters.dynamodb.repository import STALE_TENTATIVE_EDGE
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.domain.errors import (
    DependenciesNotFound,
    DependencyCycle,
    HasDependents,
    InvalidPageToken,
    VersionConflict,
)
from taskapi.domain.model import MAX_DEPENDENCIES, Status, Task
from taskapi.service.commands import CreateTask, ListTasks, UpdateTask
from taskapi.service.ports import StoreUnavailable, TaskFilter
from tests.contract.test_eventbridge_entries import event_of_size
from tests.fakes.builders import WORKSPACE_ID, created_event, make_task
from tests.integration.dynamodb_store import (
    InDefaultWorkspace,
    WorkspaceTasks,
    counting,
    service,
    store,
)
from tests.moto_server import EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def uow_factory(dynamodb_client: DynamoDBClient, tasks_table: str) -> DynamoDbUnitOfWorkFactory:
    return store(dynamodb_client, tasks_table)


@pytest.fixture
def tasks(uow_factory: DynamoDbUnitOfWorkFactory) -> WorkspaceTasks:
    return service(uow_factory)


def create_many(tasks: WorkspaceTasks, count: int) -> list[Task]:
    return [tasks.create(CreateTask(title=f"task {i}")) for i in range(count)]


def seed(uow_factory: DynamoDbUnitOfWorkFactory, count: int) -> list[Task]:
    """``count`` unrelated tasks, stored 50 to a transaction (a transaction holds 100 items,
    one of them the workspace's): quicker than the service when a test only needs them to
    exist."""
    seeded = [make_task(title=f"seeded {i}") for i in range(count)]
    for start in range(0, count, 50):
        with uow_factory() as uow:
            for task in seeded[start : start + 50]:
                uow.tasks.add(task)
            uow.commit()
    return seeded


def dependents(uow_factory: DynamoDbUnitOfWorkFactory, task_id: UUID) -> list[UUID]:
    with uow_factory() as uow:
        return uow.tasks.dependents_of(task_id)


def sample(tasks: list[Task]) -> list[Task]:
    """First, last and every tenth: asking each of 100 tasks costs seconds on moto."""
    return [*tasks[::10], tasks[-1]]


def reverse_edges(client: DynamoDBClient, table: str) -> dict[tuple[UUID, UUID], bool]:
    """Every reverse-edge item in the table, (dependency, dependent) -> still tentative."""
    edges: dict[tuple[UUID, UUID], bool] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if item["SK"]["S"].startswith("DEPENDENT#"):
                dependency = item["PK"]["S"].rpartition("#")[2]  # WS#<ws>#TASK#<id>
                key = (UUID(dependency), UUID(item["dependent_id"]["S"]))
                edges[key] = TENTATIVE in item
    return edges


# -- the 100-item transaction limit -----------------------------------------------------------


def test_a_task_with_the_most_dependencies_commits_with_every_reverse_edge(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    deps = seed(uow_factory, MAX_DEPENDENCIES)  # 2 + 2 x 100 items: more than one transaction

    task = tasks.create(CreateTask(title="waits on all", dependencies=[d.task_id for d in deps]))

    assert tasks.get(task.task_id) == task
    # Every edge is there, settled after the commit (no reader has to verify it)...
    assert reverse_edges(dynamodb_client, tasks_table) == {
        (d.task_id, task.task_id): False for d in deps
    }
    with counting(dynamodb_client) as round_trips:
        assert all(dependents(uow_factory, d.task_id) == [task.task_id] for d in sample(deps))
    # ...so each dependents lookup is one read (the generation) and one query.
    assert round_trips.calls == {"GetItem": len(sample(deps)), "Query": len(sample(deps))}
    with pytest.raises(HasDependents):
        tasks.delete(deps[0].task_id)


def test_replacing_every_dependency_moves_every_reverse_edge(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    old = seed(uow_factory, MAX_DEPENDENCIES)
    new = seed(uow_factory, MAX_DEPENDENCIES)
    task = tasks.create(CreateTask(title="t", dependencies=[d.task_id for d in old]))

    # 100 edges added, 100 removed: 300 operations, so several transactions.
    updated = tasks.update(task.task_id, UpdateTask(dependencies=[d.task_id for d in new]), 1)

    assert updated.dependencies == tuple(d.task_id for d in new)
    assert reverse_edges(dynamodb_client, tasks_table) == {
        (d.task_id, task.task_id): False for d in new
    }
    assert all(dependents(uow_factory, d.task_id) == [] for d in sample(old))
    assert all(dependents(uow_factory, d.task_id) == [task.task_id] for d in sample(new))
    tasks.delete(old[-1].task_id)  # no longer anyone's dependency


def test_deleting_a_task_with_the_most_dependencies_releases_them(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    deps = seed(uow_factory, MAX_DEPENDENCIES)
    task = tasks.create(CreateTask(title="t", dependencies=[d.task_id for d in deps]))

    tasks.delete(task.task_id)  # 100 removed edges + task + event: more than one transaction

    assert reverse_edges(dynamodb_client, tasks_table) == {}
    assert all(dependents(uow_factory, d.task_id) == [] for d in sample(deps))
    for dep in deps[-3:]:
        tasks.delete(dep.task_id)


def test_a_large_write_that_fails_leaves_no_edge_a_reader_believes(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    deps = seed(uow_factory, MAX_DEPENDENCIES - 1)
    vanished = make_task()  # never stored: as if deleted after the service checked it
    task = make_task(dependencies=(*(d.task_id for d in deps), vanished.task_id))

    with uow_factory() as uow:
        uow.tasks.add(task)
        uow.outbox.add(created_event(task))
        with pytest.raises(DependenciesNotFound) as raised:
            uow.commit()

    assert raised.value.missing == (vanished.task_id,)
    assert tasks.get(deps[0].task_id) == deps[0]
    # The tentative edges of the chunks written before the failing one are still there...
    left = reverse_edges(dynamodb_client, tasks_table)
    assert left
    assert set(left) <= {(d.task_id, task.task_id) for d in deps}
    assert all(tentative for tentative in left.values())
    # ...but no reader believes them: the dependent's own item does not list the dependency.
    assert all(dependents(uow_factory, d.task_id) == [] for d in sample(deps))
    tasks.delete(deps[0].task_id)


def test_tentative_edges_a_write_left_behind_are_settled_by_the_first_reader_after_it(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    # A failed large write leaves tentative edges that are false; one interrupted after its
    # commit (before settling) leaves tentative edges that are true.
    deps = seed(uow_factory, MAX_DEPENDENCIES - 1)
    vanished = make_task()
    failed = make_task(dependencies=(*(d.task_id for d in deps), vanished.task_id))
    with uow_factory() as uow:
        uow.tasks.add(failed)
        uow.outbox.add(created_event(failed))
        with pytest.raises(DependenciesNotFound):
            uow.commit()
    real = tasks.create(CreateTask(title="real", dependencies=[deps[0].task_id]))
    dynamodb_client.update_item(
        TableName=tasks_table,
        Key=edge_key(WORKSPACE_ID, deps[0].task_id, real.task_id),
        UpdateExpression="SET tentative = :token, tentative_since = :since",
        ExpressionAttributeValues={":token": {"S": "interrupted"}, ":since": {"N": "0"}},
    )
    left = reverse_edges(dynamodb_client, tasks_table)
    assert left[(deps[0].task_id, real.task_id)] is True
    assert any(dependent == failed.task_id for _, dependent in left)

    # Read within the stale window: answered right, nothing settled yet (a write may be in
    # flight)...
    assert dependents(uow_factory, deps[0].task_id) == [real.task_id]
    assert reverse_edges(dynamodb_client, tasks_table).get((deps[0].task_id, failed.task_id))
    # ...and once no write can be in flight any more, the reader settles them for good.
    later = datetime.now(UTC) + STALE_TENTATIVE_EDGE + timedelta(minutes=1)
    reader = InDefaultWorkspace(
        dynamodb_client,
        tasks_table,
        EventEntryBuilder(source=EVENT_SOURCE, event_bus_name="taskapi-test"),
        outbox_mode="polling",
        now=lambda: later,
    )
    assert dependents(reader, deps[0].task_id) == [real.task_id]

    settled = reverse_edges(dynamodb_client, tasks_table)
    assert settled[(deps[0].task_id, real.task_id)] is False  # confirmed: no longer tentative
    assert (deps[0].task_id, failed.task_id) not in settled  # false: deleted
    assert dependents(uow_factory, deps[0].task_id) == [real.task_id]


# -- races decided by conditions --------------------------------------------------------------


def test_a_dependency_deleted_before_the_dependent_commits_is_reported_missing(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory
) -> None:
    dep = tasks.create(CreateTask(title="dep"))
    task = make_task(dependencies=(dep.task_id,))

    with uow_factory() as writer:
        assert writer.tasks.get_many([dep.task_id])  # the service's existence check passes
        tasks.delete(dep.task_id)  # ...then another request deletes the dependency
        writer.tasks.add(task)
        writer.outbox.add(created_event(task))
        with pytest.raises(DependenciesNotFound):
            writer.commit()

    assert tasks.list_tasks(ListTasks()).tasks == []


def test_a_dependent_added_before_the_delete_commits_blocks_the_delete(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory
) -> None:
    dep = tasks.create(CreateTask(title="dep"))

    with uow_factory() as deleter:
        current = deleter.tasks.get(dep.task_id)
        assert current is not None
        assert deleter.tasks.dependents_of(dep.task_id) == []  # the service's check passes
        late = tasks.create(CreateTask(title="late", dependencies=[dep.task_id]))
        deleter.tasks.remove(current)
        with pytest.raises(HasDependents) as raised:
            deleter.commit()

    assert raised.value.dependents == (late.task_id,)
    assert tasks.get(dep.task_id) == dep


def test_concurrent_graph_walks_cannot_close_a_cycle(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory
) -> None:
    a, b = create_many(tasks, 2)

    with uow_factory() as first:
        # "a depends on b": the walk from b finds no way back to a...
        current = first.tasks.get(a.task_id)
        assert current is not None
        assert first.tasks.dependencies_of([b.task_id]) == {b.task_id: ()}
        # ...meanwhile "b depends on a" walks from a, finds nothing either, and commits.
        tasks.update(b.task_id, UpdateTask(dependencies=[a.task_id]), 1)
        first.tasks.update(
            current.model_copy(update={"dependencies": (b.task_id,), "version": 2}), 1
        )
        with pytest.raises(StoreUnavailable):
            first.commit()  # the graph changed since the walk began: retry

    with pytest.raises(DependencyCycle):  # the retry walks the new graph
        tasks.update(a.task_id, UpdateTask(dependencies=[b.task_id]), 1)


def test_a_write_that_only_removes_dependencies_does_not_wait_for_the_graph(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory
) -> None:
    a, b, c, d = create_many(tasks, 4)
    a = tasks.update(a.task_id, UpdateTask(dependencies=[b.task_id, c.task_id]), 1)

    with uow_factory() as remover:
        # "a no longer depends on c": the service still checks the remaining dependency...
        current = remover.tasks.get(a.task_id)
        assert current is not None
        assert remover.tasks.dependencies_of([b.task_id]) == {b.task_id: ()}
        # ...meanwhile another write adds an edge elsewhere and advances the graph counter.
        tasks.update(c.task_id, UpdateTask(dependencies=[d.task_id]), 1)
        remover.tasks.update(
            current.model_copy(update={"dependencies": (b.task_id,), "version": 3}), 2
        )
        remover.commit()  # removing edges cannot close a cycle: no reason to refuse

    assert tasks.get(a.task_id).dependencies == (b.task_id,)
    assert dependents(uow_factory, c.task_id) == []


def test_a_delete_that_relied_on_a_tentative_edge_cannot_commit_under_a_large_write(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    dep, other, elsewhere = create_many(tasks, 3)
    in_flight = make_task(dependencies=(dep.task_id,))  # a large write between steps 2 and 3
    dynamodb_client.put_item(
        TableName=tasks_table,
        Item={
            **edge_key(WORKSPACE_ID, dep.task_id, in_flight.task_id),
            "dependent_id": {"S": str(in_flight.task_id)},
            TENTATIVE: {"S": "token-of-the-large-write"},
        },
    )

    with uow_factory() as deleter:
        current = deleter.tasks.get(dep.task_id)
        assert current is not None
        # The tentative edge is not believed: the writer's task does not exist (yet)...
        assert deleter.tasks.dependents_of(dep.task_id) == []
        # ...and then a graph-guarded commit lands (as the large write's final step would).
        tasks.update(other.task_id, UpdateTask(dependencies=[elsewhere.task_id]), 1)
        deleter.tasks.remove(current)
        with pytest.raises(StoreUnavailable):
            deleter.commit()

    assert tasks.get(dep.task_id) == dep


def test_one_of_many_concurrent_updates_wins_and_every_loser_sees_the_winner(
    tasks: WorkspaceTasks,
) -> None:
    task = tasks.create(CreateTask(title="contended"))
    writers = 8
    start = threading.Barrier(writers)

    def update(i: int) -> Task | VersionConflict:
        start.wait()
        try:
            return tasks.update(task.task_id, UpdateTask(title=f"writer {i}"), 1)
        except VersionConflict as conflict:
            return conflict

    with ThreadPoolExecutor(max_workers=writers) as pool:
        outcomes = list(pool.map(update, range(writers)))

    winners = [o for o in outcomes if isinstance(o, Task)]
    losers = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert len(winners) == 1
    assert len(losers) == writers - 1
    assert all(loser.current == winners[0] for loser in losers)
    assert tasks.get(task.task_id) == winners[0]
    assert winners[0].version == 2


def test_a_conflict_carries_the_current_task_without_another_read(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    task = tasks.create(CreateTask(title="v1"))

    with uow_factory() as uow:
        read = uow.tasks.get(task.task_id)
        assert read == task
        winner = tasks.update(task.task_id, UpdateTask(title="v2"), 1)  # another request
        uow.tasks.update(task.model_copy(update={"title": "stale", "version": 2}), 1)
        uow.outbox.add(created_event(task))
        with counting(dynamodb_client) as round_trips, pytest.raises(VersionConflict) as raised:
            uow.commit()

    assert raised.value.current == winner
    # The current task came back with the failed condition
    # (ReturnValuesOnConditionCheckFailure=ALL_OLD), not from another read.
    assert round_trips.calls == {"TransactWriteItems": 1}


# -- events ------------------------------------------------------------------------------------


def test_an_event_too_large_to_publish_is_refused_before_anything_is_written(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory
) -> None:
    task = make_task()
    with uow_factory() as uow:
        uow.tasks.add(task)
        with pytest.raises(EventEntryTooLarge):
            uow.outbox.add(event_of_size(300_000))
    assert tasks.list_tasks(ListTasks()).tasks == []
    assert uow_factory.outbox_reader().pending(10) == []


# -- access patterns -----------------------------------------------------------------------


def test_a_page_of_tasks_is_one_query_and_one_batch_get(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    create_many(tasks, 30)
    with uow_factory() as uow, counting(dynamodb_client) as round_trips:
        page = uow.tasks.find(TaskFilter(), 10, None)
    assert len(page.tasks) == 10
    assert page.next_position is not None
    assert round_trips.calls == {"Query": 1, "BatchGetItem": 1}


def test_a_filter_that_discards_most_entries_still_fills_every_page_but_the_last(
    tasks: WorkspaceTasks,
) -> None:
    for i in range(40):
        created = tasks.create(CreateTask(title=f"task {i}"))
        if i % 8 == 0:
            tasks.update(created.task_id, UpdateTask(status=Status.COMPLETED), 1)

    sizes = []
    token = None
    while True:
        page = tasks.list_tasks(ListTasks(status=Status.COMPLETED, limit=2, next_token=token))
        sizes.append(len(page.tasks))
        assert all(t.status == Status.COMPLETED for t in page.tasks)
        token = page.next_token
        if token is None:
            break
    assert sizes == [2, 2, 1]


def test_a_position_that_is_not_this_stores_is_a_bad_page_token(
    uow_factory: DynamoDbUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        for position in (
            {"created_at": "yesterday", "task_id": "x"},
            {"PK": {"S": "TASK#1"}, "SK": {"S": "TASK"}},
            {"created_at": "2025-01-01T00:00:00+00:00"},
        ):
            with pytest.raises(InvalidPageToken):
                uow.tasks.find(TaskFilter(), 10, position)


def test_dependents_are_one_read_and_one_query(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    dep = tasks.create(CreateTask(title="dep"))
    waiting = [tasks.create(CreateTask(title="w", dependencies=[dep.task_id])) for _ in range(5)]
    with uow_factory() as uow, counting(dynamodb_client) as round_trips:
        found = uow.tasks.dependents_of(dep.task_id)
    assert found == sorted((t.task_id for t in waiting), key=str)
    assert round_trips.calls == {"GetItem": 1, "Query": 1}


def test_a_page_of_dependents_is_one_query_and_one_batch_read(
    tasks: WorkspaceTasks, uow_factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    dep = tasks.create(CreateTask(title="dep"))
    waiting = [tasks.create(CreateTask(title="w", dependencies=[dep.task_id])) for _ in range(5)]
    with uow_factory() as uow, counting(dynamodb_client) as round_trips:
        page = uow.tasks.find_dependents(dep.task_id, 3, None)
    assert page.tasks == sorted(waiting, key=lambda t: str(t.task_id))[:3]
    assert page.next_position is not None
    assert round_trips.calls == {"Query": 1, "BatchGetItem": 1}


def test_a_page_of_dependents_believes_a_tentative_edge_only_when_it_holds(
    tasks: WorkspaceTasks,
    uow_factory: DynamoDbUnitOfWorkFactory,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
) -> None:
    dep = tasks.create(CreateTask(title="dep"))
    real = [tasks.create(CreateTask(title="w", dependencies=[dep.task_id])) for _ in range(3)]
    phantoms = [make_task() for _ in range(4)]  # large writes in flight: not stored (yet)
    for dependent in [*phantoms, real[0]]:  # real[0]'s edge too, as a write confirming it
        dynamodb_client.put_item(
            TableName=tasks_table,
            Item={
                "PK": {"S": f"TASK#{dep.task_id}"},
                "SK": {"S": f"DEPENDENT#{dependent.task_id}"},
                "dependent_id": {"S": str(dependent.task_id)},
                TENTATIVE: {"S": "token-of-a-large-write"},
            },
        )

    pages: list[list[Task]] = []
    after = None
    while True:
        with uow_factory() as uow:
            page = uow.tasks.find_dependents(dep.task_id, 2, after)
        pages.append(page.tasks)
        after = page.next_position
        if after is None:
            break

    # Full pages although phantom edges sit between the real ones; only the real tasks.
    assert [len(p) for p in pages] == [2, 1]
    assert [t for p in pages for t in p] == sorted(real, key=lambda t: str(t.task_id))
