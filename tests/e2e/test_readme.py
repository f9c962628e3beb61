"""The README's walk-through, pasted twice in a row into bash against a fresh ``taskapi serve``:
every curl answers with the status its comment promises, both times (ids and Idempotency-Keys
are generated, so nothing collides with the first paste)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.e2e.conftest import start_local_server, stop_local_server

README = Path(__file__).resolve().parents[2] / "README.md"
README_ADDRESS = "localhost:8000"
PASTE_MARKER = "=== pasted again ==="
# Each curl also writes its status to stderr, one line per request.
RECORD_STATUS = "curl() { command curl --write-out '%{stderr}%{http_code}\\n' \"$@\"; }\n"


def walkthrough() -> str:
    """The bash block that follows "In a second terminal" in the README."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"In a second terminal.*?```bash\n(.*?)```", text, re.S)
    assert found, "README.md has no walk-through block"
    return found[1]


def promised_statuses(block: str) -> list[int]:
    """The status each curl command's trailing comment promises (``# 409: ...``), in order."""
    commands = re.sub(r"\\\n", " ", block).splitlines()  # one line per command
    promised = []
    for command in commands:
        if re.search(r"\bcurl ", command.split("#", 1)[0]):
            comment = re.search(r"\s#\s*(\d{3})\b", command)
            assert comment, f"a curl in the README promises no status: {command.strip()}"
            promised.append(int(comment[1]))
    return promised


def test_the_walkthrough_block_is_what_this_test_reads() -> None:
    block = walkthrough()

    promised = [401, 201, 201, 201, 201, 201, 200, 404, 200, 200, 200, 409, 200, 412, 409]
    promised += [409, 204, 204, 204]
    assert promised_statuses(block) == promised
    assert block.count(README_ADDRESS) == len(promised)
    assert "Idempotency-Key: 9f" not in block  # no fixed key: a second paste would replay it
    # Every request but the first, which shows the refusal, carries a token: Alice's, but
    # for Bob's (a member) and Carol's (no member) reads of the workspace's tasks.
    assert "TOKEN=$(taskapi token --user alice@example.com)" in block
    assert "BOB=$(taskapi token --user bob@example.com --identity)" in block
    requests = re.sub(r"\\\n", " ", block).split("curl ")[1:]
    alice, bob = '-H "Authorization: Bearer $TOKEN"', "$(taskapi token --user bob@example.com)"
    carol = "$(taskapi token --user carol@example.com)"
    senders = [
        "alice" if alice in r else "bob" if bob in r else "carol" if carol in r else None
        for r in requests
    ]
    assert senders == [None] + ["alice"] * 5 + ["bob", "carol"] + ["alice"] * 11
    # Every task request is one of the workspace the walk-through created.
    paths = re.findall(r"localhost:8000(/[^\s\"?]*)", block)
    assert len(paths) == len(promised)
    assert [p for p in paths if not p.startswith("/workspaces")] == []
    assert [p for p in paths if "/tasks" in p and not p.startswith("/workspaces/$W/tasks")] == []


def test_pasting_the_walkthrough_twice_keeps_every_promise(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the README walk-through needs curl"
    block = walkthrough()
    server, output, url = start_local_server(tmp_path)
    try:
        script = block.replace(README_ADDRESS, url.removeprefix("http://"))
        # In the repository (`source .venv/bin/activate`), with the server's data directory:
        # what the reader of the README has after `make run` (which uses .taskapi there).
        result = subprocess.run(
            ["bash", "-c", RECORD_STATUS + script + f"echo {PASTE_MARKER} >&2\n" + script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=README.parent,
            env={**os.environ, "TASKAPI_DATA_DIR": str(tmp_path / "data")},
        )
    finally:
        stop_local_server(server, output)

    assert result.returncode == 0, result.stderr
    first, second = result.stderr.split(PASTE_MARKER)
    promised = promised_statuses(block)
    assert [int(s) for s in first.split() if s.isdigit()] == promised, first
    assert [int(s) for s in second.split() if s.isdigit()] == promised, second
    # "201 again, Idempotent-Replayed: true": the retry was answered, once per paste.
    assert result.stdout.lower().count("idempotent-replayed: true") == 2


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ('curl -si localhost:8000/workspaces/$W/tasks/$A   # 200, ETag: "1"', 200),
        ("curl -si -X DELETE localhost:8000/workspaces/$W  # 409: holds tasks", 409),
    ],
)
def test_a_status_is_read_from_the_comment_at_the_end_of_a_command(line: str, status: int) -> None:
    assert promised_statuses(f"# a comment line, no curl\n{line}\n") == [status]
