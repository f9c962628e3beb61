"""The outbox on DynamoDB, in its two modes.

Every commit puts one ``OUTBOX#<event_id>`` item per event in the task's transaction. In
``"stream"`` mode (AWS) the table's stream hands it to the relay and TTL removes it later; in
``"polling"`` mode (the contract suite, ``taskapi serve`` on DynamoDB Local or moto)
``DynamoDbOutbox`` reads the pending index, with retries and dead letters as every local
outbox keeps them, and ``mark_sent`` deletes the item. See docs/aws.md#stream-and-ttl.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from taskapi.adapters.aws.errors import error_code, to_port_error
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.client import DynamoDbTable
from taskapi.adapters.dynamodb.items import (
    DEAD,
    OUTBOX_ITEM_SK,
    OUTBOX_PREFIX,
    encode,
    number,
    outbox_key,
    pending_partition,
    pending_partitions,
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
from taskapi.domain.model import to_utc
from taskapi.service.ports import DeadLetter, Event, OutboxRecord

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
            values[OUTBOX_PK] = pending_partition(event.event_id)
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
    """The ``OutboxReader`` of a table in polling mode. The ``PendingOutbox`` index holds the
    undelivered events under ``PENDING#0`` ... ``PENDING#<OUTBOX_SHARDS - 1>`` (the shard a
    function of the event id), each sorted by when its events are due (a new event: its
    commit; a failed one: its retry), and the dead letters under ``DEAD``, sorted by when
    they were set aside. ``pending`` merges the shards by sort key, which gives exactly the
    order one unsharded partition had. (In stream mode the index stays empty.)"""

    def __init__(self, table: DynamoDbTable) -> None:
        # Only polling mode reads events back: the event readers stay off the cold start of
        # the functions that just write them (docs/performance.md#cold-start).
        from taskapi.adapters.outbox import read_record  # noqa: PLC0415

        self._table = table
        self._read_record = read_record

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxRecord]:
        bound = None if now is None else f"{_nanos(now):020d}~"  # after every key of `now`
        records: list[OutboxRecord] = []
        shards = [self._index(shard, limit, bound) for shard in pending_partitions()]
        for _, key, item in heapq.merge(*shards, key=lambda entry: entry[0]):
            damage = _damage(item)
            if damage is not None:  # no event to read, or no id to shard by: set aside
                self._set_aside(key, damage, attempts_added=0, partition=item.get(OUTBOX_PK))
                continue
            # The index lags its table: skip an entry whose item was sent, set aside or
            # rescheduled since.
            shard = pending_partition(UUID(str(item["event_id"])))
            if item.get(OUTBOX_PK) != shard or (bound is not None and item[OUTBOX_SK] > bound):
                continue
            event = self._read_record(item["event"])
            if isinstance(event, str):
                self._set_aside(key, event, attempts_added=0)
                continue
            records.append(
                OutboxRecord(event, int(item.get("attempts", 0)), item.get("last_error"))
            )
            if len(records) == limit:
                break
        return records

    def mark_sent(self, event_id: UUID) -> None:
        self._table.delete(outbox_key(event_id))

    def mark_failed(self, event_id: UUID, error: str, retry_at: datetime | None = None) -> None:
        names = {"#attempts": "attempts", "#error": "last_error"}
        values = {":one": number(1), ":error": string(bounded_error(error))}
        update = "ADD #attempts :one SET #error = :error"
        if retry_at is not None:
            names["#sk"] = OUTBOX_SK
            values[":due"] = string(f"{_nanos(retry_at):020d}#{event_id}")
            update += ", #sk = :due"
        # Not pending any more (sent by another dispatcher, or set aside): nothing to record.
        self._update_if(outbox_key(event_id), pending_partition(event_id), update, names, values)

    def dead_letter(self, event_id: UUID, error: str) -> None:
        self._set_aside(outbox_key(event_id), bounded_error(error), attempts_added=1)

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for _, _, item in self._index(DEAD, limit, None):
            if limit is not None and len(letters) == limit:
                break
            if item.get(OUTBOX_PK) == DEAD:  # not redriven since the index was written
                letters.append(
                    DeadLetter(
                        # The key's id: a damaged item may hold no (valid) event_id of its own.
                        event_id=UUID(str(item[PK]).removeprefix(OUTBOX_PREFIX)),
                        event_type=str(item.get("event_type", "unknown")),
                        attempts=int(item.get("attempts", 0)),
                        last_error=item.get("last_error"),
                        dead_lettered_at=datetime.fromisoformat(item[DEAD_LETTERED_AT]),
                    )
                )
        return letters

    def redrive(self, event_id: UUID) -> bool:
        # Back under its pending shard, due now: behind every event committed before.
        return self._update_if(
            outbox_key(event_id),
            DEAD,
            "SET #opk = :to, #sk = :due, #attempts = :zero REMOVE #error, #dead_at",
            {"#sk": OUTBOX_SK, "#attempts": "attempts", "#error": "last_error"}
            | {"#dead_at": DEAD_LETTERED_AT},
            {":to": string(pending_partition(event_id))}
            | {":due": string(f"{time.time_ns():020d}#{event_id}")}
            | {":zero": number(0)},
        )

    def _index(
        self, partition: str, limit: int | None, bound: str | None
    ) -> Iterator[tuple[str, dict[str, AttributeValueTypeDef], dict[str, Any]]]:
        """(index sort key, key, item) of each entry of one partition of the index, in
        order, read page by page (a page's items with one BatchGetItem)."""
        condition = "#pk = :partition" + ("" if bound is None else " AND #sk <= :bound")
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "IndexName": PENDING_OUTBOX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": OUTBOX_PK}
            | ({} if bound is None else {"#sk": OUTBOX_SK}),
            "ExpressionAttributeValues": {":partition": string(partition)}
            | ({} if bound is None else {":bound": string(bound)}),
        }
        if limit is not None:
            request["Limit"] = max(limit, 1)
        for page in self._table.query_pages(request):
            keys = [{PK: string(entry[PK]), SK: string(entry[SK])} for entry in page]
            items = {item[PK]: item for item in self._table.batch_get(keys)}
            for entry, key in zip(page, keys, strict=True):
                item = items.get(key[PK]["S"])
                if item is not None:
                    yield str(entry[OUTBOX_SK]), key, item

    def _set_aside(
        self,
        key: dict[str, AttributeValueTypeDef],
        error: str,
        *,
        attempts_added: int,
        partition: str | None = None,
    ) -> None:
        """Move a pending item to the dead letters, if it is still in ``partition`` (by
        default the pending shard of the id in its key)."""
        event_id = key[PK]["S"].removeprefix(OUTBOX_PREFIX)
        self._update_if(
            key,
            partition if partition is not None else pending_partition(UUID(event_id)),
            "ADD #attempts :added SET #opk = :to, #sk = :at, #error = :error, #dead_at = :when",
            {"#attempts": "attempts", "#error": "last_error", "#sk": OUTBOX_SK}
            | {"#dead_at": DEAD_LETTERED_AT},
            {
                ":added": number(attempts_added),
                ":to": string(DEAD),
                ":at": string(f"{time.time_ns():020d}#{event_id}"),
                ":error": string(error),
                ":when": string(datetime.now(UTC).isoformat()),
            },
        )

    def _update_if(
        self,
        key: dict[str, AttributeValueTypeDef],
        partition: str,
        update: str,
        names: dict[str, str],
        values: dict[str, AttributeValueTypeDef],
    ) -> bool:
        """Update the outbox item if it is in ``partition`` of the index (``#opk`` names the
        index's partition attribute); ``False`` if it is not there."""
        names = {**names, "#opk": OUTBOX_PK}
        values = {**values, ":in": string(partition)}
        try:
            self._table.client.update_item(
                TableName=self._table.name,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="#opk = :in",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise to_port_error(exc, "dynamodb.UpdateItem") from exc
            return False
        except BotoCoreError as exc:
            raise to_port_error(exc, "dynamodb.UpdateItem") from exc
        return True


# When an item was set aside, for listing (ISO 8601, UTC).
DEAD_LETTERED_AT: Final = "dead_lettered_at"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _nanos(instant: datetime) -> int:
    return (to_utc(instant) - _EPOCH) // timedelta(microseconds=1) * 1000


def _damage(item: dict[str, Any]) -> str | None:
    """Why a pending outbox item cannot even be read as a record (no ``event`` attribute, an
    ``event_id`` that is not a UUID or not the key's), or None. The item was written by hand or
    by a broken writer; like an unreadable event, it is set aside, never retried forever."""
    if "event" not in item:
        return "unreadable: the outbox item has no event attribute"
    try:
        event_id = UUID(str(item.get("event_id")))
    except ValueError:
        return "unreadable: the outbox item's event_id is not a UUID"
    if str(item.get(PK)) != f"{OUTBOX_PREFIX}{event_id}":
        return "unreadable: the outbox item's event_id is not the one in its key"
    return None
