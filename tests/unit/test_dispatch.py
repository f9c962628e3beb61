"""The outbox dispatcher: at-least-once delivery of committed events to subscribers."""

from __future__ import annotations

import logging

import pytest

from taskapi.adapters.memory import InMemoryStore, InMemoryUnitOfWorkFactory
from taskapi.domain.event_readers import ReceivedEvent, ReceivedTaskCreated
from taskapi.service.dispatch import OutboxDispatcher
from tests.fakes.builders import created_event, make_task, received
from tests.fakes.subscribers import RecordingSubscriber


def commit_events(store: InMemoryStore, count: int) -> list[ReceivedEvent]:
    """Commit ``count`` events; return them as subscribers receive them."""
    events: list[ReceivedEvent] = []
    for i in range(count):
        task = make_task(title=f"task {i}")
        event = created_event(task)
        with InMemoryUnitOfWorkFactory(store)() as uow:
            uow.tasks.add(task)
            uow.outbox.add(event)
            uow.commit()
        events.append(received(event))
    return events


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def test_every_pending_event_reaches_every_subscriber_in_order(store: InMemoryStore) -> None:
    events = commit_events(store, 3)
    first, second = RecordingSubscriber(), RecordingSubscriber()

    report = OutboxDispatcher(store, [first, second]).dispatch_pending()

    assert (report.delivered, report.failed) == (3, 0)
    assert first.delivered == second.delivered == events
    assert store.pending(10) == []


def test_subscribers_added_later_receive_later_dispatches(store: InMemoryStore) -> None:
    dispatcher = OutboxDispatcher(store)
    subscriber = RecordingSubscriber()
    dispatcher.subscribe(subscriber)
    events = commit_events(store, 1)
    dispatcher.dispatch_pending()
    assert subscriber.delivered == events


def test_a_failing_subscriber_keeps_the_event_pending_with_the_error(
    store: InMemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    (event,) = commit_events(store, 1)
    subscriber = RecordingSubscriber(fail_first=1, error=ConnectionError("bus unreachable"))
    dispatcher = OutboxDispatcher(store, [subscriber])

    with caplog.at_level(logging.WARNING, logger="taskapi.service.dispatch"):
        report = dispatcher.dispatch_pending()

    assert (report.delivered, report.failed) == (0, 1)
    (record,) = store.pending(10)
    assert (record.event, record.attempts) == (event, 1)
    assert record.last_error == "ConnectionError: bus unreachable"
    (log,) = caplog.records
    assert log.event_id == str(event.event_id)  # type: ignore[attr-defined]

    retry = dispatcher.dispatch_pending()
    assert (retry.delivered, retry.failed) == (1, 0)
    assert subscriber.delivered == [event]
    assert store.pending(10) == []


def test_delivery_is_at_least_once_so_healthy_subscribers_may_see_an_event_twice(
    store: InMemoryStore,
) -> None:
    (event,) = commit_events(store, 1)
    healthy, flaky = RecordingSubscriber(), RecordingSubscriber(fail_first=1)
    dispatcher = OutboxDispatcher(store, [healthy, flaky])

    dispatcher.dispatch_pending()
    dispatcher.dispatch_pending()

    assert healthy.delivered == [event, event]  # consumers de-duplicate on event_id
    assert flaky.delivered == [event]
    assert store.pending(10) == []


def test_one_failing_event_does_not_hold_back_the_others(store: InMemoryStore) -> None:
    events = commit_events(store, 3)

    def refuse_the_second(event: ReceivedEvent) -> None:
        if event.event_id == events[1].event_id:
            raise ValueError("cannot handle this one")

    report = OutboxDispatcher(store, [refuse_the_second]).dispatch_pending()

    assert (report.delivered, report.failed) == (2, 1)
    assert [r.event for r in store.pending(10)] == [events[1]]


def test_a_dispatch_offers_at_most_one_batch(store: InMemoryStore) -> None:
    events = commit_events(store, 5)
    subscriber = RecordingSubscriber()
    dispatcher = OutboxDispatcher(store, [subscriber])

    assert dispatcher.dispatch_pending(batch_size=2).delivered == 2
    assert subscriber.delivered == events[:2]
    assert dispatcher.dispatch_pending(batch_size=10).delivered == 3
    assert subscriber.delivered == events
    assert all(isinstance(e, ReceivedTaskCreated) for e in subscriber.delivered)


def test_nothing_pending_is_a_quiet_no_op(store: InMemoryStore) -> None:
    subscriber = RecordingSubscriber()
    report = OutboxDispatcher(store, [subscriber]).dispatch_pending()
    assert (report.delivered, report.failed) == (0, 0)
    assert subscriber.seen == []
