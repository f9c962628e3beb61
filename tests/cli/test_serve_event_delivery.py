"""``taskapi serve`` never runs without event delivery: with a store whose outbox this process
does not deliver (DynamoDB in stream mode) it refuses to start, in one line. (Polling mode,
which does deliver, is in tests/integration/test_serve_dynamodb.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.config import Settings


def test_serve_refuses_a_dynamodb_store_whose_outbox_only_a_stream_relay_delivers(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "TASKAPI_STORE": "dynamodb",
        "TASKAPI_DATA_DIR": str(tmp_path),
        # Nothing may be called: an unreachable endpoint would fail any call loudly.
        "TASKAPI_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    env.pop("TASKAPI_OUTBOX_MODE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "taskapi.local.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = server.stdout.readline() if server.stdout else ""  # "" once it exits
        assert "listening" not in first_line, "serve started without delivering events"
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    assert server.returncode == 2
    [reason] = stderr.strip().splitlines()
    assert reason.startswith("taskapi serve: not starting:")
    assert "TASKAPI_OUTBOX_MODE=polling" in reason


@pytest.mark.usefixtures("fake_aws_credentials")
def test_in_polling_mode_the_local_runtime_has_a_dispatcher_on_the_table() -> None:
    # What serve builds (no call is made: clients are only constructed).
    polling = Settings(store="dynamodb", outbox_mode="polling")
    stream = Settings(store="dynamodb")

    assert bootstrap.build_runtime(polling).dispatcher is not None
    assert bootstrap.build_runtime(stream).dispatcher is None
