"""``taskapi serve`` and ``taskapi token`` as processes: they share the data directory's key,
serve says how to get a token when it starts, and it refuses a key others can read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from taskapi.local import identity
from tests.e2e.conftest import start_local_server, stop_local_server
from tests.e2e.http_client import ApiClient, BearerToken


def taskapi(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskapi.local.cli", *args],
        env={**os.environ, "TASKAPI_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_token_printed_by_taskapi_token_is_accepted_by_taskapi_serve(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # the server's (start_local_server)
    token = taskapi("token", "--user", "carol@example.com", data_dir=data_dir)
    identity_line = taskapi("token", "--user", "carol@example.com", "--identity", data_dir=data_dir)
    server, output, url = start_local_server(tmp_path)
    try:
        with_token = ApiClient(url, authenticate=BearerToken(f"Bearer {token.stdout.strip()}"))
        without = ApiClient(url)
        mine = with_token.get("/workspaces")
        statuses = (mine.status, without.get("/workspaces").status)
        with_token.close()
        without.close()
    finally:
        stop_local_server(server, output)

    assert token.returncode == 0, token.stderr
    assert statuses == (200, 401)
    assert mine.json()["workspaces"] == []  # a new user is a member of nothing yet
    assert identity_line.stdout == identity.member_identity("carol@example.com") + "\n"
    banner = output.text()
    assert "TOKEN=$(TASKAPI_DATA_DIR=" in banner
    assert "taskapi token --user alice@example.com)" in banner
    assert f'curl -H "Authorization: Bearer $TOKEN" {url}/workspaces' in banner
    assert "tasks live in workspaces (/workspaces/{id}/tasks)" in banner


def test_serve_refuses_to_start_with_a_key_others_can_read(tmp_path: Path) -> None:
    identity.load_or_create_key(tmp_path)
    identity.key_path(tmp_path).chmod(0o644)

    result = taskapi("serve", "--port", "0", data_dir=tmp_path)

    assert result.returncode == 2
    assert "listening" not in result.stdout
    [reason] = result.stderr.strip().splitlines()
    assert reason.startswith("taskapi serve: not starting:")
    assert "chmod 600" in reason
