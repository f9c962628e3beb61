"""The fault run: the real local server under injected faults, and the logs it writes.

It serves the API as ``taskapi serve`` does (the Lambda handler behind the local gateway, real
HTTP on 127.0.0.1, a SQLite file, Powertools JSON logs) over a runtime built here, whose store
fails on a fixed schedule, drives a fixed scenario of requests with tokens from the local user
pool, and keeps the JSON lines the service logged. Every fault is a real SQLite refusal, so the
service logs what it would log in earnest:

* the write lock is held by another connection (``BEGIN EXCLUSIVE``): ``database is locked``,
  a 503 on each write meanwhile;
* an authorizer denies reading the dependency table, or writing the outbox: a 500;
* a subscriber of the outbox fails (its mail relay refuses), so the dispatcher logs a retried
  delivery and then a dead letter.

The faults live here only, never in the Lambda code or ``bootstrap``. ``make risk-logs`` writes
``examples/logs/`` (docs/operations.md, "The logs source"); a test runs it again and checks the
committed logs still group as the service's logs do (tests/local/test_fault_run.py).

    .venv/bin/python -m tests.local.fault_run examples/logs
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import sqlite3
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taskapi import bootstrap
from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.config import Settings
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.entrypoints.api import lambda_handler
from taskapi.local.gateway import LocalApiServer, serving
from taskapi.local.identity import TokenVerifier, issue_token
from taskapi.local.logs import local_logging
from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.tasks import TaskService
from taskapi.service.workspaces import WorkspaceService

USER = "alice@example.com"
# The shapes the logs are exported in, each derived from the JSON lines of the same run.
APP_LOG = "app.log"  # what `taskapi serve --log-format json` writes, the banner left out
SAM_LOG = "sam.log"  # what `sam logs` prints: stream and timestamp before each line
INSIGHTS_CSV = "insights.csv"  # a CloudWatch Logs Insights export, as CSV
INSIGHTS_JSON = "insights.json"  # the same export, as JSON
DAMAGED_LOG = "damaged.log"  # app.log's first lines and three a log file can get damaged with
LOG_STREAM = "2025/03/04/[$LATEST]5f0c1e2d3b4a49688a7b6c5d4e3f2a10"
LOG_GROUP = "000000000000:/aws/lambda/taskapi-api"
# Milliseconds: SQLite gives up waiting for the write lock after this, and the API answers 503.
BUSY_TIMEOUT_MS = 20


@dataclass(slots=True)
class Faults:
    """What the store refuses right now; the scenario switches the faults on and off."""

    deny_read: str | None = None  # a table SELECTs may not read
    deny_insert: str | None = None  # a table INSERTs may not write

    def authorize(self, action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and self.deny_read and table == self.deny_read:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_INSERT and self.deny_insert and table == self.deny_insert:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


class FaultyDatabase(SqliteDatabase):
    """The real SQLite store; its connections ask `faults` before each statement runs."""

    def __init__(self, path: Path, faults: Faults) -> None:
        self.faults = faults  # before the schema check opens the first connection
        super().__init__(path, busy_timeout_ms=BUSY_TIMEOUT_MS)

    def open_connection(self) -> sqlite3.Connection:
        connection = super().open_connection()
        connection.set_authorizer(self.faults.authorize)
        return connection


@dataclass(slots=True)
class RefusingRelay:
    """An outbox subscriber whose mail relay refuses the connection while `refusing`."""

    refusing: bool = False
    seen: list[str] = field(default_factory=list)

    def __call__(self, event: ReceivedEvent) -> None:
        self.seen.append(type(event).__name__)
        if self.refusing:
            raise ConnectionError("the mail relay refused the connection")


@dataclass(frozen=True, slots=True)
class Client:
    connection: http.client.HTTPConnection
    token: str

    def send(self, number: int, method: str, path: str, body: Any = None) -> int:
        """One request, with X-Correlation-Id `fault-run-NN`; the status."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Correlation-Id": f"fault-run-{number:02d}",
        }
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, content, headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process's write transaction: every write waits, then gives up."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def run(data_dir: Path) -> tuple[list[str], list[int]]:
    """The scenario on a fresh data directory: the JSON lines logged, and every status."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_environment(data_dir=data_dir, db_path=data_dir / "taskapi.db")
    faults = Faults()
    database = FaultyDatabase(settings.sqlite_path, faults)
    uow_factory = SqliteUnitOfWorkFactory(database)
    page_tokens = PageTokenCodec(settings.page_token_secret.get_secret_value().encode())
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    relay = RefusingRelay()
    notifications = bootstrap.build_notifications(settings, uow_factory)
    dispatcher = OutboxDispatcher(
        database,
        [notifications.consumer, relay],
        clock=now,
        # Two attempts, the second due at once: a retried delivery, then a dead letter.
        retry=RetryPolicy(max_attempts=2, first_delay=timedelta(microseconds=1)),
    )
    runtime = bootstrap.Runtime(
        service=TaskService(uow_factory, now, uuid.uuid4, page_tokens),
        workspaces=WorkspaceService(uow_factory, now, uuid.uuid4, page_tokens),
        dispatcher=dispatcher,
        notifications=notifications,
    )
    server = LocalApiServer(
        ("127.0.0.1", 0), lambda_handler, verifier=TokenVerifier.for_data_dir(data_dir)
    )
    logged = io.StringIO()
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=30)
    client = Client(connection, issue_token(data_dir, USER))
    with (
        local_logging("json", text_stream=io.StringIO(), json_stream=logged),
        bootstrap.override_runtime(runtime),
        serving(server, poll_interval=0.05),
    ):
        try:
            statuses = _scenario(client, settings.sqlite_path, faults, relay, dispatcher)
        finally:
            connection.close()
    lines = logged.getvalue().splitlines()
    return [as_checked_in(line) for line in lines if line.strip()], statuses


_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
# Where this run's files are, and where the committed fixtures say they were: a neutral checkout
# at /app (its .venv inside), the standard library at /usr/lib, so the fixtures do not depend on
# the machine or the directory they were made in. Only these prefixes change; every frame, line
# number and message is the run's own.
_ROOTS = (
    (sysconfig.get_paths()["purelib"], f"/app/.venv/lib/{_VERSION}/site-packages"),
    (str(Path(bootstrap.__file__).resolve().parents[2]), "/app"),
    (sysconfig.get_paths()["stdlib"], f"/usr/lib/{_VERSION}"),
)


def as_checked_in(line: str) -> str:
    """A logged line with the run's absolute paths under the neutral roots above."""
    for actual, neutral in _ROOTS:
        line = line.replace(f"{actual}/", f"{neutral}/")
    return line


def _scenario(
    client: Client,
    db_path: Path,
    faults: Faults,
    relay: RefusingRelay,
    dispatcher: OutboxDispatcher,
) -> list[int]:
    numbers = iter(range(1, 100))
    statuses: list[int] = []

    def send(method: str, path: str, body: Any = None) -> str:
        statuses.append(client.send(next(numbers), method, path, body))
        return path

    # A workspace and three tasks, one depending on another: all fine.
    created = _created(client, next(numbers), "/workspaces", {"name": "fault run"})
    statuses.append(201)
    tasks = f"/workspaces/{created['workspace_id']}/tasks"
    first = _created(client, next(numbers), tasks, {"title": "write the runbook"})
    second = _created(client, next(numbers), tasks, {"title": "rehearse the failover"})
    statuses += [201, 201]
    dependent = {"title": "run the failover", "dependencies": [first["task_id"]]}
    _created(client, next(numbers), tasks, dependent)
    statuses.append(201)
    dispatcher.dispatch_pending()
    # The caller's mistakes: answered as designed, no failure of the service.
    send("GET", f"{tasks}/{uuid.uuid4()}")
    send("POST", tasks, {"title": ""})
    # Another writer holds the lock: every write is a 503 meanwhile.
    with write_lock_held(db_path):
        for title in ("locked out", "locked out again", "still locked out"):
            send("POST", tasks, {"title": title})
        send("PUT", f"{tasks}/{second['task_id']}", {"priority": "high", "version": 1})
    # Reading the dependencies fails: a 500 on creates that name some.
    faults.deny_read = "task_dependencies"
    for title in ("follow the runbook", "follow it again"):
        send("POST", tasks, {"title": title, "dependencies": [first["task_id"]]})
    faults.deny_read = None
    # Writing the outbox fails: a 500 on every write with an event.
    faults.deny_insert = "outbox"
    send("PUT", f"{tasks}/{second['task_id']}", {"status": "in_progress", "version": 1})
    send("POST", tasks, {"title": "no event, no task"})
    faults.deny_insert = None
    # The mail relay refuses: the dispatcher retries the event once, then dead-letters it.
    send("PUT", f"{tasks}/{first['task_id']}", {"status": "in_progress", "version": 1})
    relay.refusing = True
    dispatcher.dispatch_pending()
    dispatcher.dispatch_pending()
    relay.refusing = False
    send("GET", tasks)
    return statuses


def _created(client: Client, number: int, path: str, body: Any) -> dict[str, Any]:
    """POST that must succeed, and its JSON (the ids later requests need)."""
    client.connection.request(
        "POST",
        path,
        json.dumps(body).encode(),
        {
            "Authorization": f"Bearer {client.token}",
            "Content-Type": "application/json",
            "X-Correlation-Id": f"fault-run-{number:02d}",
        },
    )
    response = client.connection.getresponse()
    content = response.read()
    if response.status != 201:
        raise RuntimeError(f"POST {path}: {response.status} {content!r}")
    created: dict[str, Any] = json.loads(content)
    return created


# -- the exported shapes ---------------------------------------------------------------------


def _timestamp(line: str) -> datetime:
    stamp = str(json.loads(line)["timestamp"]).replace(",", ".")
    return datetime.fromisoformat(stamp).astimezone(UTC)


def sam_lines(lines: list[str]) -> list[str]:
    """As `sam logs` prints them: `<log stream> <timestamp> <message>`."""
    return [
        f"{LOG_STREAM} {_timestamp(line).strftime('%Y-%m-%dT%H:%M:%S.%f')} {line}" for line in lines
    ]


def insights_rows(lines: list[str]) -> list[dict[str, str]]:
    """A Logs Insights query's result rows: @timestamp, @logStream, @log, @message."""
    return [
        {
            "@timestamp": _timestamp(line).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "@logStream": LOG_STREAM,
            "@log": LOG_GROUP,
            "@message": line,
        }
        for line in lines
    ]


def damaged_lines(lines: list[str]) -> list[bytes]:
    """The first lines, then a line cut short, the banner `taskapi serve` prints on the same
    standard output, and a line with a byte that is not UTF-8."""
    kept = [line.encode() for line in lines[:3]]
    return [
        *kept,
        lines[-1][: len(lines[-1]) // 2].encode(),
        b"taskapi listening on http://127.0.0.1:8000 (store: sqlite, .taskapi/taskapi.db)",
        lines[0].encode().replace(b'"level"', b'"lev\xe9l"', 1),
    ]


def write_fixtures(lines: list[str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / APP_LOG).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (directory / SAM_LOG).write_text(
        "".join(f"{line}\n" for line in sam_lines(lines)), encoding="utf-8"
    )
    rows = insights_rows(lines)
    with (directory / INSIGHTS_CSV).open("w", encoding="utf-8", newline="") as export:
        writer = csv.DictWriter(export, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (directory / INSIGHTS_JSON).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    (directory / DAMAGED_LOG).write_bytes(b"".join(line + b"\n" for line in damaged_lines(lines)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", type=Path, help="where the log files go (examples/logs)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="taskapi-fault-run-") as data_dir:
        lines, statuses = run(Path(data_dir))
    write_fixtures(lines, args.directory)
    print(f"fault run: {len(statuses)} requests, {len(lines)} log lines -> {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
