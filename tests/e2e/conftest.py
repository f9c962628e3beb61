"""End-to-end fixtures: a running taskapi and an HTTP client for it.

By default a real ``taskapi serve`` is started as a subprocess (SQLite in a temporary data
directory, a free port that the server picks itself and announces) and stopped at the end of
the session; the client sends a token of its data directory, as ``taskapi token`` prints.
Each test that needs one gets a workspace of its own (``workspace``), owned by that client.
Set ``TASKAPI_API_URL`` to run the same tests against a deployed stack instead; the client
then authenticates its requests as that stack asks (see ``http_client``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from tests.e2e.http_client import API_URL_VARIABLE, ApiClient, BearerToken
from tests.e2e.workspaces import Workspace, create_workspace
from tests.tokens import ALICE, bearer

STARTUP_DEADLINE_SECONDS = 60.0
SHUTDOWN_DEADLINE_SECONDS = 20.0
LISTENING = b"taskapi listening on "


class ServerOutput:
    """Copies a server's output to a log file, and learns its URL from the line it prints
    once it is accepting connections (``taskapi listening on http://...``)."""

    def __init__(self, stream: IO[bytes], log_path: Path) -> None:
        self.log_path = log_path
        self.url: str | None = None
        self._settled = threading.Event()  # the URL is known, or the output ended without it
        self._thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self._thread.start()

    def _copy(self, stream: IO[bytes]) -> None:
        with self.log_path.open("wb") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if self.url is None and line.startswith(LISTENING):
                    self.url = line[len(LISTENING) :].split()[0].decode()
                    self._settled.set()
        self._settled.set()

    def wait_for_url(self, timeout: float) -> str | None:
        self._settled.wait(timeout)
        return self.url

    def text(self) -> str:
        """Everything the server wrote, once its output has ended."""
        self._thread.join(SHUTDOWN_DEADLINE_SECONDS)
        return self.log_path.read_text()


@pytest.fixture(scope="session")
def e2e_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def local_data_dir(e2e_workdir: Path) -> Path | None:
    """The local server's TASKAPI_DATA_DIR (its mailbox lives there); None when the tests
    run against a deployed stack."""
    return None if os.environ.get(API_URL_VARIABLE) else e2e_workdir / "data"


def start_local_server(workdir: Path) -> tuple[subprocess.Popen[bytes], ServerOutput, str]:
    """A ``taskapi serve`` subprocess on a free port, with its data directory and database in
    ``workdir``, once it accepts connections: (process, its output, its URL). The caller
    stops it."""
    env = {**os.environ, "TASKAPI_DATA_DIR": str(workdir / "data"), "TASKAPI_STORE": "sqlite"}
    command = [sys.executable, "-m", "taskapi.local.cli", "serve", "--port", "0"]
    command += ["--db", str(workdir / "e2e.db")]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=workdir
    )
    assert server.stdout is not None
    output = ServerOutput(server.stdout, workdir / "server.log")
    url = output.wait_for_url(STARTUP_DEADLINE_SECONDS)
    if url is None:
        server.kill()
        server.wait()
        pytest.fail(f"taskapi serve did not start listening:\n{output.text()}")
    return server, output, url


def stop_local_server(server: subprocess.Popen[bytes], output: ServerOutput) -> None:
    """Stop it as a service manager would (SIGTERM); a clean exit is part of the contract."""
    server.terminate()
    try:
        returncode = server.wait(timeout=SHUTDOWN_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        pytest.fail(f"taskapi serve ignored SIGTERM:\n{output.text()}")
    assert returncode == 0, output.text()


@pytest.fixture(scope="session")
def api_url(e2e_workdir: Path, local_data_dir: Path | None) -> Iterator[str]:
    deployed = os.environ.get(API_URL_VARIABLE)
    if deployed or local_data_dir is None:
        yield (deployed or "").rstrip("/")
        return

    server, output, url = start_local_server(e2e_workdir)
    try:
        yield url
    finally:
        stop_local_server(server, output)


@pytest.fixture(scope="session")
def api(api_url: str, local_data_dir: Path | None) -> Iterator[ApiClient]:
    if local_data_dir is None:
        client = ApiClient.for_deployed_stack(api_url)
    else:
        # The local gateway verifies tokens as the stack's Cognito authorizer does.
        client = ApiClient(api_url, authenticate=local_bearer(local_data_dir))
    yield client
    client.close()


def local_bearer(data_dir: Path, user: str = ALICE) -> BearerToken:
    """Requests as ``user``, with a token of the local server's data directory."""
    return BearerToken(bearer(data_dir, user)["Authorization"])


@pytest.fixture
def workspace(api: ApiClient) -> Workspace:
    """A new workspace for this test alone, owned by ``api``'s caller. It is left behind: it
    cannot be deleted while it holds tasks, and it is invisible to every other caller."""
    return create_workspace(api)
