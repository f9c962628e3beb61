"""End-to-end scenarios beyond the lifecycle (test_lifecycle.py): dependency cycles, dependents
that block a delete until they let go, concurrent writers, stale preconditions, and paging
through more tasks than several pages hold.

The same tests run against a local ``taskapi serve`` and a deployed stack (``TASKAPI_API_URL``,
SigV4-signed): a deployed run exercises DynamoDB's conditional transactions, the GSI listing
and the BatchGetItem graph walk through API Gateway. No task here has an assignee, so no test
causes an email in a deployed stack.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from tests.e2e.http_client import ApiClient

pytestmark = pytest.mark.e2e

# Enough tasks for three pages of the largest page size, created by a few concurrent clients
# (well inside the deployed stage's default throttle of 50 requests per second).
MANY_TASKS = 250
PAGE_SIZE = 100
CLIENTS = 6


def created(api: ApiClient, title: str, **fields: Any) -> dict[str, Any]:
    reply = api.post("/tasks", json_body={"title": title, **fields})
    assert reply.status == 201, reply.body
    task: dict[str, Any] = reply.json()
    return task


def updated(api: ApiClient, task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    reply = api.put(f"/tasks/{task['task_id']}", json_body={**changes, "version": task["version"]})
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


def chain(api: ApiClient, length: int) -> list[dict[str, Any]]:
    """Tasks t0 <- t1 <- ... (each depends on the previous one)."""
    tasks = [created(api, "chain 0")]
    for position in range(1, length):
        tasks.append(created(api, f"chain {position}", dependencies=[tasks[-1]["task_id"]]))
    return tasks


def test_closing_a_cycle_is_refused_with_the_cycle_named(api: ApiClient) -> None:
    first, middle, last = chain(api, 3)

    reply = api.put(
        f"/tasks/{first['task_id']}",
        json_body={"dependencies": [last["task_id"]], "version": first["version"]},
    )

    assert reply.status == 400
    body = reply.json()
    assert body["error"] == "dependency_cycle"
    cycle = body["details"]["cycle"]
    assert cycle == [first["task_id"], last["task_id"], middle["task_id"], first["task_id"]]
    # Nothing was written: the task is still at its version, without the edge.
    assert api.get(f"/tasks/{first['task_id']}").json() == first


def test_a_long_chain_is_walked_to_the_end(api: ApiClient) -> None:
    tasks = chain(api, 25)
    head, tail = tasks[0], tasks[-1]

    reply = api.put(
        f"/tasks/{head['task_id']}",
        json_body={"dependencies": [tail["task_id"]], "version": head["version"]},
    )

    assert reply.status == 400
    assert len(reply.json()["details"]["cycle"]) == len(tasks) + 1


def test_a_task_cannot_depend_on_itself(api: ApiClient) -> None:
    task = created(api, "Narcissus")

    reply = api.put(
        f"/tasks/{task['task_id']}",
        json_body={"dependencies": [task["task_id"]], "version": task["version"]},
    )

    assert (reply.status, reply.json()["error"]) == (400, "dependency_cycle")


def test_unknown_dependencies_are_named(api: ApiClient) -> None:
    ghost = str(uuid.uuid4())

    reply = api.post("/tasks", json_body={"title": "Haunted", "dependencies": [ghost]})

    assert (reply.status, reply.json()["error"]) == (400, "dependencies_not_found")
    assert reply.json()["details"]["missing_dependencies"] == [ghost]


def test_dependents_block_a_delete_until_they_let_go(api: ApiClient) -> None:
    base = created(api, "Foundation")
    walls = created(api, "Walls", dependencies=[base["task_id"]])
    roof = created(api, "Roof", dependencies=[base["task_id"], walls["task_id"]])
    base_path = f"/tasks/{base['task_id']}"

    blocked = api.delete(base_path)
    assert (blocked.status, blocked.json()["error"]) == (409, "task_has_dependents")
    assert sorted(blocked.json()["details"]["dependents"]) == sorted(
        [walls["task_id"], roof["task_id"]]
    )

    # Re-pointing a dependent moves its reverse edge: only the other one still blocks.
    updated(api, roof, dependencies=[walls["task_id"]])
    still_blocked = api.delete(base_path)
    assert still_blocked.json()["details"]["dependents"] == [walls["task_id"]]

    updated(api, walls, dependencies=[])
    assert api.delete(base_path).status == 204
    assert api.get(base_path).status == 404


def test_a_task_is_completed_only_after_its_dependencies(api: ApiClient) -> None:
    design = created(api, "Design")
    build = created(api, "Build", dependencies=[design["task_id"]])

    early = api.put(f"/tasks/{build['task_id']}", json_body={"status": "completed", "version": 1})
    assert (early.status, early.json()["error"]) == (400, "dependencies_not_completed")
    assert early.json()["details"]["blocking_dependencies"] == [design["task_id"]]

    updated(api, design, status="completed")
    assert updated(api, build, status="completed")["status"] == "completed"


def test_of_concurrent_writers_of_one_version_exactly_one_wins(api: ApiClient) -> None:
    task = created(api, "Contended")
    titles = [f"writer {n}" for n in range(CLIENTS)]

    def write(title: str) -> tuple[int, dict[str, Any]]:
        reply = api.put(f"/tasks/{task['task_id']}", json_body={"title": title, "version": 1})
        return reply.status, reply.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(write, titles))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: CLIENTS - 1}
    [winner] = [body for status, body in results if status == 200]
    assert winner["version"] == 2
    # Every loser is told the winner's version, so it can re-read and retry.
    assert all(body["current_task"] == winner for status, body in results if status == 409)


def test_a_stale_if_match_deletes_nothing(api: ApiClient) -> None:
    task = updated(api, created(api, "Versioned"), title="Versioned twice")
    path = f"/tasks/{task['task_id']}"

    stale = api.delete(path, headers={"If-Match": '"1"'})

    assert (stale.status, stale.json()["error"]) == (412, "precondition_failed")
    assert api.get(path).json() == task
    assert api.delete(path, headers={"If-Match": '"2"'}).status == 204


def test_paging_through_many_tasks_skips_none_and_repeats_none(api: ApiClient) -> None:
    run = uuid.uuid4().hex[:8]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        mine = set(
            pool.map(lambda n: created(api, f"page test {run} #{n}")["task_id"], range(MANY_TASKS))
        )

    # Page through the whole listing: other tests (or earlier runs) may add tasks at the same
    # time, which must never make a task appear twice or one of ours go missing.
    listed: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": PAGE_SIZE}
    while True:
        reply = api.get("/tasks", params=params)
        assert reply.status == 200, reply.body
        page = reply.json()
        assert len(page["tasks"]) <= PAGE_SIZE
        listed += page["tasks"]
        token = page["pagination"]["next_token"]
        if token is None:
            break
        params["next_token"] = token

    ids = [task["task_id"] for task in listed]
    assert len(ids) == len(set(ids)), "a task was listed twice"
    assert mine <= set(ids)
    order = [(datetime.fromisoformat(t["created_at"]), t["task_id"]) for t in listed]
    assert order == sorted(order)
