"""``Idempotency-Key`` on POST /tasks: a retry gets the first response and creates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.http.idempotency import (
    ANONYMOUS_CALLER,
    KEY_PREFIX,
    idempotency_config,
    idempotency_request,
)
from taskapi.local.proxy import (
    HttpReply,
    HttpRequest,
    LocalLambdaContext,
    from_proxy_response,
    to_proxy_event,
)
from taskapi.service.ports import StoreUnavailable
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits
from tests.unit.api_helpers import JSON, call, installed


@pytest.fixture
def records() -> InMemoryPersistenceLayer:
    return InMemoryPersistenceLayer()


@pytest.fixture
def harness(records: InMemoryPersistenceLayer) -> Iterator[ServiceHarness]:
    with installed(build_service(), idempotency=records) as harness:
        yield harness


def post(body: Any, key: str | None = None) -> HttpReply:
    return call("POST", "/tasks", body, [] if key is None else [("Idempotency-Key", key)])


def hold_key(
    records: InMemoryPersistenceLayer, key: str, body: Any, *, remaining_millis: int
) -> None:
    """What a request holding ``key`` leaves behind while its invocation runs: an in-progress
    record that expires with the invocation's deadline."""
    records.configure(idempotency_config(), key_prefix=KEY_PREFIX)
    records.save_inprogress(
        data=idempotency_request(ANONYMOUS_CALLER, key, body),
        remaining_time_in_millis=remaining_millis,
    )


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
    assert len(harness.store.tasks) == 1
    assert len(harness.events()) == 1


def test_the_same_key_with_a_different_body_is_a_422(harness: ServiceHarness) -> None:
    post({"title": "pay the invoice"}, key="reused")

    reply = post({"title": "pay another invoice"}, key="reused")

    assert reply.status == 422
    assert reply.json()["error"] == "idempotency_key_reused"
    assert len(harness.store.tasks) == 1


def test_different_keys_and_no_key_each_create(harness: ServiceHarness) -> None:
    body = {"title": "same body"}

    replies = [post(body, key="a"), post(body, key="b"), post(body), post(body)]

    assert [reply.status for reply in replies] == [201] * 4
    assert len({reply.json()["task_id"] for reply in replies}) == 4
    assert len(harness.store.tasks) == 4


def test_keys_are_scoped_to_the_caller(harness: ServiceHarness) -> None:
    def post_as(user_arn: str) -> HttpReply:
        request = HttpRequest("POST", "/tasks", [JSON, ("Idempotency-Key", "k")], b'{"title": "t"}')
        event = to_proxy_event(request)
        event["requestContext"]["identity"]["userArn"] = user_arn
        return from_proxy_response(lambda_handler(event, LocalLambdaContext()))

    alice, bob = post_as("arn:aws:iam::1:user/alice"), post_as("arn:aws:iam::1:user/bob")

    assert alice.status == bob.status == 201
    assert alice.json()["task_id"] != bob.json()["task_id"]
    assert bob.header("Idempotent-Replayed") is None


def test_a_duplicate_while_the_first_is_in_progress_is_a_409(
    harness: ServiceHarness, records: InMemoryPersistenceLayer
) -> None:
    body = {"title": "slow create"}
    hold_key(records, "busy", body, remaining_millis=60_000)

    reply = post(body, key="busy")

    assert reply.status == 409
    assert reply.json()["error"] == "idempotency_in_progress"
    assert harness.store.tasks == {}


def test_an_in_progress_record_whose_invocation_timed_out_is_taken_over(
    harness: ServiceHarness, records: InMemoryPersistenceLayer
) -> None:
    body = {"title": "crashed create"}
    # Its invocation's deadline passed a second ago: Lambda killed it mid-create.
    hold_key(records, "stuck", body, remaining_millis=-1000)

    reply = post(body, key="stuck")

    assert reply.status == 201
    assert len(harness.store.tasks) == 1


def test_a_failed_create_is_not_remembered(records: InMemoryPersistenceLayer) -> None:
    harness = build_service(
        wrap=lambda inner: FailingCommits(inner, StoreUnavailable("throttled"), times=1)
    )
    with installed(harness, idempotency=records):
        failed = post({"title": "t"}, key="flaky")
        retried = post({"title": "t"}, key="flaky")

    assert failed.status == 503
    assert retried.status == 201
    assert retried.header("Idempotent-Replayed") is None
    assert len(harness.store.tasks) == 1


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
    assert harness.store.tasks == {}
