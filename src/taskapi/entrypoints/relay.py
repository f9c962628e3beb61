"""Lambda: DynamoDB stream of the task table -> EventBridge (the outbox relay in AWS).

Phase 1 publishes the events of the batch's outbox INSERTs with as few PutEvents calls as the
quotas allow; phase 2 reports per record with Powertools' batch processor, failing exactly the
records whose event was not published, so Lambda retries from the first of them. Delivery is
at least once; consumers de-duplicate on ``event_id``. See docs/aws.md#the-relay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    DynamoDBStreamEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi import bootstrap
from taskapi.entrypoints import snapstart
from taskapi.entrypoints.observability import logger, tracer
from taskapi.service.ports import PublishableEvent

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class EventNotPublished(Exception):
    def __init__(self, event_id: UUID, reason: str) -> None:
        super().__init__(f"event {event_id} was not published: {reason}")


def _sequence_number(record: DynamoDBRecord) -> str:
    """The record's identity in the batch response (what Lambda checkpoints by)."""
    return str(record.dynamodb.sequence_number if record.dynamodb else "")


def publish_outbox_records(
    relay: bootstrap.Relay, records: Iterable[DynamoDBRecord]
) -> dict[str, Exception]:
    """Phase 1: publish the events of the batch's outbox INSERTs; return the failure of each
    record that must be retried, by sequence number."""
    failures: dict[str, Exception] = {}
    events: dict[str, PublishableEvent] = {}
    for record in records:
        sequence_number = _sequence_number(record)
        if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
            logger.debug("skipping a record that is not an insert", extra={"seq": sequence_number})
            continue
        # The keys as well as the image: a record without its NewImage (a stream not set to
        # NEW_IMAGE) is still known by its keys as an outbox item, and fails, visibly, rather
        # than being acknowledged as "some other item" and lost. (An image holds its keys.)
        image = {**(record.dynamodb.keys or {}), **(record.dynamodb.new_image or {})}
        try:
            event = relay.read_outbox_image(image)
        except ValueError as exc:
            # A corrupt outbox item: retrying cannot fix it, but dropping it would lose an
            # event. Fail the record so it ends in the on-failure destination, visibly.
            logger.exception("unreadable outbox item", extra={"seq": sequence_number})
            failures[sequence_number] = exc
            continue
        if event is None:
            logger.debug("skipping a record that is not an outbox item")
            continue
        events[sequence_number] = event
    rejected = relay.publisher.publish(list(events.values()))
    for sequence_number, event in events.items():
        reason = rejected.get(event.event_id)
        # One line per event, with the correlation id of the request that caused it: a batch
        # mixes requests, so the invocation has no single id of its own.
        outcome = {"event_id": str(event.event_id), "correlation_id": event.correlation_id}
        if reason is not None:
            failures[sequence_number] = EventNotPublished(event.event_id, reason)
            logger.warning("outbox event not published", extra={**outcome, "reason": reason})
        else:
            logger.info("outbox event published", extra=outcome)
    logger.info(
        "relayed outbox events",
        extra={"published": len(events) - len(rejected), "failed_records": len(failures)},
    )
    return failures


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    stream = DynamoDBStreamEvent(event)
    failures = publish_outbox_records(bootstrap.get_relay(), stream.records)

    def report(record: DynamoDBRecord) -> None:
        """Phase 2: fail exactly the records phase 1 could not publish."""
        failure = failures.get(_sequence_number(record))
        if failure is not None:
            raise failure

    return process_partial_response(
        event=event, record_handler=report, processor=processor, context=context
    )


snapstart.prepare(bootstrap.get_relay)
