"""The Lambda handler in-process: requests per second without sockets or a store on disk.

    .venv/bin/python -m benches handler
    .venv/bin/python -m benches.bench_handler --requests 5000 --repeat 5

Each request is an API Gateway REST proxy event, built beforehand with the same code the local
server uses (``taskapi.local.proxy``), handed to ``taskapi.entrypoints.api.
lambda_handler`` with a runtime on the in-memory store installed through
``bootstrap.override_runtime``. What is measured is everything a warm Lambda invocation does
in Python: Powertools routing and validation, the service, the store, serialisation, and the
structured log and metric lines (written to /dev/null here, to stdout in Lambda).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benches import markdown_table
from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.api import lambda_handler
from taskapi.local.proxy import HttpRequest, LocalLambdaContext, to_proxy_event
from taskapi.service.commands import Access, CreateTask, CreateWorkspace

JSON = ("Content-Type", "application/json")
SEEDED_TASKS = 100
# Every request is made by one Cognito user, the owner of the workspace the tasks live in.
CALLER_SUB = "bench-user"
CALLER = f"cognito:{CALLER_SUB}"
CLAIMS = {"sub": CALLER_SUB, "token_use": "id"}


@dataclass(frozen=True)
class Invocation:
    event: dict[str, Any]
    context: LocalLambdaContext


@dataclass(frozen=True)
class Outcome:
    seconds: float
    latencies: list[float]
    statuses: Counter[int]


@contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Silence the handler's log and metric lines at the file-descriptor level.

    Powertools' logger holds its own reference to the stream, so swapping ``sys.stdout`` would
    not reach it; the lines are still formatted and written, as in Lambda, just not shown.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def invocation(
    method: str,
    target: str,
    body: Any = None,
    headers: list[tuple[str, str]] | None = None,
    claims: dict[str, str] | None = None,
) -> Invocation:
    context = LocalLambdaContext()
    request = HttpRequest(
        method=method,
        target=target,
        headers=[JSON, *(headers or [])],
        body=b"" if body is None else json.dumps(body).encode(),
    )
    event = to_proxy_event(request, request_id=context.aws_request_id, claims=claims)
    return Invocation(event, context)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def run(handler: Handler, calls: list[Invocation]) -> Outcome:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    with stdout_to_devnull():
        started = time.perf_counter()
        for call in calls:
            before = time.perf_counter()
            response = handler(call.event, call.context)
            latencies.append(time.perf_counter() - before)
            statuses[response["statusCode"]] += 1
        seconds = time.perf_counter() - started
    return Outcome(seconds, latencies, statuses)


class FloorBody(BaseModel):
    title: str


class FloorTask(BaseModel):
    task_id: str
    title: str


def floor_handler() -> Handler:
    """The floor, measured in the same run: Powertools' REST resolver with validation, one
    Pydantic body model and a dict for a store; no logging, metrics, tracing or error table.
    What any validated Powertools API pays per request in Python."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: PLC0415

    app = APIGatewayRestResolver(enable_validation=True)
    tasks: dict[str, FloorTask] = {}

    @app.post("/tasks")
    def create(body: FloorBody) -> tuple[FloorTask, int]:
        task = FloorTask(task_id=str(uuid.uuid4()), title=body.title)
        tasks[task.task_id] = task
        return task, 201

    @app.get("/tasks/<task_id>")
    def get(task_id: str) -> FloorTask:
        return tasks.get(task_id) or FloorTask(task_id=task_id, title="?")

    return app.resolve  # type: ignore[return-value]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (best kept)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="taskapi-bench-") as data_dir:
        runtime = bootstrap.build_runtime(Settings(store="memory", data_dir=Path(data_dir)))
        with bootstrap.override_runtime(runtime):
            return measure(lambda_handler, runtime, args.requests, args.repeat)


def measure(
    handler: Handler,
    runtime: bootstrap.Runtime,
    requests: int,
    repeat: int,
) -> int:
    workspace = runtime.workspaces.create(CALLER, CreateWorkspace(name="bench"))
    access = Access(workspace.workspace_id, CALLER)
    tasks = f"/workspaces/{workspace.workspace_id}/tasks"
    seeded = [
        runtime.service.create(access, CreateTask(title=f"seed {n}")) for n in range(SEEDED_TASKS)
    ]
    cases: dict[str, tuple[int, Callable[[int], Invocation]]] = {
        "GET /tasks/{id}": (
            200,
            lambda n: invocation(
                "GET", f"{tasks}/{seeded[n % SEEDED_TASKS].task_id}", claims=CLAIMS
            ),
        ),
        "GET /tasks?limit=20": (
            200,
            lambda _n: invocation("GET", f"{tasks}?limit=20", claims=CLAIMS),
        ),
        "POST /tasks": (
            201,
            lambda n: invocation("POST", tasks, {"title": f"task {n}"}, claims=CLAIMS),
        ),
        "POST /tasks + Idempotency-Key": (
            201,
            lambda n: invocation(
                "POST",
                tasks,
                {"title": f"task {n}"},
                [("Idempotency-Key", f"bench-{time.monotonic_ns()}-{n}")],
                claims=CLAIMS,
            ),
        ),
    }
    rows: list[list[object]] = []
    unexpected: dict[str, Counter[int]] = {}
    handler(invocation("GET", "/health").event, LocalLambdaContext())  # warm-up: first call
    for name, (expected_status, build) in cases.items():
        best: Outcome | None = None
        for _ in range(repeat):
            calls = [build(n) for n in range(requests)]  # built outside the timed loop
            outcome = run(handler, calls)
            if set(outcome.statuses) != {expected_status}:
                unexpected[name] = outcome.statuses
            if best is None or outcome.seconds < best.seconds:
                best = outcome
        assert best is not None
        rows.append(
            [
                name,
                f"{requests:,}",
                f"{requests / best.seconds:,.0f}",
                f"{statistics.mean(best.latencies) * 1e6:,.0f}",
                f"{percentile(best.latencies, 0.5) * 1e6:,.0f}",
                f"{percentile(best.latencies, 0.99) * 1e6:,.0f}",
            ]
        )
    floor = floor_handler()
    for name, build in (
        ("floor: GET (resolver + validation)", lambda n: invocation("GET", f"/tasks/{n}")),
        (
            "floor: POST (resolver + validation)",
            lambda n: invocation("POST", "/tasks", {"title": f"t{n}"}),
        ),
    ):
        best_floor = min(
            (run(floor, [build(n) for n in range(requests)]) for _ in range(repeat)),
            key=lambda outcome: outcome.seconds,
        )
        rows.append(
            [
                name,
                f"{requests:,}",
                f"{requests / best_floor.seconds:,.0f}",
                f"{statistics.mean(best_floor.latencies) * 1e6:,.0f}",
                f"{percentile(best_floor.latencies, 0.5) * 1e6:,.0f}",
                f"{percentile(best_floor.latencies, 0.99) * 1e6:,.0f}",
            ]
        )
    print(f"lambda_handler in-process, memory store, best of {repeat} runs per case\n")
    print(
        markdown_table(["request", "requests", "req/s", "mean (µs)", "p50 (µs)", "p99 (µs)"], rows)
    )
    for name, statuses in unexpected.items():
        print(f"\nunexpected statuses for {name}: {dict(statuses)}", file=sys.stderr)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
