"""Consume each event once, however often it is delivered (Powertools idempotency).

Keyed on the event's own ``event_id`` (two publications of one event carry different envelope
ids): a redelivery after success returns the stored result; a handler that raised runs again;
a concurrent duplicate raises ``IdempotencyAlreadyInProgressError`` for the platform to retry.
The persistence layer must be an instance of its own (Powertools keeps a layer's first
configuration). See docs/events.md#delivery-semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from taskapi.domain.event_readers import ReceivedEvent
from taskapi.domain.notifications import Notification

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

EventHandler = Callable[[ReceivedEvent], Sequence[Notification]]

# The de-duplication window. It must outlast every copy of an event that can still arrive:
# the stack's dead-letter and relay failure queues keep messages for 14 days (the SQS
# maximum), after up to 6 hours of retries before they get there; a redrive on the last day
# must still find the record. tests/infra/test_deduplication_window.py reads both sides.
DEFAULT_RECORD_TTL = timedelta(days=15)
# Outside Lambda there is no invocation deadline. An in-progress record left by a crash is
# treated as abandoned after this long, so the outbox's next attempt is not refused for hours.
DEFAULT_PROCESSING_BUDGET = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Consumed:
    """The outcome of one delivery."""

    event_id: UUID
    notification_ids: tuple[str, ...]
    duplicate: bool  # True: an earlier delivery was handled; nothing was sent this time


class _ProcessingBudget:
    """Stands in for a Lambda context outside Lambda: a fixed time budget per event."""

    def __init__(self, budget: timedelta) -> None:
        self._millis = int(budget.total_seconds() * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return self._millis


class IdempotentEventConsumer:
    """Runs ``handler`` once per event id; usable as an outbox subscriber."""

    def __init__(
        self,
        handler: EventHandler,
        persistence_store: BasePersistenceLayer,
        *,
        key_prefix: str = "taskapi.notifications",
        record_ttl: timedelta = DEFAULT_RECORD_TTL,
        processing_budget: timedelta = DEFAULT_PROCESSING_BUDGET,
    ) -> None:
        self._handler = handler
        self._record_ttl = record_ttl
        self._config = IdempotencyConfig(
            event_key_jmespath="event_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(record_ttl.total_seconds()),
            lambda_context=_ProcessingBudget(processing_budget),  # type: ignore[arg-type]
            response_hook=_mark_duplicate,
        )
        # A fixed key prefix keeps keys stable across function names and code moves.
        self._handle_once: Callable[..., dict[str, Any]] = idempotent_function(
            self._handle,
            data_keyword_argument="event",
            persistence_store=persistence_store,
            config=self._config,
            key_prefix=key_prefix,
        )

    @property
    def record_ttl(self) -> timedelta:
        """How long a handled event is remembered: its de-duplication window."""
        return self._record_ttl

    def use_lambda_context(self, context: LambdaContext) -> None:
        """In Lambda, the in-progress record expires with the invocation's own deadline."""
        self._config.register_lambda_context(context)

    def __call__(self, event: ReceivedEvent) -> Consumed:
        outcome = self._handle_once(event=event)
        return Consumed(
            event_id=event.event_id,
            notification_ids=tuple(outcome.get("notification_ids", ())),
            duplicate=bool(outcome.get("duplicate", False)),
        )

    def _handle(self, *, event: ReceivedEvent) -> dict[str, Any]:
        notifications = self._handler(event)
        return {"notification_ids": [str(n.notification_id) for n in notifications]}


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> dict[str, Any]:  # noqa: ARG001
    # Called by Powertools only when it returns a stored result instead of running the handler.
    stored = response if isinstance(response, dict) else {}
    return {**stored, "duplicate": True}
