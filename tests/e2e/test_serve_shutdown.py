"""Ctrl-C stops ``taskapi serve`` promptly and cleanly: exit status 0, the last line says so.

The bound is generous (the suite shares its machine); docs/testing.md gives a measured figure.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import SHUTDOWN_DEADLINE_SECONDS, start_local_server

CTRL_C_BOUND_SECONDS = 2.0


def test_ctrl_c_stops_the_server_within_the_bound(tmp_path: Path) -> None:
    server, output, _url = start_local_server(tmp_path)

    started = time.perf_counter()
    server.send_signal(signal.SIGINT)
    try:
        returncode = server.wait(timeout=SHUTDOWN_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise
    elapsed = time.perf_counter() - started

    assert returncode == 0, output.text()
    assert elapsed < CTRL_C_BOUND_SECONDS, f"{elapsed:.2f} s"
    assert output.text().rstrip().endswith("shutting down")
