"""Optimistic concurrency over HTTP: ``version`` in the body (409 with the current task) and
``If-Match`` with the ETag (412), and 428 when an update names neither."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest

from taskapi.domain.errors import VersionConflict
from taskapi.domain.model import Task
from taskapi.service.commands import UpdateTask
from tests.fakes.builders import make_task
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits
from tests.unit.api_helpers import TASKS, call, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


@pytest.fixture
def task_at_version_2(harness: ServiceHarness) -> dict[str, Any]:
    """A task that someone else already changed once: its ETag is "2"."""
    created = call("POST", f"{TASKS}", {"title": "shared"}).json()
    harness.tasks.update(UUID(created["task_id"]), UpdateTask(priority="high"), 1)
    current: dict[str, Any] = call("GET", f"{TASKS}/{created['task_id']}").json()
    assert current["version"] == 2
    return current


def path(task: dict[str, Any]) -> str:
    return f"{TASKS}/{task['task_id']}"


def test_an_update_without_version_or_if_match_is_a_428(task_at_version_2: dict[str, Any]) -> None:
    reply = call("PUT", path(task_at_version_2), {"title": "mine"})

    assert reply.status == 428
    assert reply.json()["error"] == "precondition_required"
    assert "If-Match" in reply.json()["message"]


def test_a_stale_version_is_a_409_with_the_current_task(
    task_at_version_2: dict[str, Any],
) -> None:
    reply = call("PUT", path(task_at_version_2), {"title": "mine", "version": 1})

    assert reply.status == 409
    body = reply.json()
    assert body["error"] == "version_conflict"
    assert body["details"] == {"expected_version": 1, "current_version": 2}
    assert body["current_task"] == task_at_version_2
    assert reply.header("ETag") == '"2"'


def test_the_loser_can_retry_with_the_current_version(task_at_version_2: dict[str, Any]) -> None:
    conflict = call("PUT", path(task_at_version_2), {"title": "mine", "version": 1}).json()

    retry = call(
        "PUT",
        path(task_at_version_2),
        {"title": "mine", "version": conflict["current_task"]["version"]},
    )

    assert retry.status == 200
    assert retry.json()["version"] == 3


@pytest.mark.parametrize("if_match", ['"1"', 'W/"2"', '"abc"', '"1", "3"'])
def test_an_if_match_that_does_not_match_strongly_is_a_412(
    task_at_version_2: dict[str, Any], if_match: str
) -> None:
    reply = call("PUT", path(task_at_version_2), {"title": "mine"}, [("If-Match", if_match)])

    assert reply.status == 412
    assert reply.json()["error"] == "precondition_failed"
    assert reply.json()["details"] == {"current_etag": '"2"', "current_version": 2}
    assert reply.header("ETag") == '"2"'
    assert call("GET", path(task_at_version_2)).json()["title"] == "shared"


@pytest.mark.parametrize("if_match", ['"2"', "*", '"1", "2"', ' "7" ,"2" '])
def test_a_matching_if_match_updates(task_at_version_2: dict[str, Any], if_match: str) -> None:
    reply = call("PUT", path(task_at_version_2), {"title": "mine"}, [("If-Match", if_match)])

    assert reply.status == 200
    assert reply.json()["title"] == "mine"
    assert reply.header("ETag") == '"3"'


def test_if_match_on_several_lines_is_one_list(task_at_version_2: dict[str, Any]) -> None:
    # RFC 9110, 5.3: two lines of a list header are the list of both values.
    matching = [("If-Match", '"7"'), ("If-Match", '"2"')]
    stale = [("If-Match", '"7"'), ("If-Match", '"1"')]

    refused = call("PUT", path(task_at_version_2), {"title": "mine"}, stale)
    updated = call("PUT", path(task_at_version_2), {"title": "mine"}, matching)

    assert (refused.status, refused.json()["error"]) == (412, "precondition_failed")
    assert (updated.status, updated.header("ETag")) == (200, '"3"')


@pytest.mark.parametrize("if_match", ["2", "W/2", '"2', "", "**", '"2" "3"'])
def test_a_malformed_if_match_is_a_400(task_at_version_2: dict[str, Any], if_match: str) -> None:
    reply = call("PUT", path(task_at_version_2), {"title": "mine"}, [("If-Match", if_match)])

    assert reply.status == 400
    assert reply.json()["error"] == "invalid_precondition"


def test_if_match_and_a_different_body_version_is_a_400(task_at_version_2: dict[str, Any]) -> None:
    reply = call(
        "PUT", path(task_at_version_2), {"title": "mine", "version": 1}, [("If-Match", '"2"')]
    )

    assert reply.status == 400
    assert reply.json()["error"] == "invalid_precondition"


@pytest.mark.parametrize("if_match", ["*", '"1", "2"'])
def test_a_header_that_allows_the_stale_body_version_leaves_it_the_409(
    task_at_version_2: dict[str, Any], if_match: str
) -> None:
    # "*" names no version, and a list naming the body's agrees with it: the body's version
    # is the condition, and stale it is the 409 with the current task it is without a header.
    reply = call(
        "PUT", path(task_at_version_2), {"title": "mine", "version": 1}, [("If-Match", if_match)]
    )

    assert reply.status == 409
    assert reply.json()["error"] == "version_conflict"
    assert reply.json()["current_task"] == task_at_version_2
    assert call("GET", path(task_at_version_2)).json()["title"] == "shared"


@pytest.mark.parametrize("if_match", ["*", '"2", "5"'])
def test_a_header_that_allows_the_current_body_version_updates(
    task_at_version_2: dict[str, Any], if_match: str
) -> None:
    reply = call(
        "PUT", path(task_at_version_2), {"title": "mine", "version": 2}, [("If-Match", if_match)]
    )

    assert reply.status == 200
    assert reply.json()["version"] == 3


def test_a_list_without_the_body_version_is_a_400(task_at_version_2: dict[str, Any]) -> None:
    reply = call(
        "PUT", path(task_at_version_2), {"title": "mine", "version": 1}, [("If-Match", '"2", "3"')]
    )

    assert reply.status == 400
    assert reply.json()["error"] == "invalid_precondition"


def test_if_match_and_the_same_body_version_is_fine(task_at_version_2: dict[str, Any]) -> None:
    reply = call(
        "PUT", path(task_at_version_2), {"title": "mine", "version": 2}, [("If-Match", '"2"')]
    )

    assert reply.status == 200


def test_delete_honours_if_match(task_at_version_2: dict[str, Any]) -> None:
    stale = call("DELETE", path(task_at_version_2), headers=[("If-Match", '"1"')])
    current = call("DELETE", path(task_at_version_2), headers=[("If-Match", '"2"')])

    assert stale.status == 412
    assert stale.json()["error"] == "precondition_failed"
    assert current.status == 204
    assert call("GET", path(task_at_version_2)).status == 404


def test_delete_without_if_match_is_unconditional(task_at_version_2: dict[str, Any]) -> None:
    assert call("DELETE", path(task_at_version_2)).status == 204


# -- losing a race at commit time (the store's conditional write refuses) ---------------------


@contextmanager
def losing_the_race_on_commit(commit: int) -> Iterator[tuple[ServiceHarness, Task]]:
    """A service whose ``commit``-th commit fails as if another writer had just written."""
    winner = make_task(title="the other writer's version", version=2)
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, VersionConflict(winner, 1), on_commit=commit)
    )
    with installed(harness):
        yield harness, winner


def test_an_update_with_if_match_that_loses_the_race_is_a_412() -> None:
    with losing_the_race_on_commit(2) as (_, winner):
        task = call("POST", f"{TASKS}", {"title": "t"}).json()

        reply = call("PUT", path(task), {"title": "mine"}, [("If-Match", '"1"')])

    assert reply.status == 412
    assert reply.header("ETag") == winner.etag


def test_a_delete_that_loses_the_race_is_a_409_with_the_current_task() -> None:
    with losing_the_race_on_commit(2) as (_, winner):
        task = call("POST", f"{TASKS}", {"title": "t"}).json()

        reply = call("DELETE", path(task))

    assert reply.status == 409
    assert reply.json()["error"] == "version_conflict"
    assert reply.json()["current_task"] == winner.model_dump(mode="json")
