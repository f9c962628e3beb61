"""What a failed delivery leaves in AWS, read and republished: the relay failure queue (the
relay's on-failure destination: a record naming a range of stream records) and the
notification dead-letter queue (EventBridge envelopes the notification function never took or
failed on). The operations commands (``taskapi events dead-letters``, ``... redrive``) use it;
no Lambda function imports it. See docs/events.md#redriving-what-a-failed-delivery-left.

Listing never consumes: messages are received with a short visibility timeout, reported, and
made visible again. A message is deleted only after every event it holds was accepted by
PutEvents; one that cannot be read is reported and left alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from uuid import UUID

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamLambdaOnFailureDestinationModel,
)
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taskapi.domain.event_readers import read_envelope
from taskapi.service.ports import EventPublisher, PublishableEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient
    from mypy_boto3_sqs.client import SQSClient

logger = logging.getLogger(__name__)

# How long a listed message stays invisible to other readers while it is inspected: long
# enough to read its stream records, short enough that a crashed command hides nothing for
# long. Every listed message is made visible again at once when the command ends.
PEEK_VISIBILITY_SECONDS: Final = 120
# A bound on one listing; the queues should hold a handful of messages, never thousands.
MAX_MESSAGES: Final = 1000
# How long a DynamoDB stream keeps a record (docs/aws.md#stream-and-ttl).
STREAM_RETENTION: Final = timedelta(hours=24)
# An open shard can answer with empty pages before its next records: how many in a row end
# the read of a range.
MAX_EMPTY_PAGES: Final = 5
# Errors that mean the records are no longer in the stream.
_PAST_RETENTION: Final = frozenset({"TrimmedDataAccessException", "ExpiredIteratorException"})

DeadLetterSource = Literal["relay", "notifications"]


class UnreadableMessage(ValueError):
    """A queue message that is not what its queue receives: reported, never deleted."""


class StreamRecordsUnavailable(Exception):
    """The stream records a relay failure names cannot be read (any more)."""


@dataclass(frozen=True, slots=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    # Message attributes (their string values): the reason EventBridge or Lambda gave.
    attributes: Mapping[str, str]
    sent_at: datetime | None
    receive_count: int


class DeadLetterQueue:
    """An SQS queue read without consuming it (``peek`` then ``release``), and ``delete``."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self.url = queue_url

    def peek(self) -> list[QueueMessage]:
        """Every message of the queue, each once (by message id), held invisible until
        ``release`` or ``delete``; SQS samples its servers, so this polls until a long poll
        comes back empty."""
        seen: dict[str, QueueMessage] = {}
        while len(seen) < MAX_MESSAGES:
            response = self._sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            )
            received = response.get("Messages", [])
            if not received:
                break
            for raw in received:
                message = _queue_message(raw)
                # Received again (a visibility timeout ran out): keep the newest handle.
                seen[message.message_id] = message
        return list(seen.values())

    def release(self, messages: Sequence[QueueMessage]) -> None:
        """Make ``messages`` visible again at once (they stay in the queue)."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for i, m in enumerate(batch)
                ],
            )

    def delete(self, message: QueueMessage) -> None:
        self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)


def _queue_message(raw: Mapping[str, Any]) -> QueueMessage:
    system = raw.get("Attributes", {})
    sent = system.get("SentTimestamp")
    attributes = {
        name: str(value.get("StringValue", ""))
        for name, value in raw.get("MessageAttributes", {}).items()
    }
    return QueueMessage(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw.get("Body", ""),
        attributes=attributes,
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
    )


# -- what the messages say -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """The batch a relay failure record names (Lambda writes the range, not the records)."""

    stream_arn: str
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    batch_size: int
    first_arrival: datetime
    last_arrival: datetime
    condition: str  # why Lambda gave up, e.g. RetryAttemptsExhausted
    invoke_count: int

    @property
    def readable_until(self) -> datetime:
        """When the stream drops the batch's first record."""
        return self.first_arrival + STREAM_RETENTION

    def window(self) -> str:
        return (
            f"records that arrived {_utc(self.first_arrival)} to {_utc(self.last_arrival)}, "
            f"readable in the stream until about {_utc(self.readable_until)}"
        )

    def includes(self, sequence_number: str) -> bool:
        return (
            int(self.start_sequence_number) <= int(sequence_number) <= int(self.end_sequence_number)
        )


def read_relay_failure(message: QueueMessage) -> StreamBatch:
    """The stream batch of a relay failure record; ``UnreadableMessage`` for anything else."""
    try:
        record = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate_json(message.body)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise UnreadableMessage(f"not a Lambda stream failure record: {_first_line(exc)}") from exc
    info = record.ddb_stream_batch_info
    return StreamBatch(
        stream_arn=info.stream_arn,
        shard_id=info.shard_id,
        start_sequence_number=info.start_sequence_number,
        end_sequence_number=info.end_sequence_number,
        batch_size=info.batch_size,
        first_arrival=_aware(info.approximate_arrival_of_first_record),
        last_arrival=_aware(info.approximate_arrival_of_last_record),
        condition=record.request_context.condition,
        invoke_count=record.request_context.approximate_invoke_count,
    )


@dataclass(frozen=True, slots=True)
class BusEventCopy:
    """A task event as the bus delivered it, from the notification dead-letter queue: the
    EventBridge envelope (a rule's dead letter) or the event the function was invoked with
    (the function's dead letter), which is the same envelope."""

    bus_event_id: str
    source: str
    detail_type: str
    resources: tuple[str, ...]
    event: PublishableEvent
    reason: str | None  # what EventBridge or Lambda put in the message's attributes


class _BusEnvelope(BaseModel):
    """What republishing needs of an EventBridge envelope, read tolerantly: Powertools'
    ``EventBridgeModel`` also requires ``account``, ``region`` and ``time``, which a redrive
    does not use (and moto's SQS target leaves ``account`` out)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    source: str = Field(min_length=1)
    detail_type: str = Field(alias="detail-type", min_length=1)
    detail: dict[str, Any]
    resources: list[str] = Field(default_factory=list)


# EventBridge names the reason ERROR_CODE / ERROR_MESSAGE; Lambda ErrorCode / ErrorMessage.
_REASON_ATTRIBUTES: Final = (("ERROR_CODE", "ERROR_MESSAGE"), ("ErrorCode", "ErrorMessage"))


def read_notification_dead_letter(message: QueueMessage) -> BusEventCopy:
    """The task event of a notification dead letter; ``UnreadableMessage`` otherwise."""
    try:
        envelope = _BusEnvelope.model_validate_json(message.body)
        # The relay's reader: the detail is forwarded as it was committed, whatever its version.
        event = read_envelope(json.dumps(envelope.detail))
    except ValueError as exc:
        raise UnreadableMessage(f"not a task event envelope: {_first_line(exc)}") from exc
    reason = None
    for code, text in _REASON_ATTRIBUTES:
        if code in message.attributes or text in message.attributes:
            reason = f"{message.attributes.get(code, '?')}: {message.attributes.get(text, '')}"
            break
    return BusEventCopy(
        bus_event_id=envelope.id,
        source=envelope.source,
        detail_type=envelope.detail_type,
        resources=tuple(envelope.resources),
        event=event,
        reason=reason,
    )


# -- the stream records of a relay failure ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamImage:
    sequence_number: str
    event_name: str  # INSERT, MODIFY, REMOVE
    new_image: Mapping[str, Any] | None  # decoded, as the relay's record handler sees it


class StreamBatchReader:
    """Re-reads the records of a stream batch (GetShardIterator AT_SEQUENCE_NUMBER, then
    GetRecords until past its end)."""

    def __init__(self, streams: DynamoDBStreamsClient) -> None:
        self._streams = streams
        self._deserializer = TypeDeserializer()

    def read(self, batch: StreamBatch) -> list[StreamImage]:
        try:
            images = list(self._read(batch))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _PAST_RETENTION:
                raise StreamRecordsUnavailable(
                    f"the records are past the stream's 24-hour retention ({code}): "
                    f"{batch.window()}"
                ) from exc
            if code == "ResourceNotFoundException":
                raise StreamRecordsUnavailable(
                    f"the stream or shard is gone ({batch.stream_arn}, {batch.shard_id}): "
                    f"{batch.window()}"
                ) from exc
            raise
        if not images:
            raise StreamRecordsUnavailable(
                f"none of the records is in the stream any more: {batch.window()}"
            )
        return images

    def _read(self, batch: StreamBatch) -> Iterator[StreamImage]:
        iterator: str | None = self._streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start_sequence_number,
        ).get("ShardIterator")
        empty_pages = 0
        while iterator and empty_pages < MAX_EMPTY_PAGES:
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            empty_pages = 0 if records else empty_pages + 1
            for record in records:
                data: Mapping[str, Any] = record.get("dynamodb", {})
                sequence_number = str(data.get("SequenceNumber", ""))
                if not batch.includes(sequence_number):
                    return  # past the end of the batch
                raw_image = data.get("NewImage")
                yield StreamImage(
                    sequence_number=sequence_number,
                    event_name=str(record.get("eventName", "")),
                    new_image=None
                    if raw_image is None
                    else {
                        name: self._deserializer.deserialize(value)
                        for name, value in raw_image.items()
                    },
                )
                if sequence_number == batch.end_sequence_number:
                    return
            iterator = page.get("NextShardIterator")


# -- inspecting and redriving ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inspection:
    """What one message holds, and whether it can be redriven."""

    message: QueueMessage
    summary: str  # one line: what the message is
    events: tuple[PublishableEvent, ...] = ()
    # Why the message cannot be redriven at all (unreadable; its records are gone).
    problem: str | None = None
    # Records of the batch that hold no readable event (the rest can still go out).
    unreadable: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # for --show


class DeadLetterKind(Protocol):
    """How one queue's messages are read and republished."""

    source: DeadLetterSource
    queue: DeadLetterQueue

    def inspect(self, message: QueueMessage) -> Inspection: ...

    def publish(self, inspection: Inspection) -> Mapping[UUID, str]:
        """Republish the message's events; the reason for each one not accepted."""
        ...


class RelayFailures:
    """The relay failure queue: each message names stream records, whose outbox events are
    read and published exactly as the relay does (its ``read_outbox_image`` and publisher)."""

    source: DeadLetterSource = "relay"

    def __init__(
        self,
        queue: DeadLetterQueue,
        reader: StreamBatchReader,
        read_outbox_image: Callable[[Mapping[str, Any]], PublishableEvent | None],
        publisher: EventPublisher,
    ) -> None:
        self.queue = queue
        self._reader = reader
        self._read_outbox_image = read_outbox_image
        self._publisher = publisher

    def inspect(self, message: QueueMessage) -> Inspection:
        try:
            batch = read_relay_failure(message)
        except UnreadableMessage as exc:
            return Inspection(message, "unreadable relay failure message", problem=str(exc))
        summary = (
            f"{batch.condition} after {batch.invoke_count} invocation(s): shard {batch.shard_id}, "
            f"sequence numbers {batch.start_sequence_number}..{batch.end_sequence_number} "
            f"({batch.batch_size} record(s); {batch.window()})"
        )
        details = {"stream_batch": _batch_details(batch)}
        try:
            images = self._reader.read(batch)
        except StreamRecordsUnavailable as exc:
            return Inspection(message, summary, problem=str(exc), details=details)
        events: list[PublishableEvent] = []
        unreadable: list[str] = []
        for image in images:
            if image.event_name != "INSERT" or image.new_image is None:
                continue  # the relay skips these too
            try:
                event = self._read_outbox_image(image.new_image)
            except ValueError as exc:
                unreadable.append(f"record {image.sequence_number}: {exc}")
                continue
            if event is not None:
                events.append(event)
        return Inspection(
            message,
            summary,
            events=tuple(events),
            unreadable=tuple(unreadable),
            details=details,
        )

    def publish(self, inspection: Inspection) -> Mapping[UUID, str]:
        return self._publisher.publish(inspection.events)


class NotificationDeadLetters:
    """The notification dead-letter queue: each message is one bus event, put back on the
    task bus with its source, detail-type, detail and resources (a new bus event id, the same
    ``detail.event_id``, on which the consumer de-duplicates)."""

    source: DeadLetterSource = "notifications"

    def __init__(
        self,
        queue: DeadLetterQueue,
        publisher_for: Callable[[str, tuple[str, ...]], EventPublisher],
    ) -> None:
        self.queue = queue
        self._publisher_for = publisher_for
        self._copies: dict[str, BusEventCopy] = {}

    def inspect(self, message: QueueMessage) -> Inspection:
        try:
            copy = read_notification_dead_letter(message)
        except UnreadableMessage as exc:
            return Inspection(message, "unreadable notification dead letter", problem=str(exc))
        self._copies[message.message_id] = copy
        summary = f"bus event {copy.bus_event_id} from {copy.source}" + (
            f", {copy.reason}" if copy.reason else ""
        )
        details = {
            "bus_event_id": copy.bus_event_id,
            "source": copy.source,
            "detail_type": copy.detail_type,
            "resources": list(copy.resources),
            "reason": copy.reason,
        }
        return Inspection(message, summary, events=(copy.event,), details=details)

    def publish(self, inspection: Inspection) -> Mapping[UUID, str]:
        copy = self._copies[inspection.message.message_id]
        return self._publisher_for(copy.source, copy.resources).publish(inspection.events)


@dataclass(frozen=True, slots=True)
class Outcome:
    inspection: Inspection
    rejected: Mapping[UUID, str] = field(default_factory=dict)  # event id -> reason
    deleted: bool = False

    @property
    def redrivable(self) -> bool:
        return self.inspection.problem is None


def inspect_all(kind: DeadLetterKind) -> list[Inspection]:
    """Every message of the queue, inspected; all of them stay in the queue."""
    messages = kind.queue.peek()
    try:
        return [kind.inspect(message) for message in messages]
    finally:
        kind.queue.release(messages)


def redrive(
    kind: DeadLetterKind, select: Callable[[Inspection], bool], *, dry_run: bool
) -> list[Outcome]:
    """Republish the selected messages' events; delete a message only when every one of its
    events was accepted and it held nothing unreadable. A crash between the publish and the
    delete leaves the message to be redriven again: consumers de-duplicate on event_id."""
    messages = kind.queue.peek()
    deleted: set[str] = set()
    outcomes: list[Outcome] = []
    try:
        for message in messages:
            inspection = kind.inspect(message)
            if not select(inspection):
                continue
            if dry_run or inspection.problem is not None or not inspection.events:
                outcomes.append(Outcome(inspection))
                continue
            rejected = kind.publish(inspection)
            done = not rejected and not inspection.unreadable
            if done:
                kind.queue.delete(message)
                deleted.add(message.message_id)
            outcomes.append(Outcome(inspection, rejected=dict(rejected), deleted=done))
    finally:
        kind.queue.release([m for m in messages if m.message_id not in deleted])
    return outcomes


def _batch_details(batch: StreamBatch) -> dict[str, Any]:
    return {
        "stream_arn": batch.stream_arn,
        "shard_id": batch.shard_id,
        "start_sequence_number": batch.start_sequence_number,
        "end_sequence_number": batch.end_sequence_number,
        "batch_size": batch.batch_size,
        "first_arrival": _utc(batch.first_arrival),
        "last_arrival": _utc(batch.last_arrival),
        "readable_until": _utc(batch.readable_until),
        "condition": batch.condition,
        "invoke_count": batch.invoke_count,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _first_line(exc: Exception) -> str:
    """A validation error in one line: the fields and what is wrong with each."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
