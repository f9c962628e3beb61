"""DynamoDB access patterns: what each task operation costs in round trips and items, as the
table grows and as the dependency subgraph a write must check grows.

    .venv/bin/python -m benches dynamodb
    .venv/bin/python -m benches.bench_dynamodb --sizes 1000 50000 --subgraphs 10 100 1000
    .venv/bin/python -m benches.bench_dynamodb --endpoint-url http://localhost:8000

The production adapters run against a moto server (``tests/moto_server.py``, started here) or
any endpoint given (DynamoDB Local, say). Costs are counted from botocore's own events on the
client, not timed: ``provide-client-params`` fires once per API call (a round trip; it also
asks for ``ReturnConsumedCapacity``, and counts the items of each ``TransactWriteItems`` as
items written), ``after-call`` reads what each call returned (items read: ``GetItem`` 1,
``BatchGetItem`` the items returned, ``Query`` the items scanned). The counts are exact; moto's
capacity units are its own estimate.

Two experiments:

* **table size**: unrelated tasks are bulk-loaded (``BatchWriteItem``) up to each size, then
  the same operations run on a small working set. Every figure must stay flat: nothing scans.
* **reachable subgraph**: a task gets a dependency on the root of an existing graph (a chain,
  N levels deep, or a tree with fan-out 10). The cycle check reads the subgraph level by level,
  one ``BatchGetItem`` per level and 100 keys: items read grow with the subgraph, round trips
  with its depth, and nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from benches import aws_endpoint, markdown_table
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.items import DEPENDENT_ID, DEPENDENT_PREFIX, task_pk, task_values
from taskapi.adapters.dynamodb.table import PK, SK, TASKS_TABLE, create_table
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.domain.model import Task
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.commands import Access, CreateTask, ListDependents, ListTasks, UpdateTask
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.tasks import TaskPage, TaskService

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DEFAULT_SIZES = (1_000, 10_000, 50_000)
DEFAULT_SUBGRAPHS = (10, 100, 1_000)
WORKING_SET = 10  # dependencies of the measured task
BATCH_WRITE_ITEMS = 25
# The stream is not needed here, and in moto it makes every transaction copy more state.
BENCH_TABLE = dataclasses.replace(TASKS_TABLE, stream_view_type=None)
CAPACITY_OPERATIONS = {"GetItem", "BatchGetItem", "Query", "TransactWriteItems"}
_serializer = TypeSerializer()
# Every task of the bench lives in one workspace, owned by one caller.
WORKSPACE_ID = uuid.UUID("be4c0000-0000-4000-8000-000000000001")
CALLER = "cognito:bench"


# -- counting ------------------------------------------------------------------------------------


@dataclass
class Cost:
    calls: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    items_written: int = 0
    capacity: float = 0.0

    @property
    def round_trips(self) -> int:
        return sum(self.calls.values())

    def breakdown(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(self.calls.items()))


class Meter:
    """Counts the cost of whatever runs inside ``measure`` from the client's events."""

    def __init__(self, client: DynamoDBClient) -> None:
        self._cost: Cost | None = None
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._before_call)
        events.register("after-call.dynamodb.*", self._after_call)

    def measure(self, run: Callable[[], object]) -> Cost:
        self._cost = Cost()
        try:
            run()
            return self._cost
        finally:
            self._cost = None

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Once per API call, with its parameters (before retries, if any)."""
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if self._cost is None:
            return
        self._cost.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            self._cost.items_written += len(params["TransactItems"])

    def _after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if self._cost is None:
            return
        if model.name == "GetItem":
            self._cost.items_read += 1 if "Item" in parsed else 0
        elif model.name == "BatchGetItem":
            self._cost.items_read += sum(map(len, parsed.get("Responses", {}).values()))
        elif model.name == "Query":
            self._cost.items_read += parsed.get("ScannedCount", 0)
        consumed = parsed.get("ConsumedCapacity", [])
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self._cost.capacity += float(entry.get("CapacityUnits", 0.0))


# -- loading -------------------------------------------------------------------------------------


def task_item(task: Task) -> dict[str, Any]:
    values = task_values(WORKSPACE_ID, task).items()
    return {k: _serializer.serialize(v) for k, v in values if v is not None}


def edge_item(dependency: uuid.UUID, dependent: uuid.UUID) -> dict[str, Any]:
    return {
        PK: {"S": task_pk(WORKSPACE_ID, dependency)},
        SK: {"S": f"{DEPENDENT_PREFIX}{dependent}"},
        DEPENDENT_ID: {"S": str(dependent)},
    }


def batch_write(client: DynamoDBClient, table: str, items: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        chunk = items[start : start + BATCH_WRITE_ITEMS]
        requests: Any = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests:
            response = client.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])


def new_task(created_at: datetime, dependencies: Sequence[uuid.UUID] = ()) -> Task:
    return Task(
        task_id=uuid.uuid4(),
        workspace_id=WORKSPACE_ID,
        title="bench task",
        dependencies=tuple(dependencies),
        created_at=created_at,
        updated_at=created_at,
        version=1,
    )


def unrelated_tasks(count: int) -> Iterator[dict[str, Any]]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(count):
        yield task_item(new_task(start + timedelta(seconds=i)))


def dependency_graph(shape: str, size: int) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """A graph of ``size`` tasks as items (tasks and reverse edges), and its root: every task
    is reachable from the root through dependency edges."""
    now = datetime(2021, 1, 1, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(size)]
    children: dict[int, list[int]] = {i: [] for i in range(size)}
    for i in range(1, size):
        children[i - 1 if shape == "chain" else (i - 1) // 10].append(i)
    items: list[dict[str, Any]] = []
    for i, task_id in enumerate(ids):
        deps = [ids[c] for c in children[i]]
        task = new_task(now, deps).model_copy(update={"task_id": task_id})
        items.append(task_item(task))
        items += [edge_item(dep, task_id) for dep in deps]
    return ids[0], items


# -- experiments ---------------------------------------------------------------------------------


class BenchTasks:
    """The task service as ``CALLER`` sees it in ``WORKSPACE_ID``."""

    def __init__(self, service: TaskService) -> None:
        self._service = service
        self._access = Access(WORKSPACE_ID, CALLER)

    def create(self, command: CreateTask) -> Task:
        return self._service.create(self._access, command)

    def get(self, task_id: uuid.UUID) -> Task:
        return self._service.get(self._access, task_id)

    def update(self, task_id: uuid.UUID, command: UpdateTask, expected_version: int) -> Task:
        return self._service.update(self._access, task_id, command, expected_version)

    def dependents(self, task_id: uuid.UUID, query: ListDependents | None = None) -> TaskPage:
        return self._service.dependents(self._access, task_id, query)

    def list_tasks(self, query: ListTasks) -> TaskPage:
        return self._service.list_tasks(self._access, query)

    def delete(self, task_id: uuid.UUID) -> Task:
        return self._service.delete(self._access, task_id)


def build_service(client: DynamoDBClient, table: str) -> BenchTasks:
    uow_factory = DynamoDbUnitOfWorkFactory(
        client,
        table,
        EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi"),
        outbox_mode="stream",
    )
    now = datetime.now(UTC)
    workspace = Workspace(
        workspace_id=WORKSPACE_ID, name="bench", created_at=now, updated_at=now, version=1
    )
    with uow_factory() as uow:
        owner = Membership(workspace_id=WORKSPACE_ID, member=CALLER, role=Role.OWNER, added_at=now)
        uow.workspaces.add(workspace, owner)
        uow.commit()
    return BenchTasks(
        TaskService(
            uow_factory=uow_factory,
            clock=lambda: datetime.now(UTC),
            new_id=uuid.uuid4,
            page_tokens=PageTokenCodec(b"bench"),
        )
    )


class WorkingSet:
    """The operations measured at each table size, on a task with ``WORKING_SET`` dependencies."""

    def __init__(self, service: BenchTasks) -> None:
        self.service = service
        self.first = [self._create(f"dependency {i}") for i in range(WORKING_SET)]
        self.second = [self._create(f"other {i}") for i in range(WORKING_SET)]
        self.task: Task | None = None

    def _create(self, title: str) -> uuid.UUID:
        return self.service.create(CreateTask(title=title)).task_id

    def _current(self) -> Task:
        assert self.task is not None
        return self.task

    def create(self) -> None:
        self.task = self.service.create(CreateTask(title="measured", dependencies=self.first))

    def get(self) -> None:
        self.service.get(self._current().task_id)

    def replace_dependencies(self) -> None:
        task = self._current()
        change = UpdateTask(dependencies=self.second)
        self.task = self.service.update(task.task_id, change, task.version)

    def rename(self) -> None:
        task = self._current()
        self.task = self.service.update(task.task_id, UpdateTask(title="renamed"), task.version)

    def dependents(self) -> None:
        self.service.dependents(self.second[0])

    def list_page(self) -> None:
        self.service.list_tasks(ListTasks(limit=50))

    def delete(self) -> None:
        self.service.delete(self._current().task_id)

    def operations(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            (f"create with {WORKING_SET} dependencies", self.create),
            ("get", self.get),
            (f"update: replace the {WORKING_SET} dependencies", self.replace_dependencies),
            ("update: title only", self.rename),
            ("dependents of a dependency", self.dependents),
            ("list: first page of 50", self.list_page),
            ("delete", self.delete),
        ]


def table_size_rows(
    client: DynamoDBClient, meter: Meter, table: str, sizes: Sequence[int], repeats: int
) -> tuple[list[list[object]], list[list[object]]]:
    service = build_service(client, table)
    working_set = WorkingSet(service)
    loaded = 2 * WORKING_SET
    rows: list[list[object]] = []
    latency: list[list[object]] = []
    for size in sizes:
        batch_write(client, table, list(unrelated_tasks(size - loaded)))
        loaded = size
        for name, run in working_set.operations():
            rows.append(_row(name, f"{size:,}", meter.measure(run)))
        latency.append(_latency_row(client, table, service, size, repeats))
    return rows, latency


def _latency_row(
    client: DynamoDBClient, table: str, service: BenchTasks, size: int, repeats: int
) -> list[object]:
    """A create through the service next to the floor the emulator sets for it: a bare
    ``TransactWriteItems`` of the same shape (two puts, each ``attribute_not_exists``: the
    task and its outbox item), timed alternately on the same table. moto copies the table on
    every transaction, so both grow with the table; the difference is what our code adds."""

    def floor() -> None:
        items = [task_item(new_task(datetime.now(UTC))) for _ in range(2)]
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(PK)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
                for item in items
            ]
        )

    def ours() -> None:
        service.create(CreateTask(title="timed"))

    timings: dict[str, list[float]] = {"floor": [], "ours": []}
    for _ in range(repeats):
        for name, run in (("floor", floor), ("ours", ours)):
            started = time.perf_counter()
            run()
            timings[name].append((time.perf_counter() - started) * 1000)
    floor_ms, ours_ms = (statistics.median(timings[name]) for name in ("floor", "ours"))
    return [
        f"{size:,}",
        f"{floor_ms:.1f}",
        f"{ours_ms:.1f}",
        f"{ours_ms - floor_ms:.1f}",
        f"{ours_ms / floor_ms:.2f}x",
    ]


def subgraph_rows(
    client: DynamoDBClient, meter: Meter, table: str, sizes: Sequence[int]
) -> list[list[object]]:
    service = build_service(client, table)
    rows: list[list[object]] = []
    for shape in ("tree", "chain"):
        for size in sizes:
            root, items = dependency_graph(shape, size)
            batch_write(client, table, items)
            task = service.create(CreateTask(title="measured"))
            cost = meter.measure(
                lambda task=task, root=root: service.update(
                    task.task_id, UpdateTask(dependencies=[root]), 1
                )
            )
            rows.append(_row(f"add a dependency on a {shape}", f"{size:,}", cost))
    return rows


def _row(name: str, scale: str, cost: Cost) -> list[object]:
    return [
        name,
        scale,
        cost.round_trips,
        cost.breakdown(),
        cost.items_read,
        cost.items_written,
        f"{cost.capacity:.1f}",
    ]


HEADERS = (
    "operation",
    "{scale}",
    "round trips",
    "calls",
    "items read",
    "items written",
    "capacity units",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_dynamodb", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--subgraphs", type=int, nargs="+", default=list(DEFAULT_SUBGRAPHS))
    parser.add_argument("--endpoint-url", help="an endpoint to use instead of a moto server")
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed creates per table size (median)"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with aws_endpoint(args.endpoint_url) as endpoint:
        session = boto3.Session(
            region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        client = session.client("dynamodb", endpoint_url=endpoint)
        meter = Meter(client)
        growth_table, graph_table = (f"taskapi-bench-{uuid.uuid4().hex[:8]}" for _ in range(2))
        for table in (growth_table, graph_table):
            create_table(client, BENCH_TABLE, table)
        try:
            growth, latency = table_size_rows(
                client, meter, growth_table, sorted(args.sizes), args.repeats
            )
            graphs = subgraph_rows(client, meter, graph_table, sorted(args.subgraphs))
        finally:
            for table in (growth_table, graph_table):
                client.delete_table(TableName=table)

    print("DynamoDB cost per operation as the table grows (unrelated tasks):\n")
    print(markdown_table([h.format(scale="tasks in table") for h in HEADERS], growth))
    print("\nA create's latency against the emulator's own floor, same table, alternated:\n")
    latency_headers = (
        "tasks in table",
        "floor: bare TransactWriteItems, 2 conditional puts (ms)",
        "create via the service (ms)",
        "ours (ms)",
        "ratio",
    )
    print(markdown_table(latency_headers, latency))
    print("\nDynamoDB cost of the cycle check as the reachable subgraph grows:\n")
    print(markdown_table([h.format(scale="subgraph tasks") for h in HEADERS], graphs))
    print(f"\n(bench ran for {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
