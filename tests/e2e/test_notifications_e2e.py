"""Notifications end to end: requests to a running ``taskapi serve`` produce events, the
in-process outbox dispatcher delivers them to the notification service, and the notices land in
the server's mailbox file.

Locally only: a deployed stack emails through SES, which an HTTP client cannot read back (the
deployed e2e run checks events on the bus instead, see docs/deployment.md).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.e2e.http_client import ApiClient
from tests.e2e.mailbox import (
    assert_of_workspace,
    notices_for,
    wait_for_notices,
)
from tests.e2e.workspaces import Workspace, create_task

pytestmark = pytest.mark.e2e


@pytest.fixture
def mailbox(local_data_dir: Path | None) -> Path:
    if local_data_dir is None:
        pytest.skip("a deployed stack sends email through SES: there is no mailbox file to read")
    return local_data_dir / "mailbox.jsonl"


def unique_address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def test_assigning_tasks_notifies_through_the_mailbox(
    api: ApiClient, workspace: Workspace, mailbox: Path
) -> None:
    designer, builder = unique_address("designer"), unique_address("builder")

    design = create_task(api, workspace, title="Design the schema", assignee=designer)
    build = create_task(
        api, workspace, title="Build the API", assignee=builder, dependencies=[design["task_id"]]
    )

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
    assert "Build the API" in assigned_build["subject"]
    for notice in (assigned_design, assigned_build):
        assert_of_workspace(notice, workspace)


def test_completing_a_task_notifies_the_assignee_of_the_task_it_unblocks(
    api: ApiClient, workspace: Workspace, mailbox: Path
) -> None:
    designer, builder = unique_address("designer"), unique_address("builder")
    design = create_task(api, workspace, title="Design the schema", assignee=designer)
    build = create_task(
        api, workspace, title="Build the API", assignee=builder, dependencies=[design["task_id"]]
    )
    wait_for_notices(mailbox, builder, 1)

    done = api.put(
        workspace.task(design["task_id"]),
        json_body={"status": "completed"},
        headers={"If-Match": '"1"'},
    )
    assert done.status == 200, done.body

    unblocked = wait_for_notices(mailbox, builder, 2)[1]
    assert (unblocked["kind"], unblocked["task_id"]) == ("task_unblocked", build["task_id"])
    assert "Build the API" in unblocked["subject"]
    assert_of_workspace(unblocked, workspace)
    # The completion itself notifies nobody else, and nothing was delivered twice.
    assert len(notices_for(mailbox, designer)) == 1


def test_a_task_without_assignee_notifies_nobody(
    api: ApiClient, workspace: Workspace, mailbox: Path
) -> None:
    watcher = unique_address("watcher")
    lone = create_task(api, workspace, title="Nobody's task")
    create_task(api, workspace, title="Marker", assignee=watcher)  # delivered after the above

    wait_for_notices(mailbox, watcher, 1)

    assert not [
        line
        for line in mailbox.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["task_id"] == lone["task_id"]
    ]


def test_the_callers_correlation_id_reaches_the_notification(
    api: ApiClient, workspace: Workspace, mailbox: Path
) -> None:
    # Over real HTTP: the gateway passes the header in and the reply header out, and the pump
    # delivers the event in its own thread (docs/events.md#correlation-ids).
    assignee, correlation_id = unique_address("traced"), f"e2e-{uuid.uuid4().hex}"

    reply = api.post(
        workspace.tasks,
        json_body={"title": "Traced", "assignee": assignee},
        headers={"X-Correlation-Id": correlation_id},
    )

    assert reply.status == 201, reply.body
    assert reply.header("X-Correlation-Id") == correlation_id
    [notice] = wait_for_notices(mailbox, assignee, 1)
    assert notice["correlation_id"] == correlation_id
