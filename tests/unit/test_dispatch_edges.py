"""The dispatcher's report, its log lines (what an operator searches for when events stall) and
the boundaries of its retry policy."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from taskapi.service.commands import CreateTask
from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
from tests.fakes.clock import DEFAULT_NOW
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.subscribers import RecordingSubscriber


def create_tasks(harness: ServiceHarness, count: int) -> None:
    for i in range(count):
        harness.tasks.create(CreateTask(title=f"task {i}"))


def test_a_dispatch_offers_at_most_a_hundred_events_by_default() -> None:
    harness = build_service()
    create_tasks(harness, 101)
    subscriber = RecordingSubscriber()
    dispatcher = OutboxDispatcher(harness.store, [subscriber], clock=harness.clock)

    assert dispatcher.dispatch_pending().delivered == 100
    assert dispatcher.dispatch_pending().delivered == 1
    assert len(subscriber.delivered) == 101


def test_every_event_dead_lettered_in_one_dispatch_is_counted() -> None:
    harness = build_service()
    create_tasks(harness, 3)
    failing = RecordingSubscriber(fail_first=3, error=ValueError("poison"))
    once = RetryPolicy(max_attempts=1)

    report = OutboxDispatcher(
        harness.store, [failing], clock=harness.clock, retry=once
    ).dispatch_pending()

    assert (report.delivered, report.failed, report.dead_lettered) == (0, 0, 3)
    assert len(harness.store.dead_letters()) == 3


def test_a_failed_delivery_logs_the_event_its_attempt_its_error_and_when_it_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = build_service()
    create_tasks(harness, 1)
    [event] = harness.events()
    failing = RecordingSubscriber(fail_first=1, error=ConnectionError("bus unreachable"))
    policy = RetryPolicy(max_attempts=2, first_delay=timedelta(seconds=5))
    dispatcher = OutboxDispatcher(harness.store, [failing], clock=harness.clock, retry=policy)

    with caplog.at_level(logging.WARNING, logger="taskapi.service.dispatch"):
        dispatcher.dispatch_pending()
        harness.clock.advance(timedelta(minutes=10))
        failing.fail_first = 2
        dispatcher.dispatch_pending()

    retried, dead = caplog.records
    assert (retried.levelno, retried.getMessage()) == (
        logging.WARNING,
        "outbox delivery failed; it is retried later",
    )
    assert {
        key: getattr(retried, key) for key in ("event_id", "attempts", "error", "retry_at")
    } == {
        "event_id": str(event.event_id),
        "attempts": 1,
        "error": "ConnectionError: bus unreachable",
        "retry_at": (DEFAULT_NOW + timedelta(seconds=5)).isoformat(),
    }
    assert (dead.levelno, dead.getMessage()) == (
        logging.ERROR,
        "outbox delivery failed for the last time: dead-lettered",
    )
    assert {key: getattr(dead, key) for key in ("event_id", "attempts", "error")} == {
        "event_id": str(event.event_id),
        "attempts": 2,
        "error": "ConnectionError: bus unreachable",
    }


def test_the_first_delay_may_be_the_longest() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(seconds=30))

    assert [policy.delay(n) for n in (1, 2, 50)] == [timedelta(seconds=30)] * 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        (
            {"first_delay": timedelta(0)},
            "delays must be positive, the first no longer than the longest",
        ),
        (
            {"first_delay": timedelta(seconds=10), "max_delay": timedelta(seconds=9)},
            "delays must be positive, the first no longer than the longest",
        ),
    ],
)
def test_an_invalid_policy_is_refused_saying_why(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        RetryPolicy(**arguments)


def test_the_delay_stops_doubling_after_thirty_doublings() -> None:
    # So that any attempt count gives a delay timedelta can hold, whatever the cap.
    policy = RetryPolicy(first_delay=timedelta(microseconds=1), max_delay=timedelta(days=10**6))

    assert policy.delay(31) == timedelta(microseconds=2**30)
    assert policy.delay(32) == policy.delay(10**9) == timedelta(microseconds=2**30)
