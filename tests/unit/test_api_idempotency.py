"""``Idempotency-Key`` on POST /tasks: a retry gets the first response and creates nothing,
whatever failed in between (the request is recorded in the task's own atomic write)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from taskapi.domain.workspaces import Role
from taskapi.entrypoints.api import lambda_handler
from taskapi.local.proxy import (
    HttpReply,
    HttpRequest,
    LocalLambdaContext,
    from_proxy_response,
    to_proxy_event,
)
from taskapi.service.ports import StoreFailure, StoreUnavailable
from taskapi.service.tasks import IDEMPOTENCY_KEY_LIFETIME
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits
from tests.unit.api_helpers import JSON, TASKS, call, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def post(body: Any, key: str | None = None) -> HttpReply:
    return call("POST", f"{TASKS}", body, [] if key is None else [("Idempotency-Key", key)])


def post_in_context(request_context: dict[str, Any], key: str = "k") -> HttpReply:
    request = HttpRequest("POST", f"{TASKS}", [JSON, ("Idempotency-Key", key)], b'{"title": "t"}')
    event = to_proxy_event(request)
    event["requestContext"].update(request_context)
    return from_proxy_response(lambda_handler(event, LocalLambdaContext()))


def test_a_retry_with_the_same_key_and_body_replays_the_first_response(
    harness: ServiceHarness,
) -> None:
    first = post({"title": "pay the invoice", "priority": "high"}, key="retry-1")
    retry = post({"priority": "high", "title": "pay the invoice"}, key="retry-1")  # key order

    assert first.status == retry.status == 201
    assert retry.json() == first.json()
    assert retry.header("Location") == first.header("Location")
    assert retry.header("ETag") == first.header("ETag")
    assert first.header("Idempotent-Replayed") is None
    assert retry.header("Idempotent-Replayed") == "true"
    assert len(harness.stored_tasks()) == 1
    assert len(harness.events()) == 1


def test_the_same_key_with_a_different_body_is_a_422(harness: ServiceHarness) -> None:
    post({"title": "pay the invoice"}, key="reused")

    reply = post({"title": "pay another invoice"}, key="reused")

    assert reply.status == 422
    assert reply.json()["error"] == "idempotency_key_reused"
    assert len(harness.stored_tasks()) == 1


def test_different_keys_and_no_key_each_create(harness: ServiceHarness) -> None:
    body = {"title": "same body"}

    replies = [post(body, key="a"), post(body, key="b"), post(body), post(body)]

    assert [reply.status for reply in replies] == [201] * 4
    assert len({reply.json()["task_id"] for reply in replies}) == 4
    assert len(harness.stored_tasks()) == 4


def test_keys_are_scoped_to_the_iam_caller(harness: ServiceHarness) -> None:
    for user in ("alice", "bob"):
        harness.add_member(f"iam:arn:aws:iam::1:user/{user}", Role.MEMBER)
    alice = post_in_context({"identity": {"userArn": "arn:aws:iam::1:user/alice"}})
    bob = post_in_context({"identity": {"userArn": "arn:aws:iam::1:user/bob"}})

    assert alice.status == bob.status == 201
    assert alice.json()["task_id"] != bob.json()["task_id"]
    assert bob.header("Idempotent-Replayed") is None


def test_keys_are_scoped_to_the_cognito_user(harness: ServiceHarness) -> None:
    # Under a Cognito authorizer there is no IAM identity: the user is the token's sub claim.
    def as_user(sub: str) -> HttpReply:
        return post_in_context({"authorizer": {"claims": {"sub": sub}}, "identity": {}})

    for sub in ("sub-alice", "sub-bob"):
        harness.add_member(f"cognito:{sub}", Role.MEMBER)
    alice, bob, alice_again = as_user("sub-alice"), as_user("sub-bob"), as_user("sub-alice")

    assert alice.status == bob.status == alice_again.status == 201
    assert alice.json()["task_id"] != bob.json()["task_id"]
    assert alice_again.json()["task_id"] == alice.json()["task_id"]
    assert alice_again.header("Idempotent-Replayed") == "true"
    assert len(harness.stored_tasks()) == 2


def test_a_create_that_committed_but_was_never_acknowledged_is_not_repeated() -> None:
    # The write landed, then the store's reply was lost (a timeout after success).
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, StoreFailure("reply lost"), when="after")
    )
    with installed(harness):
        failed = post({"title": "pay once"}, key="lost-reply")
        retried = post({"title": "pay once"}, key="lost-reply")

    assert failed.status == 500
    assert retried.status == 201
    assert retried.header("Idempotent-Replayed") == "true"
    assert len(harness.stored_tasks()) == 1
    assert len(harness.events()) == 1


def test_a_failed_create_is_not_remembered() -> None:
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, StoreUnavailable("throttled"), times=1)
    )
    with installed(harness):
        failed = post({"title": "t"}, key="flaky")
        retried = post({"title": "t"}, key="flaky")

    assert failed.status == 503
    assert failed.header("Retry-After") == "1"
    assert retried.status == 201
    assert retried.header("Idempotent-Replayed") is None
    assert len(harness.stored_tasks()) == 1


def test_concurrent_duplicates_create_one_task(harness: ServiceHarness) -> None:
    barrier = threading.Barrier(4)
    replies: list[HttpReply] = []

    def duplicate() -> None:
        barrier.wait(timeout=10)
        replies.append(post({"title": "once"}, key="burst"))

    threads = [threading.Thread(target=duplicate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert [reply.status for reply in replies] == [201] * 4
    assert len({reply.json()["task_id"] for reply in replies}) == 1
    assert sum(reply.header("Idempotent-Replayed") == "true" for reply in replies) == 3
    assert len(harness.stored_tasks()) == 1


def test_a_key_is_free_again_once_it_expired(harness: ServiceHarness) -> None:
    first = post({"title": "monthly report"}, key="monthly")
    harness.clock.advance(IDEMPOTENCY_KEY_LIFETIME + timedelta(seconds=1))

    second = post({"title": "monthly report"}, key="monthly")

    assert second.status == 201
    assert second.header("Idempotent-Replayed") is None
    assert second.json()["task_id"] != first.json()["task_id"]


def test_an_invalid_body_is_refused_before_the_key_is_used(harness: ServiceHarness) -> None:
    invalid = post({"title": ""}, key="k")
    valid = post({"title": "fixed"}, key="k")

    assert invalid.status == 400
    assert valid.status == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ünïcode"])
def test_a_malformed_key_is_a_400(harness: ServiceHarness, key: str) -> None:
    reply = post({"title": "t"}, key=key)

    assert reply.status == 400
    assert reply.json()["details"][0]["field"] == "header.idempotency-key"
    assert harness.stored_tasks() == {}
