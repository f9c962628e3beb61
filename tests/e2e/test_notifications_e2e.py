"""Notifications end to end: requests to a running ``taskapi serve`` produce events, the
in-process outbox dispatcher delivers them to the notification service, and the notices land in
the server's mailbox file.

Locally only: a deployed stack emails through SES, which an HTTP client cannot read back (the
deployed e2e run checks events on the bus instead, see docs/deployment.md).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.http_client import ApiClient

pytestmark = pytest.mark.e2e

DELIVERY_DEADLINE_SECONDS = 15.0


@pytest.fixture
def mailbox(local_data_dir: Path | None) -> Path:
    if local_data_dir is None:
        pytest.skip("a deployed stack sends email through SES: there is no mailbox file to read")
    return local_data_dir / "mailbox.jsonl"


def unique_address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def notices_for(mailbox: Path, recipient: str) -> list[dict[str, Any]]:
    if not mailbox.exists():
        return []
    entries = [json.loads(line) for line in mailbox.read_text(encoding="utf-8").splitlines()]
    return [entry for entry in entries if entry["recipient"] == recipient]


def wait_for_notices(mailbox: Path, recipient: str, count: int) -> list[dict[str, Any]]:
    """The recipient's notices once there are ``count`` of them; fails at the deadline.
    Delivery is asynchronous (a background dispatcher), hence the polling."""
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while True:
        notices = notices_for(mailbox, recipient)
        if len(notices) >= count or time.monotonic() > deadline:
            assert len(notices) == count, notices
            return notices
        time.sleep(0.05)  # polling interval; the dispatcher wakes on every commit


def create(api: ApiClient, **fields: Any) -> dict[str, Any]:
    reply = api.post("/tasks", json_body=fields)
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task


def test_assigning_and_completing_tasks_notifies_through_the_mailbox(
    api: ApiClient, mailbox: Path
) -> None:
    designer, builder = unique_address("designer"), unique_address("builder")

    design = create(api, title="Design the schema", assignee=designer)
    build = create(api, title="Build the API", assignee=builder, dependencies=[design["task_id"]])

    [assigned_design] = wait_for_notices(mailbox, designer, 1)
    [assigned_build] = wait_for_notices(mailbox, builder, 1)
    assert (assigned_design["kind"], assigned_design["task_id"]) == (
        "task_assigned",
        design["task_id"],
    )
    assert (assigned_build["kind"], assigned_build["task_id"]) == (
        "task_assigned",
        build["task_id"],
    )

    done = api.put(
        f"/tasks/{design['task_id']}",
        json_body={"status": "completed"},
        headers={"If-Match": '"1"'},
    )
    assert done.status == 200, done.body

    unblocked = wait_for_notices(mailbox, builder, 2)[1]
    assert (unblocked["kind"], unblocked["task_id"]) == ("task_unblocked", build["task_id"])
    assert "Build the API" in unblocked["subject"]
    # The completion itself notifies nobody else, and nothing was delivered twice.
    assert len(notices_for(mailbox, designer)) == 1


def test_a_task_without_assignee_notifies_nobody(api: ApiClient, mailbox: Path) -> None:
    watcher = unique_address("watcher")
    lone = create(api, title="Nobody's task")
    create(api, title="Marker", assignee=watcher)  # delivered after the task above

    wait_for_notices(mailbox, watcher, 1)

    assert not [
        line
        for line in mailbox.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["task_id"] == lone["task_id"]
    ]
