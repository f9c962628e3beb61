"""Reading a local ``taskapi serve``'s notifications back: its mailbox file
(``<data dir>/mailbox.jsonl``, one JSON object a line), which the server's outbox dispatcher
appends to as it delivers events to the notification service.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.e2e.workspaces import Workspace

DELIVERY_DEADLINE_SECONDS = 15.0


def entries(mailbox: Path) -> list[dict[str, Any]]:
    if not mailbox.exists():
        return []
    lines = mailbox.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def notices_for(mailbox: Path, recipient: str) -> list[dict[str, Any]]:
    return [entry for entry in entries(mailbox) if entry["recipient"] == recipient]


def wait_for_notices(mailbox: Path, recipient: str, count: int) -> list[dict[str, Any]]:
    """The recipient's notices once there are ``count`` of them, oldest first; fails at the
    deadline, or if there are more. Delivery is asynchronous (a background dispatcher in
    another process, which writes a file), hence the polling."""
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while True:
        notices = notices_for(mailbox, recipient)
        if len(notices) >= count or time.monotonic() > deadline:
            assert len(notices) == count, notices
            return notices
        time.sleep(0.05)  # polling interval; the dispatcher wakes on every commit


def assert_of_workspace(notice: dict[str, Any], workspace: Workspace) -> None:
    """``notice`` names ``workspace``, as every notification names its task's workspace."""
    assert notice.get("workspace_id") == workspace.workspace_id, notice
