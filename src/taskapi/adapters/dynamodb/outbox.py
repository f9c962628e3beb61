"""The outbox on DynamoDB, in its two modes.

Every commit puts one ``OUTBOX#<event_id>`` item per event in the task's transaction. In
``"stream"`` mode (AWS) the table's stream hands it to the relay and TTL removes it later; in
``"polling"`` mode (the contract suite) ``DynamoDbOutbox`` reads the pending index and
``mark_sent`` deletes the item. See docs/aws.md#stream-and-ttl.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from taskapi.adapters.aws.errors import error_code, to_port_error
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.client import DynamoDbTable
from taskapi.adapters.dynamodb.items import (
    OUTBOX_ITEM_SK,
    OUTBOX_PREFIX,
    PENDING,
    encode,
    number,
    outbox_key,
    string,
)
from taskapi.adapters.dynamodb.table import (
    EXPIRES_AT,
    OUTBOX_PK,
    OUTBOX_SK,
    PENDING_OUTBOX,
    PK,
    SK,
)
from taskapi.adapters.unit_of_work import StagedEvents, bounded_error
from taskapi.domain.event_readers import read_event
from taskapi.service.ports import Event, OutboxRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

OutboxMode = Literal["stream", "polling"]
# How long an outbox item outlives its commit in stream mode (the stream keeps records for
# 24 hours; the rest is for investigating a delivery).
OUTBOX_RETENTION: Final = timedelta(days=7)


class DynamoDbOutboxWriter(StagedEvents):
    def __init__(self, entries: EventEntryBuilder) -> None:
        super().__init__()
        self._entries = entries

    def add(self, event: Event) -> None:
        # Build the EventBridge entry now: an event the relay could never publish is refused
        # before anything is committed, instead of blocking the stream later.
        self._entries.build(event)
        super().add(event)


def outbox_puts(
    table: str, events: Sequence[Event], mode: OutboxMode, now: datetime
) -> list[TransactWriteItemTypeDef]:
    """The outbox items of one commit's events, committed at ``now``."""
    # Commit order for the pending index: the commit's wall-clock time in nanoseconds, then
    # the event's position within the commit.
    committed_ns = time.time_ns()
    puts: list[TransactWriteItemTypeDef] = []
    for position, event in enumerate(events):
        values: dict[str, Any] = {
            PK: f"{OUTBOX_PREFIX}{event.event_id}",
            SK: OUTBOX_ITEM_SK,
            "event_id": str(event.event_id),
            "event_type": event.event_type,
            "event": event.model_dump_json(),
            "attempts": 0,
        }
        if mode == "polling":
            values[OUTBOX_PK] = PENDING
            values[OUTBOX_SK] = f"{committed_ns:020d}#{position:03d}"
        else:
            values[EXPIRES_AT] = int((now + OUTBOX_RETENTION).timestamp())
        puts.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": encode(values),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            }
        )
    return puts


class DynamoDbOutbox:
    """The ``OutboxReader`` of a table in polling mode: pending events are the entries of
    the ``PendingOutbox`` index, in commit order. (In stream mode the index stays empty.)"""

    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    def pending(self, limit: int) -> list[OutboxRecord]:
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "IndexName": PENDING_OUTBOX,
            "KeyConditionExpression": "#pk = :pending",
            "ExpressionAttributeNames": {"#pk": OUTBOX_PK},
            "ExpressionAttributeValues": {":pending": string(PENDING)},
            "Limit": limit,
        }
        keys: list[dict[str, AttributeValueTypeDef]] = []
        for page in self._table.query_pages(request):
            keys += [{PK: string(entry[PK]), SK: string(entry[SK])} for entry in page]
            if len(keys) >= limit:
                break
        keys = keys[:limit]
        # The index lags its table: an entry whose item was deleted (sent) since is skipped.
        records = {record[PK]: record for record in self._table.batch_get(keys)}
        return [
            OutboxRecord(
                event=read_event(record["event"]),
                attempts=int(record.get("attempts", 0)),
                last_error=record.get("last_error"),
            )
            for key in keys
            if (record := records.get(key[PK]["S"])) is not None
        ]

    def mark_sent(self, event_id: UUID) -> None:
        self._table.delete(outbox_key(event_id))

    def mark_failed(self, event_id: UUID, error: str) -> None:
        try:
            self._table.client.update_item(
                TableName=self._table.name,
                Key=outbox_key(event_id),
                UpdateExpression="ADD #attempts :one SET #error = :error",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={
                    "#attempts": "attempts",
                    "#error": "last_error",
                    "#pk": PK,
                },
                ExpressionAttributeValues={
                    ":one": number(1),
                    ":error": string(bounded_error(error)),
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise to_port_error(exc, "dynamodb.UpdateItem") from exc
            # Already sent and removed by another dispatcher: nothing to record.
        except BotoCoreError as exc:
            raise to_port_error(exc, "dynamodb.UpdateItem") from exc
