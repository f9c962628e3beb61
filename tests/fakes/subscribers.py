"""Outbox subscribers for tests of the dispatcher and of anything that consumes events."""

from __future__ import annotations

from taskapi.domain.event_readers import ReceivedEvent


class SubscriberFailure(RuntimeError):
    """The default error a ``RecordingSubscriber`` raises while it is failing."""


class RecordingSubscriber:
    """A subscriber that records every event it is offered and can fail on purpose.

    It raises ``error`` on its first ``fail_first`` calls, then accepts everything.
    ``seen`` is every offer in order, failed attempts included (so a redelivery shows up twice);
    ``delivered`` is only the offers it accepted.
    """

    def __init__(self, fail_first: int = 0, error: Exception | None = None) -> None:
        self.fail_first = fail_first
        self.error = error if error is not None else SubscriberFailure("subscriber is down")
        self.seen: list[ReceivedEvent] = []
        self.delivered: list[ReceivedEvent] = []

    def __call__(self, event: ReceivedEvent) -> None:
        self.seen.append(event)
        if len(self.seen) <= self.fail_first:
            raise self.error
        self.delivered.append(event)
