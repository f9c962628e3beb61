"""Lambda: task events from EventBridge -> the notification service.

A malformed envelope or task event raises (Lambda retries, then dead-letters it: never dropped
silently); an unknown detail-type is logged and ignored (retrying would not make it known), and
so is a task event of schema version 1 (it has no workspace to notify in); a task event, read
tolerantly, goes to the idempotent consumer, at most once per ``event_id``.
See docs/events.md#the-notification-service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from taskapi import bootstrap
from taskapi.domain.event_readers import ReceivedEvent, read_event
from taskapi.domain.events import EVENT_TYPES, is_correlation_id
from taskapi.entrypoints import snapstart
from taskapi.entrypoints.observability import logger, metrics, tracer

KNOWN_DETAIL_TYPES = frozenset(event_class.__name__ for event_class in EVENT_TYPES)
_BEFORE = "schema_version 1: from before workspaces"

# The outcome of each event, as Powertools (EMF) metrics of the service: handled, a duplicate
# absorbed by de-duplication, or ignored; and the notifications sent. A failure raises, so
# Lambda's Errors metric counts it (then the dead-letter queue holds it).
EVENT_OUTCOME_METRICS = {
    "handled": "NotificationEventsHandled",
    "duplicate": "NotificationEventsDuplicate",
    "ignored": "NotificationEventsIgnored",
}
NOTIFICATIONS_SENT = "NotificationsSent"


def _count_outcome(outcome: str, notifications: int = 0) -> None:
    metrics.add_metric(name=EVENT_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
    if notifications:
        metrics.add_metric(name=NOTIFICATIONS_SENT, unit=MetricUnit.Count, value=notifications)


class MalformedEvent(Exception):
    """A task event whose detail does not match its detail-type's schema."""


def parse_detail(detail_type: str, detail: object) -> ReceivedEvent:
    """The domain event carried in ``detail``, checked against the envelope's detail-type and
    read tolerantly (fields and enum values added by a later minor version are accepted).

    The detail names its own type (``event_type``); a detail without one takes the detail-type,
    and one that disagrees with it is malformed rather than silently re-routed.
    """
    if not isinstance(detail, Mapping):
        raise MalformedEvent(f"the detail of a {detail_type} event is not an object")
    named = detail.get("event_type", detail_type)
    if named != detail_type:
        raise MalformedEvent(f"detail-type {detail_type!r} carries an event_type of {named!r}")
    try:
        return read_event({**detail, "event_type": detail_type})
    except ValidationError as exc:
        raise MalformedEvent(
            f"the detail is not a valid {detail_type}: {exc.error_count()} error(s): "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc


def correlation_id_in(detail: object) -> str | None:
    """The detail's correlation id, if it has a well-formed one (read before the detail is
    validated, so that even the line saying it is malformed names the request behind it)."""
    value = detail.get("correlation_id") if isinstance(detail, Mapping) else None
    return value if isinstance(value, str) and is_correlation_id(value) else None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    envelope = EventBridgeModel.model_validate(event)
    # Every line of the invocation names the request that caused the event.
    correlation_id = correlation_id_in(envelope.detail)
    logger.set_correlation_id(correlation_id)
    if correlation_id is not None:
        tracer.put_annotation(key="correlation_id", value=correlation_id)
    logger.append_keys(eventbridge_id=envelope.id, detail_type=envelope.detail_type)
    if envelope.detail_type not in KNOWN_DETAIL_TYPES:
        logger.info("ignoring an event of a detail-type this service does not consume")
        _count_outcome("ignored")
        return {"status": "ignored", "detail_type": envelope.detail_type}
    try:
        task_event = parse_detail(envelope.detail_type, envelope.detail)
    except MalformedEvent:
        logger.exception("malformed task event; raising so that it is retried, then dead-lettered")
        raise
    logger.append_keys(event_id=str(task_event.event_id))
    notifications = bootstrap.get_notifications()
    if task_event.before_workspaces and not notifications.service.handles_pre_workspace_events:
        # Schema version 1 names no workspace: a retry could not fix that, and nothing may be
        # read or notified outside the event's workspace. docs/events.md#version-2-workspaces
        logger.warning(
            "event predates workspaces (schema_version 1): ignored, nothing notified",
            extra={"task_id": str(task_event.task_id)},
        )
        _count_outcome("ignored")
        return {"status": "ignored", "event_id": str(task_event.event_id), "reason": _BEFORE}

    notifications.consumer.use_lambda_context(context)
    consumed = notifications.consumer(task_event)
    if consumed.duplicate:
        logger.info("event already handled; nothing sent again")
    else:
        logger.info("event handled", extra={"notifications": len(consumed.notification_ids)})
    if consumed.duplicate:
        _count_outcome("duplicate")  # its notification ids are the first delivery's
    else:
        _count_outcome("handled", len(consumed.notification_ids))
    return {
        "status": "duplicate" if consumed.duplicate else "handled",
        "event_id": str(consumed.event_id),
        "notification_ids": list(consumed.notification_ids),
    }


snapstart.prepare(bootstrap.get_notifications)
