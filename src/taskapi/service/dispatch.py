"""Delivers committed outbox events to subscribers, at least once; sets poison events aside.

An event is marked sent only after every subscriber accepted it. If one raises, the event is
retried later, with a growing delay, so the events behind it go first; after
``RetryPolicy.max_attempts`` attempts it becomes a dead letter, kept until redriven.
Subscribers must be idempotent on ``event_id``. See docs/events.md#the-local-outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from taskapi.domain.event_readers import ReceivedEvent
from taskapi.service.correlation import correlated
from taskapi.service.ports import Clock, DeadLetter, OutboxReader

# What a subscriber returns is ignored; only raising matters (the event is retried).
Subscriber = Callable[[ReceivedEvent], object]

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failed delivery is tried again. With the defaults the tenth
    and last attempt comes about 20 minutes after the first."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        # A failed event must not be due again at once: a drain would offer it again and
        # again, spending its attempts in a moment.
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("delays must be positive, the first no longer than the longest")

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt: doubling, capped."""
        doubling = 1 << min(max(attempts - 1, 0), 30)
        return min(self.first_delay * doubling, self.max_delay)


@dataclass(frozen=True, slots=True)
class DispatchReport:
    delivered: int
    failed: int  # failed attempts that will be retried
    dead_lettered: int = 0  # failed for the last time: set aside

    @property
    def offered(self) -> int:
        return self.delivered + self.failed + self.dead_lettered


@dataclass(frozen=True, slots=True)
class RedriveReport:
    redriven: tuple[DeadLetter, ...]  # with --dry-run: what would be redriven
    not_found: tuple[UUID, ...]  # requested ids that are not dead letters
    dry_run: bool


class OutboxDispatcher:
    def __init__(
        self,
        outbox: OutboxReader,
        subscribers: Sequence[Subscriber] = (),
        *,
        clock: Clock,
        retry: RetryPolicy = RetryPolicy(),  # frozen: one shared default is safe
    ) -> None:
        self._outbox = outbox
        self._subscribers: list[Subscriber] = list(subscribers)
        self._clock = clock
        self._retry = retry

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def dispatch_pending(self, batch_size: int = 100) -> DispatchReport:
        """Offer one batch of the events due now to every subscriber."""
        delivered = failed = dead = 0
        now = self._clock()
        for record in self._outbox.pending(batch_size, now):
            event = record.event
            # Every line of this delivery, the subscribers' included, names the request that
            # caused the event.
            with correlated(event.correlation_id):
                try:
                    for subscriber in self._subscribers:
                        subscriber(event)
                except Exception as exc:  # any subscriber failure fails the delivery
                    error = f"{type(exc).__name__}: {exc}"
                    attempts = record.attempts + 1
                    log = {"event_id": str(event.event_id), "attempts": attempts, "error": error}
                    if attempts >= self._retry.max_attempts:
                        dead += 1
                        self._outbox.dead_letter(event.event_id, error)
                        logger.error(
                            "outbox delivery failed for the last time: dead-lettered",
                            exc_info=exc,
                            extra=log,
                        )
                    else:
                        failed += 1
                        retry_at = now + self._retry.delay(attempts)
                        self._outbox.mark_failed(event.event_id, error, retry_at=retry_at)
                        # The traceback locates the failure in the code (taskapi risk --logs).
                        logger.warning(
                            "outbox delivery failed; it is retried later",
                            exc_info=exc,
                            extra={**log, "retry_at": retry_at.isoformat()},
                        )
                else:
                    delivered += 1
                    self._outbox.mark_sent(event.event_id)
                    logger.debug("outbox event delivered", extra={"event_id": str(event.event_id)})
        return DispatchReport(delivered=delivered, failed=failed, dead_lettered=dead)

    # -- dead letters ---------------------------------------------------------------------

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        return self._outbox.dead_letters(limit)

    def redrive(self, event_ids: Collection[UUID] | None, *, dry_run: bool) -> RedriveReport:
        """Return dead letters to the outbox as new pending events (``None``: all of them), or
        with ``dry_run`` only say which would go."""
        letters = self._outbox.dead_letters()
        if event_ids is not None:
            wanted = set(event_ids)
            letters = [letter for letter in letters if letter.event_id in wanted]
        found = {letter.event_id for letter in letters}
        missing = tuple(i for i in (event_ids or ()) if i not in found)
        if dry_run:
            return RedriveReport(tuple(letters), missing, dry_run=True)
        redriven = tuple(letter for letter in letters if self._outbox.redrive(letter.event_id))
        for letter in redriven:
            logger.info("dead letter redriven", extra={"event_id": str(letter.event_id)})
        return RedriveReport(redriven, missing, dry_run=False)
