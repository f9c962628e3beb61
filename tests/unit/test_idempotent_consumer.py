"""Event consumption is idempotent on event_id: Powertools' idempotency over an in-memory
persistence layer (the same semantics as the DynamoDB layer, checked in tests/integration)."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.idempotent_consumer import IdempotentEventConsumer
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.domain.notifications import Notification, assignment_notifications
from tests.fakes.builders import created_event, make_task, received
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.notifications import NotifierDown, RecordingNotifier


class NotifyingHandler:
    """Sends the assignment notifications of each event through a recording notifier."""

    def __init__(self, notifier: RecordingNotifier) -> None:
        self.notifier = notifier
        self.calls = 0

    def __call__(self, event: ReceivedEvent) -> list[Notification]:
        self.calls += 1
        notifications = assignment_notifications(event)
        for notification in notifications:
            self.notifier.send(notification)
        return notifications


def test_a_redelivered_event_sends_nothing_twice() -> None:
    notifier = RecordingNotifier()
    handler = NotifyingHandler(notifier)
    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    event = received(created_event(make_task(assignee="ana@example.com")))

    first = consumer(event)
    second = consumer(event)

    assert handler.calls == 1
    assert len(notifier.sent) == 1
    assert first.duplicate is False
    assert second.duplicate is True
    assert second.notification_ids == first.notification_ids
    assert first.notification_ids == (str(notifier.sent[0].notification_id),)


def test_a_copy_of_the_event_with_the_same_event_id_is_a_duplicate() -> None:
    # What a second publication by the relay looks like once parsed: equal, not identical.
    handler = NotifyingHandler(RecordingNotifier())
    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    event = received(created_event(make_task(assignee="ana@example.com")))

    consumer(event)
    again = consumer(type(event).model_validate_json(event.model_dump_json()))

    assert again.duplicate is True
    assert handler.calls == 1


def test_different_events_are_each_handled() -> None:
    handler = NotifyingHandler(RecordingNotifier())
    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    task = make_task(assignee="ana@example.com")

    consumer(received(created_event(task)))
    consumer(received(created_event(task)))

    assert handler.calls == 2


def test_a_failed_handling_is_not_remembered_so_the_retry_runs_again() -> None:
    failing = {"on": True}
    notifier = RecordingNotifier(fails_for=lambda _: failing["on"])
    handler = NotifyingHandler(notifier)
    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    event = received(created_event(make_task(assignee="ana@example.com")))

    with pytest.raises(NotifierDown):
        consumer(event)
    failing["on"] = False
    retry = consumer(event)

    assert retry.duplicate is False
    assert handler.calls == 2
    assert len(notifier.sent) == 1


def test_a_delivery_while_the_same_event_is_in_progress_is_refused_for_a_later_retry() -> None:
    # Two deliveries of one event racing: the second must neither run nor claim success.
    event = received(created_event(make_task(assignee="ana@example.com")))
    refused: list[Exception] = []

    def handler(current: ReceivedEvent) -> list[Notification]:
        try:
            consumer(current)  # the concurrent delivery, while this one is in progress
        except IdempotencyAlreadyInProgressError as exc:
            refused.append(exc)
        return []

    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    outcome = consumer(event)

    assert outcome.duplicate is False
    assert len(refused) == 1


def test_the_lambda_context_can_be_registered_for_in_progress_expiry() -> None:
    handler = NotifyingHandler(RecordingNotifier())
    consumer = IdempotentEventConsumer(handler, InMemoryPersistenceLayer())
    consumer.use_lambda_context(FakeLambdaContext())  # type: ignore[arg-type]

    outcome = consumer(received(created_event(make_task(assignee="ana@example.com"))))

    assert outcome.duplicate is False
    assert handler.calls == 1
