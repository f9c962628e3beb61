"""End-to-end scenarios beyond the lifecycle (test_lifecycle.py): dependency cycles, dependents
that block a delete until they let go, concurrent writers, stale preconditions, and paging
through more tasks than several pages hold.

The same tests run against a local ``taskapi serve`` and a deployed stack (``TASKAPI_API_URL``,
SigV4-signed), each test in a workspace of its own: a deployed run exercises DynamoDB's
conditional transactions, the per-workspace listing and the BatchGetItem graph walk through API
Gateway. No task here has an assignee, so no test causes an email in a deployed stack.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from tests.e2e.http_client import ApiClient
from tests.e2e.workspaces import Workspace

pytestmark = pytest.mark.e2e

# Enough tasks for three pages of the largest page size, created by a few concurrent clients
# (well inside the deployed stage's default throttle of 50 requests per second).
MANY_TASKS = 250
PAGE_SIZE = 100
CLIENTS = 6


def created(api: ApiClient, ws: Workspace, title: str, **fields: Any) -> dict[str, Any]:
    reply = api.post(ws.tasks, json_body={"title": title, **fields})
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task


def updated(api: ApiClient, ws: Workspace, task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    reply = api.put(ws.task(task["task_id"]), json_body={**changes, "version": task["version"]})
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


def chain(api: ApiClient, ws: Workspace, length: int) -> list[dict[str, Any]]:
    """Tasks t0 <- t1 <- ... (each depends on the previous one)."""
    tasks = [created(api, ws, "chain 0")]
    for position in range(1, length):
        tasks.append(created(api, ws, f"chain {position}", dependencies=[tasks[-1]["task_id"]]))
    return tasks


def test_closing_a_cycle_is_refused_with_the_cycle_named(
    api: ApiClient, workspace: Workspace
) -> None:
    first, middle, last = chain(api, workspace, 3)

    reply = api.put(
        workspace.task(first["task_id"]),
        json_body={"dependencies": [last["task_id"]], "version": first["version"]},
    )

    assert reply.status == 400
    body = reply.json()
    assert body["error"] == "dependency_cycle"
    cycle = body["details"]["cycle"]
    assert cycle == [first["task_id"], last["task_id"], middle["task_id"], first["task_id"]]
    # Nothing was written: the task is still at its version, without the edge.
    assert api.get(workspace.task(first["task_id"])).json() == first


def test_a_long_chain_is_walked_to_the_end(api: ApiClient, workspace: Workspace) -> None:
    tasks = chain(api, workspace, 25)
    head, tail = tasks[0], tasks[-1]

    reply = api.put(
        workspace.task(head["task_id"]),
        json_body={"dependencies": [tail["task_id"]], "version": head["version"]},
    )

    assert reply.status == 400
    assert len(reply.json()["details"]["cycle"]) == len(tasks) + 1


def test_a_task_cannot_depend_on_itself(api: ApiClient, workspace: Workspace) -> None:
    task = created(api, workspace, "Narcissus")

    reply = api.put(
        workspace.task(task["task_id"]),
        json_body={"dependencies": [task["task_id"]], "version": task["version"]},
    )

    assert (reply.status, reply.json()["error"]) == (400, "dependency_cycle")


def test_unknown_dependencies_are_named(api: ApiClient, workspace: Workspace) -> None:
    ghost = str(uuid.uuid4())

    reply = api.post(workspace.tasks, json_body={"title": "Haunted", "dependencies": [ghost]})

    assert (reply.status, reply.json()["error"]) == (400, "dependencies_not_found")
    assert reply.json()["details"]["missing_dependencies"] == [ghost]


def test_dependents_block_a_delete_until_they_let_go(api: ApiClient, workspace: Workspace) -> None:
    base = created(api, workspace, "Foundation")
    walls = created(api, workspace, "Walls", dependencies=[base["task_id"]])
    roof = created(api, workspace, "Roof", dependencies=[base["task_id"], walls["task_id"]])
    base_path = workspace.task(base["task_id"])

    blocked = api.delete(base_path)
    assert (blocked.status, blocked.json()["error"]) == (409, "task_has_dependents")
    assert sorted(blocked.json()["details"]["dependents"]) == sorted(
        [walls["task_id"], roof["task_id"]]
    )

    # Re-pointing a dependent moves its reverse edge: only the other one still blocks.
    updated(api, workspace, roof, dependencies=[walls["task_id"]])
    still_blocked = api.delete(base_path)
    assert still_blocked.json()["details"]["dependents"] == [walls["task_id"]]

    updated(api, workspace, walls, dependencies=[])
    assert api.delete(base_path).status == 204
    assert api.get(base_path).status == 404


def test_a_task_is_completed_only_after_its_dependencies(
    api: ApiClient, workspace: Workspace
) -> None:
    design = created(api, workspace, "Design")
    build = created(api, workspace, "Build", dependencies=[design["task_id"]])

    early = api.put(
        workspace.task(build["task_id"]), json_body={"status": "completed", "version": 1}
    )
    assert (early.status, early.json()["error"]) == (400, "dependencies_not_completed")
    assert early.json()["details"]["blocking_dependencies"] == [design["task_id"]]

    updated(api, workspace, design, status="completed")
    assert updated(api, workspace, build, status="completed")["status"] == "completed"


def test_of_concurrent_writers_of_one_version_exactly_one_wins(
    api: ApiClient, workspace: Workspace
) -> None:
    task = created(api, workspace, "Contended")
    titles = [f"writer {n}" for n in range(CLIENTS)]

    def write(title: str) -> tuple[int, dict[str, Any]]:
        reply = api.put(workspace.task(task["task_id"]), json_body={"title": title, "version": 1})
        return reply.status, reply.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(write, titles))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: CLIENTS - 1}
    [winner] = [body for status, body in results if status == 200]
    assert winner["version"] == 2
    # Every loser is told the winner's version, so it can re-read and retry.
    assert all(body["current_task"] == winner for status, body in results if status == 409)


def test_a_stale_if_match_deletes_nothing(api: ApiClient, workspace: Workspace) -> None:
    task = updated(api, workspace, created(api, workspace, "Versioned"), title="Versioned twice")
    path = workspace.task(task["task_id"])

    stale = api.delete(path, headers={"If-Match": '"1"'})

    assert (stale.status, stale.json()["error"]) == (412, "precondition_failed")
    assert api.get(path).json() == task
    assert api.delete(path, headers={"If-Match": '"2"'}).status == 204


def test_paging_through_many_tasks_skips_none_and_repeats_none(
    api: ApiClient, workspace: Workspace
) -> None:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        mine = set(
            pool.map(
                lambda n: created(api, workspace, f"page test #{n}")["task_id"], range(MANY_TASKS)
            )
        )

    # Page through the workspace's whole listing: exactly its tasks, each once, oldest first,
    # whatever other workspaces of the same server or stack hold.
    listed: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": PAGE_SIZE}
    pages = 0
    while True:
        reply = api.get(workspace.tasks, params=params)
        assert reply.status == 200, reply.body
        page = reply.json()
        assert len(page["tasks"]) <= PAGE_SIZE
        listed += page["tasks"]
        pages += 1
        token = page["pagination"]["next_token"]
        if token is None:
            break
        params["next_token"] = token

    ids = [task["task_id"] for task in listed]
    assert len(ids) == len(set(ids)), "a task was listed twice"
    assert set(ids) == mine
    assert pages == -(-MANY_TASKS // PAGE_SIZE)
    order = [(datetime.fromisoformat(t["created_at"]), t["task_id"]) for t in listed]
    assert order == sorted(order)
