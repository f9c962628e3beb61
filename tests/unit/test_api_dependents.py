"""``GET /tasks/{id}/dependents`` a page at a time, like ``GET /tasks``: a task with thousands
of dependents must not produce a reply over Lambda's 6 MB limit (docs/api.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.domain.model import MAX_DESCRIPTION_LENGTH
from taskapi.service.commands import CreateTask
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import TASKS, call, create, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def dependents_of(task_id: str, count: int, harness: ServiceHarness, **fields: Any) -> list[str]:
    """``count`` new tasks that depend on ``task_id`` (created through the service: quicker)."""
    command = CreateTask.model_validate({"title": "waits", "dependencies": [task_id], **fields})
    return [str(harness.tasks.create(command).task_id) for _ in range(count)]


def pages(target: str) -> list[dict[str, Any]]:
    """Every page of ``target``, following next_token."""
    replies = [call("GET", target).json()]
    while (token := replies[-1]["pagination"]["next_token"]) is not None:
        replies.append(call("GET", f"{target}&next_token={token}").json())
        assert len(replies) < 1000
    return replies


def test_dependents_come_a_page_at_a_time_in_id_order(harness: ServiceHarness) -> None:
    base = create()["task_id"]
    waiting = dependents_of(base, 7, harness)
    dependents_of(create()["task_id"], 2, harness)  # another task's dependents

    replies = pages(f"{TASKS}/{base}/dependents?limit=3")

    assert [len(r["tasks"]) for r in replies] == [3, 3, 1]
    assert [r["pagination"]["limit"] for r in replies] == [3, 3, 3]
    assert [t["task_id"] for r in replies for t in r["tasks"]] == sorted(waiting)


def test_thousands_of_dependents_stay_far_below_lambdas_reply_limit(
    harness: ServiceHarness,
) -> None:
    base = create()["task_id"]
    dependents_of(base, 3000, harness, description="d" * MAX_DESCRIPTION_LENGTH)  # ~6.6 MB

    reply = call("GET", f"{TASKS}/{base}/dependents")

    assert reply.status == 200
    assert len(reply.json()["tasks"]) == 50  # the default page
    assert reply.json()["pagination"]["next_token"]
    assert len(reply.body) < 200_000


def test_a_token_from_another_listing_is_a_400(harness: ServiceHarness) -> None:
    base, other = create()["task_id"], create()["task_id"]
    dependents_of(base, 3, harness)
    dependents_of(other, 3, harness)
    from_list = call("GET", f"{TASKS}?limit=1").json()["pagination"]["next_token"]
    from_base = call("GET", f"{TASKS}/{base}/dependents?limit=1").json()["pagination"]["next_token"]

    for target, token in [
        (f"{TASKS}/{base}/dependents", from_list),  # a token of GET /tasks
        (f"{TASKS}/{other}/dependents", from_base),  # another task's dependents
        (f"{TASKS}", from_base),  # and back
    ]:
        reply = call("GET", f"{target}?limit=1&next_token={token}")

        assert reply.status == 400, (target, reply.body)
        assert reply.json()["error"] == "invalid_next_token"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "next_token=%25%25"])
def test_a_bad_page_request_is_a_400(harness: ServiceHarness, query: str) -> None:
    base = create()["task_id"]

    reply = call("GET", f"{TASKS}/{base}/dependents?{query}")

    assert reply.status == 400
    assert reply.json()["error"] == "validation_error"
