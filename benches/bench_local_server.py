"""``taskapi serve`` over HTTP: requests per second through sockets, the handler and SQLite.

    .venv/bin/python -m benches local_server
    .venv/bin/python -m benches.bench_local_server --requests 4000 --threads 1 4

Starts the server as a subprocess on a free port with the SQLite store in a temporary data
directory, waits for ``/health``, creates a workspace (a token's user is its owner) and the
tasks it reads, then drives it with keep-alive ``http.client`` connections
from a few client threads. Each case stops at a request count or a time limit, whichever comes
first. The server handles one request at a time (one Lambda execution environment, see
``taskapi.local.gateway``), so more client threads show queueing, not scaling.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benches import markdown_table
from taskapi.local.identity import MAX_TTL_SECONDS, issue_token

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
SEEDED_TASKS = 100
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# A request as (method, path, body); built per request number.
RequestFor = Callable[[int], tuple[str, str, bytes | None]]


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    headers: dict[str, str]  # every request's: HEADERS and a token of the server's data dir

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=10)


@contextmanager
def running_server(data_dir: Path) -> Iterator[Server]:
    """``taskapi serve --port 0`` in a subprocess; the port is read from its banner line."""
    env = {**os.environ, "TASKAPI_STORE": "sqlite", "TASKAPI_DATA_DIR": str(data_dir)}
    # What `taskapi token` prints; it creates the data directory's key, which serve then reads.
    token = issue_token(data_dir, "bench@example.com", ttl_seconds=MAX_TTL_SECONDS)
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    banner = data_dir / "serve.out"
    # Output goes to files, not pipes: a pipe nobody reads would fill up and stall the server.
    with banner.open("wb") as out, (data_dir / "serve.err").open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskapi.local.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
        try:
            server = wait_until_ready(process, banner, headers)
            yield server
        finally:
            process.terminate()  # SIGTERM: the server shuts down and drains its outbox
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(
    process: subprocess.Popen[bytes], banner: Path, headers: dict[str, str]
) -> Server:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    server: Server | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"taskapi serve exited with {process.returncode}")
        if server is None:
            server = find_banner(banner, headers)
        elif health_ok(server):
            return server
        time.sleep(0.05)  # polling a subprocess: nothing to await
    raise TimeoutError(f"taskapi serve was not ready within {STARTUP_TIMEOUT_SECONDS:.0f} s")


def find_banner(banner: Path, headers: dict[str, str]) -> Server | None:
    for line in banner.read_text(errors="replace").splitlines():
        if line.startswith("taskapi listening on "):
            url = urlsplit(line.split()[3])
            if url.hostname and url.port:
                return Server(url.hostname, url.port, headers)
    return None


def health_ok(server: Server) -> bool:
    connection = server.connection()
    try:
        connection.request("GET", "/health", headers=server.headers)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(
    server: Server,
    request_for: RequestFor,
    numbers: Iterator[int],
    numbers_lock: threading.Lock,
    stop_at: float,
    results: Results,
) -> None:
    """One keep-alive connection sending requests until the shared numbers run out."""
    connection = server.connection()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    try:
        while time.monotonic() < stop_at:
            with numbers_lock:
                number = next(numbers, None)
            if number is None:
                break
            method, path, body = request_for(number)
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=server.headers)
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1
    except (OSError, http.client.HTTPException) as exc:
        with results.lock:
            results.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
        with results.lock:
            results.latencies += latencies
            results.statuses.update(statuses)


def load(
    server: Server, request_for: RequestFor, requests: int, threads: int, time_limit: float
) -> tuple[float, Results]:
    results = Results()
    numbers = iter(range(requests))
    numbers_lock = threading.Lock()
    started = time.perf_counter()
    stop_at = time.monotonic() + time_limit
    workers = [
        threading.Thread(
            target=client, args=(server, request_for, numbers, numbers_lock, stop_at, results)
        )
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, results


def post(connection: http.client.HTTPConnection, server: Server, path: str, body: Any) -> Any:
    connection.request("POST", path, body=json.dumps(body).encode(), headers=server.headers)
    response = connection.getresponse()
    created = json.loads(response.read())
    if response.status != 201:
        raise RuntimeError(f"seeding failed: POST {path}: {response.status} {created}")
    return created


def seed(server: Server, count: int) -> tuple[str, list[str]]:
    """A workspace of the token's user, with ``count`` tasks: (its tasks' path, their ids)."""
    connection = server.connection()
    ids: list[str] = []
    try:
        workspace = post(connection, server, "/workspaces", {"name": "bench"})
        tasks = f"/workspaces/{workspace['workspace_id']}/tasks"
        for n in range(count):
            ids.append(post(connection, server, tasks, {"title": f"seed {n}"})["task_id"])
    finally:
        connection.close()
    return tasks, ids


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="most requests per case")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per case")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="taskapi-bench-") as scratch:
        with running_server(Path(scratch)) as server:
            tasks, ids = seed(server, SEEDED_TASKS)
            cases: dict[str, tuple[int, RequestFor]] = {
                "GET /workspaces/{w}/tasks/{id}": (
                    200,
                    lambda n: ("GET", f"{tasks}/{ids[n % len(ids)]}", None),
                ),
                "POST /workspaces/{w}/tasks": (
                    201,
                    lambda n: ("POST", tasks, json.dumps({"title": f"task {n}"}).encode()),
                ),
            }
            rows: list[list[object]] = []
            failures: list[str] = []
            for name, (expected, request_for) in cases.items():
                for threads in args.threads:
                    seconds, results = load(
                        server, request_for, args.requests, threads, args.seconds
                    )
                    done = len(results.latencies)
                    if set(results.statuses) - {expected} or results.errors:
                        failures.append(f"{name}: {dict(results.statuses)} {results.errors[:3]}")
                    rows.append(
                        [
                            name,
                            threads,
                            f"{done:,}",
                            f"{done / seconds:,.0f}",
                            f"{statistics.mean(results.latencies) * 1e3:.2f}" if done else "-",
                            f"{percentile(results.latencies, 0.5) * 1e3:.2f}" if done else "-",
                            f"{percentile(results.latencies, 0.99) * 1e3:.2f}" if done else "-",
                        ]
                    )
        print(
            "taskapi serve (SQLite store, temp data dir), keep-alive http.client connections;"
            f" up to {args.requests:,} requests or {args.seconds:.0f} s per case\n"
        )
        print(
            markdown_table(
                [
                    "request",
                    "client threads",
                    "requests",
                    "req/s",
                    "mean (ms)",
                    "p50 (ms)",
                    "p99 (ms)",
                ],
                rows,
            )
        )
    for failure in failures:
        print(f"\nunexpected results: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
