"""Cold starts: a fresh interpreter, the handler's import, and its first successful answer.

    .venv/bin/python -m benches cold_start
    .venv/bin/python -m benches.bench_cold_start --runs 15

Each run is a new ``python`` process, timed from its spawn until it prints that its first
invocation succeeded: what Lambda's init plus first invoke cost in Python, without the
runtime's own download and start. Every function is measured, on the in-memory store and on
the DynamoDB path against a moto server (started here); the runs of all scenarios alternate,
so a busy machine slows them alike. The **floor** is measured in the same runs: a minimal
handler (Powertools' REST resolver and one boto3 ``GetItem``, nothing else), so each figure is
also a ratio to what any Python API on Lambda pays. ``-X importtime`` gives, for the API
handler, where the import time goes by top-level package.

The first rows run from the project's virtual environment, whose bytecode caches are warm. The
**deployed** rows run the floor and the API the way Lambda does: from a directory laid out like
the function's artifact (``tools/package.py``'s code closure and the locked wheels, for this
machine's Python and platform) on the base interpreter, with ``__pycache__`` read-only in
effect (``PYTHONDONTWRITEBYTECODE``): once with the builder's bytecode, once from the sources
alone, which is what every cold start pays when the artifact carries no ``.pyc`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from unittest import mock

import boto3
from tools import package

from benches import aws_endpoint, markdown_table
from taskapi import bootstrap
from taskapi.adapters.dynamodb.table import IDEMPOTENCY_TABLE, TASKS_TABLE, create_table
from taskapi.config import Settings
from taskapi.domain.events import TaskCreated, new_event_fields
from taskapi.domain.model import Task
from taskapi.local.proxy import HttpRequest, to_proxy_event
from taskapi.service.commands import Access, CreateTask, CreateWorkspace

REPO = Path(__file__).resolve().parent.parent
# The caller of every API request: a Cognito user, as API Gateway's authorizer passes it.
SUBJECT = "0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21"
CALLER = f"cognito:{SUBJECT}"
NOW = "2030-04-20T09:30:00+00:00"

# Each child prints READY after its first successful invocation; anything else is a failure.
_CONTEXT = """
class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "bench-1"; log_group_name = "/aws/lambda/bench"; log_stream_name = "s"
    def get_remaining_time_in_millis(self): return 20000
"""
CHILDREN = {
    "floor": _CONTEXT
    + """
import json, os
import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
app = APIGatewayRestResolver()
client = boto3.client("dynamodb", endpoint_url=os.environ["TASKAPI_AWS_ENDPOINT_URL"],
                      region_name="us-east-1")
@app.get("/workspaces/<workspace_id>/tasks/<task_id>")
def get_task(workspace_id, task_id):
    item = client.get_item(TableName=os.environ["TASKAPI_TABLE_NAME"], ConsistentRead=True,
                           Key={"PK": {"S": f"WS#{workspace_id}#TASK#{task_id}"},
                                "SK": {"S": "TASK"}})["Item"]
    return {"task_id": item["task_id"]["S"]}
def lambda_handler(event, context):
    return app.resolve(event, context)
reply = lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
assert reply["statusCode"] == 200, reply
print("READY", flush=True)
""",
    # The floor plus what validation costs: Powertools' OpenAPI validation (which needs
    # Pydantic) and one Pydantic model for the reply. Not the target's floor: where the gap
    # between the API and the floor goes.
    "floor_validated": _CONTEXT
    + """
import json, os
import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel
class TaskView(BaseModel):
    task_id: str
app = APIGatewayRestResolver(enable_validation=True)
client = boto3.client("dynamodb", endpoint_url=os.environ["TASKAPI_AWS_ENDPOINT_URL"],
                      region_name="us-east-1")
@app.get("/workspaces/<workspace_id>/tasks/<task_id>")
def get_task(workspace_id: str, task_id: str) -> TaskView:
    item = client.get_item(TableName=os.environ["TASKAPI_TABLE_NAME"], ConsistentRead=True,
                           Key={"PK": {"S": f"WS#{workspace_id}#TASK#{task_id}"},
                                "SK": {"S": "TASK"}})["Item"]
    return TaskView(task_id=item["task_id"]["S"])
def lambda_handler(event, context):
    return app.resolve(event, context)
reply = lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
assert reply["statusCode"] == 200, reply
print("READY", flush=True)
""",
    "api": _CONTEXT
    + """
import json, os
from taskapi.entrypoints.api import lambda_handler
reply = lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
assert reply["statusCode"] == int(os.environ["BENCH_STATUS"]), reply
print("READY", flush=True)
""",
    "relay": _CONTEXT
    + """
import json, os
from taskapi.entrypoints.relay import lambda_handler
event = json.loads(os.environ["BENCH_EVENT"])
reply = lambda_handler(event, Context())
assert reply == {"batchItemFailures": []}, reply
print("READY", flush=True)
""",
    "notifications": _CONTEXT
    + """
import json, os
from taskapi.entrypoints.notifications import lambda_handler
reply = lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
assert reply["status"] == "handled", reply
print("READY", flush=True)
""",
    "reminders": _CONTEXT
    + """
from taskapi.entrypoints.reminders import lambda_handler
reply = lambda_handler({}, Context())
assert reply["failed"] == 0, reply
print("READY", flush=True)
""",
}


# Where a child's code comes from: the virtual environment, or an artifact-shaped directory
# with or without bytecode (see the module docstring).
VENV, DEPLOYED, SOURCES_ONLY = "venv", "deployed, .pyc", "deployed, no .pyc"


@dataclass(frozen=True)
class Scenario:
    name: str
    child: str
    store: str  # "memory" or "dynamodb"
    layout: str = VENV

    @property
    def label(self) -> str:
        name = LABELS.get(self.child, self.name)
        return name if self.layout == VENV else f"{name} ({self.layout})"


LABELS = {
    "floor": "floor: resolver + one GetItem",
    "floor_validated": "floor + validation (Pydantic)",
}


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)


def task_created_event(task: Task) -> dict[str, object]:
    """An EventBridge event as the relay publishes it, carrying a real TaskCreated."""
    event = TaskCreated(**new_event_fields(uuid.uuid4(), datetime.fromisoformat(NOW), task))
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "TaskCreated",
            "source": "taskapi.tasks", "account": "000000000000", "time": "2030-04-20T09:30:00Z",
            "region": "us-east-1", "resources": [],
            "detail": event.model_dump(mode="json")}  # fmt: skip


def api_event(scenario: Scenario, task: Task) -> dict[str, object]:
    """The request of the floor and the API, as API Gateway passes it (built by the local
    gateway's translation): a GET of the stored task, or on a fresh in-memory store, where
    there is none, the creation of a workspace."""
    claims = {"sub": SUBJECT, "token_use": "id"}
    if scenario.store == "memory":
        body = json.dumps({"name": "t"}).encode()
        request = HttpRequest("POST", "/workspaces", [("Content-Type", "application/json")], body)
    else:
        request = HttpRequest("GET", f"/workspaces/{task.workspace_id}/tasks/{task.task_id}")
    return to_proxy_event(request, request_id="bench-1", claims=claims)


def stream_event(task: Task) -> dict[str, object]:
    event = task_created_event(task)["detail"]
    image = {"PK": {"S": f"OUTBOX#{event['event_id']}"}, "SK": {"S": "OUTBOX"},  # type: ignore[index]
             "event": {"S": json.dumps(event)}}  # fmt: skip
    record = {"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
              "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
              "dynamodb": {"SequenceNumber": "100", "NewImage": image,
                           "StreamViewType": "NEW_IMAGE"}}  # fmt: skip
    return {"Records": [record]}


def run_child(
    scenario: Scenario, env: dict[str, str], artifacts: dict[str, Path] | None = None
) -> float:
    code = CHILDREN[scenario.child]
    command, cwd = [sys.executable, "-c", code], REPO
    env = {**env, "TASKAPI_STORE": scenario.store}
    if scenario.layout != VENV:
        assert artifacts is not None
        # The base interpreter, without user site-packages, finds only the artifact's code.
        cwd = artifacts[scenario.layout]
        command = [getattr(sys, "_base_executable", sys.executable), "-s", "-c", code]
        env |= {"PYTHONPATH": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = ""
    for line in process.stdout:  # log and metric lines may come first
        if line.strip() == "READY":
            break
    elapsed = time.perf_counter() - started
    _, errors = process.communicate(timeout=60)
    if line.strip() != "READY":
        raise RuntimeError(f"{scenario.name} ({scenario.store}) failed:\n{errors[-2000:]}")
    return elapsed


def import_time_by_package(module: str, env: dict[str, str]) -> list[tuple[str, float]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: Counter[str] = Counter()
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            totals[match.group(2).split(".")[0]] += int(match.group(1))
    return [(package, micros / 1000) for package, micros in totals.most_common(12)]


@dataclass(frozen=True)
class Seeded:
    """What the children read: a workspace whose owner is the bench's caller, and one task
    of it with an assignee (the notification function emails them)."""

    env: dict[str, str]
    task: Task


def seed(env: dict[str, str]) -> Task:
    """The workspace and the task, written by the service through the production DynamoDB
    adapters, so every item is exactly what the functions will read."""
    settings = Settings.from_environment(env, store="dynamodb")
    # boto3 reads the credentials from the environment: the bench's, for as long as it seeds.
    credentials = {name: env[name] for name in _CREDENTIALS}
    with mock.patch.dict(os.environ, credentials):
        runtime = bootstrap.build_runtime(settings)
        workspace = runtime.workspaces.create(CALLER, CreateWorkspace(name="Bench"))
        access = Access(workspace_id=workspace.workspace_id, caller=CALLER)
        command = CreateTask(title="Write the release notes", assignee="ana@example.com")
        return runtime.service.create(access, command)


_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@contextmanager
def aws_environment(data_dir: Path) -> Iterator[Seeded]:
    """A moto server with the stack's tables and bus, and the environment a function gets."""
    with aws_endpoint() as endpoint:
        session = boto3.Session(
            region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        tasks, records = (f"bench-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("tasks", "idem"))
        create_table(dynamodb, TASKS_TABLE, tasks)
        create_table(dynamodb, IDEMPOTENCY_TABLE, records)
        bus = f"bench-bus-{uuid.uuid4().hex[:8]}"
        session.client("events", endpoint_url=endpoint).create_event_bus(Name=bus)
        session.client("sesv2", endpoint_url=endpoint).create_email_identity(
            EmailIdentity="example.com"
        )
        env = {
            "TASKAPI_AWS_ENDPOINT_URL": endpoint,
            "TASKAPI_AWS_REGION": "us-east-1",
            "TASKAPI_TABLE_NAME": tasks,
            "TASKAPI_IDEMPOTENCY_TABLE_NAME": records,
            "TASKAPI_EVENT_BUS_NAME": bus,
            "TASKAPI_SENDER_EMAIL": "taskapi@example.com",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TASKAPI_DATA_DIR": str(data_dir),
        }
        yield Seeded(env, seed(env))


def deployed_artifacts(root: Path) -> dict[str, Path] | None:
    """The API's artifact for this machine, as ``tools/package.py`` builds it for Lambda, with
    and without bytecode; None (and why, printed) where it cannot be built here."""
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    machine = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine())
    if sys.platform != "linux" or machine is None or not Path(uv).is_file():
        print(f"(no deployed rows: needs Linux on x86_64 or aarch64 and uv, have "
              f"{sys.platform} {platform.machine()}, uv at {uv})\n")  # fmt: skip
        return None
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    sources = root / "sources"
    package.export_requirements(uv, root / "requirements.txt")
    package.install_dependencies(
        uv, root / "requirements.txt", sources, version, f"{machine}-manylinux_{package.GLIBC}"
    )
    closure = package.import_closure(package.import_graph(), "taskapi.entrypoints.api")
    package.write_code(closure, sources, package.project_version())
    compiled = root / "compiled"
    shutil.copytree(sources, compiled)
    package.compile_bytecode(sys.executable, compiled)
    return {SOURCES_ONLY: sources, DEPLOYED: compiled}


SCENARIOS = [
    Scenario("floor", "floor", "dynamodb"),
    Scenario("floor_validated", "floor_validated", "dynamodb"),
    Scenario("api", "api", "dynamodb"),
    Scenario("api", "api", "memory"),
    Scenario("relay", "relay", "dynamodb"),
    Scenario("notifications", "notifications", "dynamodb"),
    Scenario("notifications", "notifications", "memory"),
    Scenario("reminders", "reminders", "dynamodb"),
    Scenario("reminders", "reminders", "memory"),
    Scenario("floor", "floor", "dynamodb", DEPLOYED),
    Scenario("api", "api", "dynamodb", DEPLOYED),
    Scenario("floor", "floor", "dynamodb", SOURCES_ONLY),
    Scenario("api", "api", "dynamodb", SOURCES_ONLY),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_cold_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per scenario")
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory() as data,
        tempfile.TemporaryDirectory() as build,
        aws_environment(Path(data)) as seeded,
    ):
        artifacts = deployed_artifacts(Path(build))
        scenarios = [s for s in SCENARIOS if artifacts is not None or s.layout == VENV]
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TASKAPI_", "POWERTOOLS_"))
        }
        env = {**base, **seeded.env, "POWERTOOLS_LOG_LEVEL": "WARNING",
               "PYTHONDONTWRITEBYTECODE": ""}  # fmt: skip
        env["BENCH_EVENT"] = ""
        timings = {scenario: Timings() for scenario in scenarios}
        for scenario in scenarios:  # warm the OS file cache and the .pyc files once
            run_child(scenario, _with_event(env, scenario, seeded.task), artifacts)
        for _ in range(args.runs):
            for scenario in scenarios:
                child_env = _with_event(env, scenario, seeded.task)
                timings[scenario].seconds.append(run_child(scenario, child_env, artifacts))
        imports = import_time_by_package(
            "taskapi.entrypoints.api", {**env, "TASKAPI_STORE": "dynamodb"}
        )

    # Each row against the floor of its own layout (the deployed floor for deployed rows).
    floors = {
        scenario.layout: statistics.median(t.seconds)
        for scenario, t in timings.items()
        if scenario.child == "floor"
    }
    rows = [
        [
            scenario.label,
            scenario.store,
            f"{statistics.median(t.seconds) * 1000:.0f}",
            f"{min(t.seconds) * 1000:.0f}",
            f"{statistics.median(t.seconds) / floors[scenario.layout]:.2f}x",
        ]
        for scenario, t in timings.items()
    ]
    print(f"Fresh interpreter to first successful invocation, {args.runs} alternating runs:\n")
    print(markdown_table(("function", "store", "median (ms)", "min (ms)", "vs floor"), rows))
    print("\n`-X importtime` of the API handler, self time by top-level package:\n")
    print(markdown_table(("package", "ms"), [[p, f"{ms:.1f}"] for p, ms in imports]))
    return 0


def _with_event(env: dict[str, str], scenario: Scenario, task: Task) -> dict[str, str]:
    if scenario.child in ("floor", "floor_validated", "api"):
        # A create on the in-memory store (it starts empty), a read of the task elsewhere.
        status = "201" if scenario.store == "memory" else "200"
        return {**env, "BENCH_EVENT": json.dumps(api_event(scenario, task)), "BENCH_STATUS": status}
    if scenario.child == "relay":
        return {**env, "BENCH_EVENT": json.dumps(stream_event(task))}
    if scenario.child == "notifications":
        return {**env, "BENCH_EVENT": json.dumps(task_created_event(task))}
    return env


if __name__ == "__main__":
    sys.exit(main())
