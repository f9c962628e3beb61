"""Delivers committed outbox events to subscribers, at least once.

An event is marked sent only after every subscriber accepted it. If any subscriber raises,
the event stays pending with the error recorded and is offered again on the next run, so
subscribers must be idempotent on ``event_id`` (they may see an event twice, never zero times).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from taskapi.domain.event_readers import ReceivedEvent
from taskapi.service.ports import OutboxReader

# What a subscriber returns is ignored; only raising matters (the event stays pending).
Subscriber = Callable[[ReceivedEvent], object]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchReport:
    delivered: int
    failed: int


class OutboxDispatcher:
    def __init__(self, outbox: OutboxReader, subscribers: Sequence[Subscriber] = ()) -> None:
        self._outbox = outbox
        self._subscribers: list[Subscriber] = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def dispatch_pending(self, batch_size: int = 100) -> DispatchReport:
        """Offer every pending event (one batch) to every subscriber."""
        delivered = failed = 0
        for record in self._outbox.pending(batch_size):
            event = record.event
            try:
                for subscriber in self._subscribers:
                    subscriber(event)
            except Exception as exc:  # any subscriber failure keeps the event pending
                failed += 1
                error = f"{type(exc).__name__}: {exc}"
                self._outbox.mark_failed(event.event_id, error)
                logger.warning(
                    "outbox delivery failed; the event stays pending",
                    extra={"event_id": str(event.event_id), "error": error},
                )
            else:
                delivered += 1
                self._outbox.mark_sent(event.event_id)
        return DispatchReport(delivered=delivered, failed=failed)
