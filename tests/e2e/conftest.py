"""End-to-end fixtures: a running taskapi and an HTTP client for it.

By default a real ``taskapi serve`` is started as a subprocess (SQLite in a temporary data
directory, a free port) and stopped at the end of the session. Set ``TASKAPI_API_URL`` to run
the same tests against a deployed stack instead; the client then authenticates its requests
(see ``http_client``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.http_client import API_URL_VARIABLE, ApiClient

STARTUP_DEADLINE_SECONDS = 60.0
SHUTDOWN_DEADLINE_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"taskapi serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)  # polling interval while the server starts
    pytest.fail(f"taskapi serve did not answer /health in time:\n{log.read_text()}")


@pytest.fixture(scope="session")
def e2e_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def local_data_dir(e2e_workdir: Path) -> Path | None:
    """The local server's TASKAPI_DATA_DIR (its mailbox lives there); None when the tests
    run against a deployed stack."""
    return None if os.environ.get(API_URL_VARIABLE) else e2e_workdir / "data"


@pytest.fixture(scope="session")
def api_url(e2e_workdir: Path, local_data_dir: Path | None) -> Iterator[str]:
    deployed = os.environ.get(API_URL_VARIABLE)
    if deployed or local_data_dir is None:
        yield (deployed or "").rstrip("/")
        return

    workdir = e2e_workdir
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    env = {**os.environ, "TASKAPI_DATA_DIR": str(local_data_dir), "TASKAPI_STORE": "sqlite"}
    command = [sys.executable, "-m", "taskapi.cli", "serve", "--port", str(port)]
    command += ["--db", str(workdir / "e2e.db")]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir
        )
        try:
            _wait_until_healthy(url, server, log_path)
            yield url
        finally:
            server.terminate()
            try:
                returncode = server.wait(timeout=SHUTDOWN_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                pytest.fail(f"taskapi serve ignored SIGTERM:\n{log_path.read_text()}")
    # A clean shutdown is part of the contract of `taskapi serve`.
    assert returncode == 0, log_path.read_text()


@pytest.fixture(scope="session")
def api(api_url: str) -> Iterator[ApiClient]:
    deployed = API_URL_VARIABLE in os.environ
    client = ApiClient.for_deployed_stack(api_url) if deployed else ApiClient(api_url)
    yield client
    client.close()
