"""Contention on the graph counter: K workspaces x concurrent writers adding dependencies.

    .venv/bin/python -m benches contention
    .venv/bin/python -m benches.bench_contention --workspaces 4 --writers 2 --edits 25

Every write that adds a dependency after its cycle check is conditional on its workspace's
``GRAPH`` generation (docs/aws.md#the-graph-counter-what-it-costs-and-why-it-stays); a write
that loses the race is a 503 (``StoreUnavailable``) and retries. Before workspaces there was
one counter for the table, so every such write conflicted with every other; now there is one
per workspace. Three runs, each on a fresh table of the same moto server
(``tests/moto_server.py``, started here, or ``--endpoint-url``):

* **same workspace (baseline)**: K x W writers, all in one workspace: they conflict;
* **K workspaces, 1 writer each**: the same number of concurrent writers spread over K
  workspaces, one each. Any 503 here would be a conflict *across* workspaces: it must be 0;
* **K workspaces, W writers each**: conflicts only among a workspace's own W writers.

Each writer owns a chain of tasks in its workspace and links them one edit at a time
(``update(dependencies=[previous])``, through ``TaskService``), so writers never conflict on a
task's version, only on the counter. A writer retries a 503 after a short jittered pause
(``--backoff-ms``, not the 1 s ``Retry-After`` a client would honour: the bench measures the
conflicts, not the wait). moto serves one request at a time, so absolute throughput is the
emulator's, not DynamoDB's; the conflict counts are what the comparison is about.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3

from benches import aws_endpoint, markdown_table
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.table import TASKS_TABLE, create_table
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.commands import Access, CreateTask, UpdateTask
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import StoreUnavailable
from taskapi.service.tasks import TaskService

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

CALLER = "cognito:bench-writer"
BENCH_TABLE = dataclasses.replace(TASKS_TABLE, stream_view_type=None)
MAX_ATTEMPTS = 200


@dataclass
class WriterResult:
    workspace: int
    edits: int = 0
    conflicts: int = 0  # 503s: the graph generation moved between the walk and the commit
    seconds: float = 0.0


def new_workspace(factory: DynamoDbUnitOfWorkFactory) -> uuid.UUID:
    now = datetime.now(UTC)
    workspace = Workspace(
        workspace_id=uuid.uuid4(), name="bench", created_at=now, updated_at=now, version=1
    )
    owner = Membership(
        workspace_id=workspace.workspace_id, member=CALLER, role=Role.OWNER, added_at=now
    )
    with factory() as uow:
        uow.workspaces.add(workspace, owner)
        uow.commit()
    return workspace.workspace_id


def write_chain(
    tasks: TaskService,
    access: Access,
    result: WriterResult,
    edits: int,
    backoff: float,
    start: threading.Barrier,
) -> None:
    chain = [tasks.create(access, CreateTask(title=f"link {i}")) for i in range(edits + 1)]
    start.wait()
    began = time.perf_counter()
    for previous, task in itertools.pairwise(chain):
        for _ in range(MAX_ATTEMPTS):
            try:
                tasks.update(access, task.task_id, UpdateTask(dependencies=[previous.task_id]), 1)
                break
            except StoreUnavailable:
                result.conflicts += 1
                time.sleep(random.uniform(0, backoff))
        else:
            raise RuntimeError("an edit made no progress")
        result.edits += 1
    result.seconds = time.perf_counter() - began


def run(
    client: DynamoDBClient, layout: list[int], edits: int, backoff: float
) -> list[WriterResult]:
    """One writer per entry of ``layout`` (the index of its workspace), all at once."""
    table = f"taskapi-bench-{uuid.uuid4().hex[:8]}"
    create_table(client, BENCH_TABLE, table)
    try:
        factory = DynamoDbUnitOfWorkFactory(
            client,
            table,
            EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi"),
            outbox_mode="stream",
        )
        tasks = TaskService(
            uow_factory=factory,
            clock=lambda: datetime.now(UTC),
            new_id=uuid.uuid4,
            page_tokens=PageTokenCodec(b"bench"),
        )
        workspaces = [new_workspace(factory) for _ in range(max(layout) + 1)]
        results = [WriterResult(index) for index in layout]
        start = threading.Barrier(len(layout))
        with ThreadPoolExecutor(max_workers=len(layout)) as pool:
            futures = [
                pool.submit(
                    write_chain,
                    tasks,
                    Access(workspaces[result.workspace], CALLER),
                    result,
                    edits,
                    backoff,
                    start,
                )
                for result in results
            ]
            for future in futures:
                future.result()
        return results
    finally:
        client.delete_table(TableName=table)


def summary(scenario: str, label: str, group: list[WriterResult]) -> list[object]:
    edits = sum(r.edits for r in group)
    conflicts = sum(r.conflicts for r in group)
    seconds = max(r.seconds for r in group)
    share = 100 * conflicts / (edits + conflicts)
    return [scenario, label, len(group), edits, conflicts, f"{share:.1f}", f"{edits / seconds:.1f}"]


def rows(scenario: str, results: list[WriterResult]) -> list[list[object]]:
    """One row per workspace, then the whole run."""
    by_workspace: dict[int, list[WriterResult]] = {}
    for result in results:
        by_workspace.setdefault(result.workspace, []).append(result)
    table = [
        summary(scenario, f"ws {workspace + 1}", group)
        for workspace, group in sorted(by_workspace.items())
    ]
    if len(by_workspace) > 1:
        table.append(summary(scenario, "all", results))
    return table


HEADERS = (
    "scenario",
    "workspace",
    "writers",
    "edits",
    "503s (retries)",
    "503s per attempt (%)",
    "edits/s",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_contention", description=__doc__)
    parser.add_argument("--workspaces", type=int, default=4, help="K")
    parser.add_argument("--writers", type=int, default=2, help="W: writers per workspace")
    parser.add_argument("--edits", type=int, default=20, help="dependency edits per writer")
    parser.add_argument("--backoff-ms", type=float, default=20.0)
    parser.add_argument("--endpoint-url", help="an endpoint to use instead of a moto server")
    args = parser.parse_args(argv)
    k, w, backoff = args.workspaces, args.writers, args.backoff_ms / 1000
    # Each 503 logs a warning: counted here instead.
    logging.getLogger("taskapi").setLevel(logging.ERROR)

    started = time.perf_counter()
    with aws_endpoint(args.endpoint_url) as endpoint:
        session = boto3.Session(
            region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        client = session.client("dynamodb", endpoint_url=endpoint)
        scenarios = [
            (f"same workspace: {k * w} writers in 1", [0] * (k * w)),
            (f"{k} workspaces x 1 writer", list(range(k))),
            (f"{k} workspaces x {w} writers", [i for i in range(k) for _ in range(w)]),
        ]
        table: list[list[object]] = []
        cross = 0
        for name, layout in scenarios:
            results = run(client, layout, args.edits, backoff)
            table += rows(name, results)
            if len(set(layout)) == len(layout):  # one writer per workspace
                cross += sum(r.conflicts for r in results)

    print("Dependency edits under contention (each edit: cycle check + graph-guarded commit):\n")
    print(markdown_table(HEADERS, table))
    print(f"\nconflicts across workspaces (one writer per workspace): {cross}")
    print(f"\n(bench ran for {time.perf_counter() - started:.0f} s)")
    return 0 if cross == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
