"""DynamoDB adapters: the task store in AWS (single-table design, docs/aws.md).

The item layout (task items, reverse edges, outbox items, the graph generation) is in
``dynamodb_items.py``; the table and its indexes in ``dynamodb_table.py``.

Same semantics as the in-memory and SQLite stores (the repository contract suite runs on all
three), with DynamoDB's means:

* **Reads are strongly consistent** (``GetItem``, ``BatchGetItem``, base-table ``Query``), except
  listing, which reads a global secondary index (eventually consistent by nature) and then
  fetches the page's items consistently.
* **Writes are staged** and committed with one ``TransactWriteItems``: the task (conditional on
  the version read, or on not existing yet), its outbox item, and its reverse edges. Each newly
  referenced dependency gets ``ADD dependents_generation 1`` conditional on it existing, and a
  delete is conditional on that generation being the one read before the dependents were
  listed: a dependency cannot vanish under a new dependent, nor a dependent appear under a
  delete.
* **Cycle checks are serialised** by the ``GRAPH`` item: a write that walked the graph commits
  only if no other graph-walking write committed since its walk began (optimistic, one small
  item, only for writes that change dependencies).
* **The 100-item transaction limit.** A write whose edges do not fit in one transaction (up to
  100 dependencies added and 100 removed) first writes the new reverse edges *tentatively* in
  chunks, then commits the task and its event atomically, then settles the tentative edges
  (best effort). A tentative edge is only a hint: ``dependents_of`` checks it against the
  dependent's task item, so a large write that fails half-way leaves nothing a reader would
  believe.
* **Failures** map through ``aws_errors``: a failed condition becomes the domain error it means
  (``VersionConflict`` with the current task, ``TaskNotFound``, ``HasDependents``,
  ``DependenciesNotFound``); throttling becomes ``StoreUnavailable``; the rest ``StoreFailure``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from taskapi.adapters.aws_errors import (
    CONFLICT_RETRY_AFTER_SECONDS,
    NO_REASON,
    TRANSACTION_CANCELED,
    UNAVAILABLE_MESSAGE,
    cancellation_reasons,
    error_code,
    to_port_error,
    translate_aws_errors,
)
from taskapi.adapters.dynamodb_items import (
    ALL_TASKS,
    ASSIGNEE_PREFIX,
    DEPENDENT_ID,
    DEPENDENT_PREFIX,
    DEPENDENTS_GENERATION,
    GRAPH_GENERATION,
    GRAPH_KEY,
    OUTBOX_ITEM_SK,
    OUTBOX_PREFIX,
    PENDING,
    TASK_PREFIX,
    TASK_SK,
    TENTATIVE,
    decode,
    edge_key,
    encode,
    list_sort_key,
    number,
    outbox_key,
    string,
    task_from_record,
    task_key,
    task_values,
)
from taskapi.adapters.dynamodb_table import (
    ASSIGNEE_PK,
    BY_ASSIGNEE,
    BY_CREATED_AT,
    EXPIRES_AT,
    LIST_PK,
    LIST_SK,
    OUTBOX_PK,
    OUTBOX_SK,
    PENDING_OUTBOX,
    PK,
    SK,
)
from taskapi.adapters.eventbridge import EventEntryBuilder
from taskapi.domain.errors import (
    DependenciesNotFound,
    HasDependents,
    InvalidPageToken,
    TaskNotFound,
    VersionConflict,
)
from taskapi.domain.events import parse_event
from taskapi.domain.model import Task, to_utc
from taskapi.service.ports import (
    Event,
    OutboxRecord,
    Position,
    StoreFailure,
    StoreUnavailable,
    TaskFilter,
    TaskSlice,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

    Item = Mapping[str, AttributeValueTypeDef]

logger = logging.getLogger(__name__)

# -- DynamoDB limits -------------------------------------------------------------------------
MAX_TRANSACTION_ITEMS: Final = 100
MAX_BATCH_GET_KEYS: Final = 100
# A filtered listing query reads this many index entries per round trip at least: the slim
# index entries are small, and a filter may discard most of them.
FILTERED_QUERY_BATCH: Final = 200

OutboxMode = Literal["stream", "polling"]
# How long an outbox item outlives its commit in stream mode (the stream keeps records for
# 24 hours; the rest is for investigating a delivery).
OUTBOX_RETENTION: Final = timedelta(days=7)

# -- the table: calls, batching, retries, error translation ----------------------------------


class UnitOfWorkTooLarge(Exception):
    """More task writes and events than one DynamoDB transaction can commit atomically."""

    def __init__(self, writes: int, events: int) -> None:
        super().__init__(
            f"{writes} task writes and {events} events cannot commit atomically: one "
            f"DynamoDB transaction holds at most {MAX_TRANSACTION_ITEMS} items"
        )


class _ConditionsFailed(Exception):
    """A cancelled transaction with at least one failed condition; the unit of work turns
    the reasons into the domain error they mean."""

    def __init__(self, reasons: list[Mapping[str, Any]]) -> None:
        super().__init__("transaction cancelled by a failed condition")
        self.reasons = reasons


class DynamoDbTable:
    """One table and the calls the adapters make on it.

    Reads are strongly consistent. Batch calls are split at DynamoDB's limits and their
    unprocessed keys retried with capped exponential backoff and full jitter, a bounded number
    of times; what is still unprocessed then becomes ``StoreUnavailable``.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        *,
        batch_attempts: int = 6,
        backoff_base_seconds: float = 0.05,
        backoff_cap_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.name = name
        self._batch_attempts = batch_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._sleep = sleep

    def get(self, key: Item) -> dict[str, Any] | None:
        with translate_aws_errors("dynamodb.GetItem"):
            response = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else decode(item)

    def batch_get(
        self,
        keys: Sequence[Item],
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_BATCH_GET_KEYS):
            request: KeysAndAttributesTypeDef = {
                "Keys": list(keys[start : start + MAX_BATCH_GET_KEYS]),
                "ConsistentRead": True,
            }
            if projection is not None:
                request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = dict(names)
            found += self._batch_get_all(request)
        return found

    def _batch_get_all(self, request: KeysAndAttributesTypeDef) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for attempt in range(self._batch_attempts):
            if attempt:
                self._back_off(attempt)
            with translate_aws_errors("dynamodb.BatchGetItem"):
                response = self.client.batch_get_item(RequestItems={self.name: request})
            found += [decode(item) for item in response.get("Responses", {}).get(self.name, [])]
            unprocessed = response.get("UnprocessedKeys", {}).get(self.name)
            if not unprocessed or not unprocessed.get("Keys"):
                return found
            request = {**request, "Keys": unprocessed["Keys"]}
        logger.warning(
            "BatchGetItem left keys unprocessed after every retry",
            extra={"table": self.name, "unprocessed": len(request["Keys"])},
        )
        raise StoreUnavailable(UNAVAILABLE_MESSAGE, retry_after_seconds=2)

    def _back_off(self, attempt: int) -> None:
        ceiling = min(self._backoff_cap, self._backoff_base * 2**attempt)
        self._sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not cryptography

    def query_pages(self, request: QueryInputTypeDef) -> Iterator[list[dict[str, Any]]]:
        """Every page of a query, decoded, following ``LastEvaluatedKey``."""
        while True:
            with translate_aws_errors("dynamodb.Query"):
                response = self.client.query(**request)
            yield [decode(item) for item in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request = {**request, "ExclusiveStartKey": last}

    def transact(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        """One ``TransactWriteItems``. A cancellation caused by a failed condition raises
        ``_ConditionsFailed`` with the per-item reasons; every other failure goes through the
        failure table."""
        try:
            self.client.transact_write_items(TransactItems=list(items))
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if error_code(exc) == TRANSACTION_CANCELED and any(
                reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
            ):
                raise _ConditionsFailed(reasons) from exc
            raise to_port_error(exc, "dynamodb.TransactWriteItems") from exc
        except BotoCoreError as exc:
            raise to_port_error(exc, "dynamodb.TransactWriteItems") from exc


# -- repository ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Observed:
    """A task item as this unit of work read it."""

    task: Task
    dependents_generation: int


@dataclass(frozen=True, slots=True)
class _StagedWrite:
    task: Task
    kind: Literal["add", "update", "remove"]
    expected_version: int  # 0 for "add": must not exist yet


def _position(created_at: datetime, task_id: UUID | str) -> Position:
    # The same shape as the in-memory and SQLite adapters' positions.
    return {"created_at": to_utc(created_at).isoformat(), "task_id": str(task_id)}


def _position_sort_key(position: Position) -> tuple[str, UUID]:
    """The index sort key to resume after. The position arrives from a signed token, but one
    issued by another store or release may have another shape: a bad token, not a 500."""
    try:
        if set(position) != {"created_at", "task_id"}:
            raise ValueError(f"unexpected keys {sorted(position)}")
        created_at = datetime.fromisoformat(position["created_at"])
        task_id = UUID(position["task_id"])
        return list_sort_key(created_at, task_id), task_id
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidPageToken("it does not belong to this store") from exc


def _sort_key_parts(sort_key: str) -> tuple[datetime, str]:
    created_at, _, task_id = sort_key.rpartition("#")
    return datetime.fromisoformat(created_at), task_id


class DynamoDbTaskRepository:
    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table
        self.staged: dict[UUID, _StagedWrite] = {}
        # What this unit of work read: commit conditions refer to it.
        self.observed: dict[UUID, _Observed] = {}
        self.graph_generation: int | None = None  # read before a graph walk, if any

    # -- reads ------------------------------------------------------------------------------

    def _remember(self, record: Mapping[str, Any]) -> Task:
        task = task_from_record(record)
        generation = int(record.get(DEPENDENTS_GENERATION, 0))
        self.observed[task.task_id] = _Observed(task, generation)
        return task

    def get(self, task_id: UUID) -> Task | None:
        record = self._table.get(task_key(task_id))
        return None if record is None else self._remember(record)

    def get_many(self, task_ids: Collection[UUID]) -> dict[UUID, Task]:
        keys = [task_key(task_id) for task_id in dict.fromkeys(task_ids)]
        tasks = (self._remember(record) for record in self._table.batch_get(keys))
        return {task.task_id: task for task in tasks}

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        # A graph walk: fix the graph generation before its first read (see commit).
        self.observe_graph()
        keys = [task_key(task_id) for task_id in dict.fromkeys(task_ids)]
        records = self._table.batch_get(
            keys, projection="#id, #deps", names={"#id": "task_id", "#deps": "dependencies"}
        )
        return {
            UUID(record["task_id"]): tuple(UUID(dep) for dep in record.get("dependencies", ()))
            for record in records
        }

    def observe_graph(self) -> int:
        if self.graph_generation is None:
            record = self._table.get(GRAPH_KEY)
            self.graph_generation = 0 if record is None else int(record[GRAPH_GENERATION])
        return self.graph_generation

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        # Read the task's dependents generation *before* its edges: a delete conditional on
        # it then fails if a dependent was added after this read (see ``_task_item``).
        if task_id not in self.observed:
            self.get(task_id)
        confirmed: list[UUID] = []
        tentative: list[UUID] = []
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {
                ":pk": string(f"{TASK_PREFIX}{task_id}"),
                ":prefix": string(DEPENDENT_PREFIX),
            },
            "ConsistentRead": True,
        }
        for page in self._table.query_pages(request):
            for edge in page:
                dependent = UUID(edge[DEPENDENT_ID])
                (tentative if edge.get(TENTATIVE) else confirmed).append(dependent)
        if tentative:
            confirmed += self._verified_dependents(task_id, tentative)
        return sorted(set(confirmed), key=str)

    def _verified_dependents(self, task_id: UUID, candidates: list[UUID]) -> list[UUID]:
        """The candidates whose task item really lists ``task_id`` as a dependency. A
        tentative edge may belong to a large write still in flight: fixing the graph
        generation first makes a delete that relies on this answer conflict with it."""
        self.observe_graph()
        edges = self.dependencies_of(candidates)
        return [dependent for dependent in candidates if task_id in edges.get(dependent, ())]

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        # The most selective filter picks the index; the others filter its entries.
        if task_filter.assignee is None:
            index, partition = BY_CREATED_AT, {LIST_PK: string(ALL_TASKS)}
        else:
            index = BY_ASSIGNEE
            partition = {ASSIGNEE_PK: string(f"{ASSIGNEE_PREFIX}{task_filter.assignee}")}
        request = self._listing_query(index, partition, task_filter)
        if after is not None:
            # Resume after the last entry of the previous page; the item need not exist.
            sort_key, task_id = _position_sort_key(after)
            request["ExclusiveStartKey"] = {
                PK: string(f"{TASK_PREFIX}{task_id}"),
                SK: string(TASK_SK),
                LIST_SK: string(sort_key),
                **partition,
            }
        # One entry more than the page tells whether another page exists. A query with a
        # filter may return fewer entries than its Limit: keep going until the page is full
        # or the index is exhausted, so only the last page is short.
        sort_keys: list[str] = []
        filtered = "FilterExpression" in request
        while len(sort_keys) <= limit:
            wanted = limit + 1 - len(sort_keys)
            request["Limit"] = max(wanted, FILTERED_QUERY_BATCH) if filtered else wanted
            with translate_aws_errors("dynamodb.Query"):
                response = self._table.client.query(**request)
            sort_keys += [entry[LIST_SK]["S"] for entry in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        page_keys = sort_keys[:limit]
        tasks = self._fetch_page(page_keys, task_filter)
        more = len(sort_keys) > limit
        next_position = _position(*_sort_key_parts(page_keys[-1])) if more else None
        return TaskSlice(tasks=tasks, next_position=next_position)

    def _listing_query(
        self, index: str, partition: Mapping[str, AttributeValueTypeDef], task_filter: TaskFilter
    ) -> QueryInputTypeDef:
        ((partition_attribute, partition_value),) = partition.items()
        names = {"#pk": partition_attribute, "#sk": LIST_SK}
        values: dict[str, AttributeValueTypeDef] = {":pk": partition_value}
        conditions = []
        filters = (("status", task_filter.status), ("priority", task_filter.priority))
        for attribute, value in filters:
            if value is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = string(str(value))
                conditions.append(f"#{attribute} = :{attribute}")
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": "#sk",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
        return request

    def _fetch_page(self, sort_keys: list[str], task_filter: TaskFilter) -> list[Task]:
        ids = [UUID(_sort_key_parts(sort_key)[1]) for sort_key in sort_keys]
        found = self.get_many(ids)
        # The index lags the table a little in AWS: re-check the filter on the fresh items
        # (and skip a task deleted since), rather than return a task that does not match.
        return [found[i] for i in ids if i in found and _matches(found[i], task_filter)]

    # -- staged writes ----------------------------------------------------------------------

    def add(self, task: Task) -> None:
        self.staged[task.task_id] = _StagedWrite(task, "add", expected_version=0)

    def update(self, task: Task, expected_version: int) -> None:
        self.staged[task.task_id] = _StagedWrite(task, "update", expected_version)

    def remove(self, task: Task) -> None:
        self.staged[task.task_id] = _StagedWrite(task, "remove", task.version)


def _matches(task: Task, task_filter: TaskFilter) -> bool:
    return (
        (task_filter.status is None or task.status == task_filter.status)
        and (task_filter.priority is None or task.priority == task_filter.priority)
        and (task_filter.assignee is None or task.assignee == task_filter.assignee)
    )


# -- outbox ----------------------------------------------------------------------------------


class DynamoDbOutboxWriter:
    def __init__(self, entries: EventEntryBuilder) -> None:
        self._entries = entries
        self.staged: list[Event] = []

    def add(self, event: Event) -> None:
        # Build the EventBridge entry now: an event the relay could never publish is refused
        # before anything is committed, instead of blocking the stream later.
        self._entries.build(event)
        self.staged.append(event)


class DynamoDbOutbox:
    """The ``OutboxReader`` of a table in polling mode: pending events are the entries of
    the ``PendingOutbox`` index, in commit order. (In stream mode the index stays empty: the
    stream relay publishes every outbox item as it is written.)"""

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
        keys: list[Item] = []
        for page in self._table.query_pages(request):
            keys += [{PK: string(entry[PK]), SK: string(entry[SK])} for entry in page]
            if len(keys) >= limit:
                break
        keys = keys[:limit]
        records = {record[PK]: record for record in self._table.batch_get(keys)}
        return [
            OutboxRecord(
                event=parse_event(record["event"]),
                attempts=int(record.get("attempts", 0)),
                last_error=record.get("last_error"),
            )
            for key in keys
            if (record := records.get(key[PK]["S"])) is not None
        ]

    def mark_sent(self, event_id: UUID) -> None:
        with translate_aws_errors("dynamodb.DeleteItem"):
            self._table.client.delete_item(TableName=self._table.name, Key=outbox_key(event_id))

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
                ExpressionAttributeValues={":one": number(1), ":error": string(error)},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise to_port_error(exc, "dynamodb.UpdateItem") from exc
            # Already sent and removed by another dispatcher: nothing to record.
        except BotoCoreError as exc:
            raise to_port_error(exc, "dynamodb.UpdateItem") from exc


# -- unit of work ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Operation:
    """One item of a transaction and what a failed condition on it means."""

    item: TransactWriteItemTypeDef
    role: Literal["task", "dependency", "graph", "edge", "outbox"]
    write: _StagedWrite | None = None
    dependency: UUID | None = None  # for "dependency" and "edge"
    dependent: UUID | None = None  # for "edge"


@dataclass(slots=True)
class _CommitPlan:
    core: list[_Operation] = field(default_factory=list)  # task writes, events, graph
    # Edge operations, each with the operations that must go with it in one transaction.
    added_edges: list[list[_Operation]] = field(default_factory=list)
    removed_edges: list[_Operation] = field(default_factory=list)
    walked_graph: bool = False

    def size(self) -> int:
        return len(self.core) + sum(map(len, self.added_edges)) + len(self.removed_edges)


class DynamoDbUnitOfWork:
    def __init__(
        self,
        table: DynamoDbTable,
        entries: EventEntryBuilder,
        outbox_mode: OutboxMode,
        now: Callable[[], datetime],
    ) -> None:
        self._table = table
        self._outbox_mode = outbox_mode
        self._now = now
        self.tasks = DynamoDbTaskRepository(table)
        self.outbox = DynamoDbOutboxWriter(entries)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._reset()

    def _reset(self) -> None:
        self.tasks.staged.clear()
        self.tasks.observed.clear()
        self.tasks.graph_generation = None
        self.outbox.staged.clear()

    def commit(self) -> None:
        writes = list(self.tasks.staged.values())
        events = list(self.outbox.staged)
        if not writes and not events:
            return
        plan = self._plan(writes, events)
        if plan.size() <= MAX_TRANSACTION_ITEMS:
            self._commit_at_once(plan)
        elif len(plan.core) + (0 if plan.walked_graph else 1) <= MAX_TRANSACTION_ITEMS:
            self._commit_in_steps(plan)
        else:
            # Task writes and events must share one transaction, which DynamoDB caps at 100
            # items. (The service writes one task and one event per unit of work.)
            raise UnitOfWorkTooLarge(len(writes), len(events))
        self._reset()

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, writes: list[_StagedWrite], events: list[Event]) -> _CommitPlan:
        plan = _CommitPlan(walked_graph=self.tasks.graph_generation is not None)
        written = {write.task.task_id for write in writes}
        for write in writes:
            previous = () if write.kind == "add" else self._stored_dependencies(write)
            plan.core.append(_Operation(self._task_item(write), "task", write=write))
            dependent = write.task.task_id
            current = () if write.kind == "remove" else write.task.dependencies
            for dependency in current:
                if dependency in previous:
                    continue
                together = [_edge_put(self._table.name, dependency, dependent)]
                if dependency not in written:  # one operation per item and transaction
                    together.append(
                        _Operation(
                            _claim_dependency(self._table.name, dependency),
                            "dependency",
                            dependency=dependency,
                        )
                    )
                plan.added_edges.append(together)
            plan.removed_edges += [
                _edge_delete(self._table.name, dependency, dependent)
                for dependency in previous
                if dependency not in current
            ]
        # Commit order for the pending index: the commit's wall-clock time in nanoseconds,
        # then the event's position within the commit.
        committed_ns = time.time_ns()
        plan.core += [
            _Operation(self._outbox_item(event, f"{committed_ns:020d}#{i:03d}"), "outbox")
            for i, event in enumerate(events)
        ]
        if plan.walked_graph:
            plan.core.append(self._graph_operation())
        return plan

    def _stored_dependencies(self, write: _StagedWrite) -> tuple[UUID, ...]:
        """The dependencies the write replaces, from the version it expects. Reads the task if
        this unit of work has not (the service always has)."""
        task_id = write.task.task_id
        observed = self.tasks.observed.get(task_id)
        if observed is None or observed.task.version != write.expected_version:
            stored = self.tasks.get(task_id)
            if stored is None:
                raise TaskNotFound(task_id)
            if stored.version != write.expected_version:
                raise VersionConflict(stored, write.expected_version)
            observed = self.tasks.observed[task_id]
        return observed.task.dependencies

    def _task_item(self, write: _StagedWrite) -> TransactWriteItemTypeDef:
        task = write.task
        # DynamoDB rejects a request that defines a name or value its expressions do not use.
        names = {"#version": "version"}
        if write.kind == "add":
            values = {k: v for k, v in task_values(task).items() if v is not None}
            return {
                "Put": {
                    "TableName": self._table.name,
                    "Item": encode(values),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        expected = {":expected": number(write.expected_version)}
        if write.kind == "remove":
            generation = self.tasks.observed[task.task_id].dependents_generation
            return {
                "Delete": {
                    "TableName": self._table.name,
                    "Key": task_key(task.task_id),
                    # No dependent appeared since dependents_of read the generation.
                    "ConditionExpression": "#version = :expected AND "
                    "(attribute_not_exists(#generation) OR #generation = :generation)",
                    "ExpressionAttributeNames": names | {"#generation": DEPENDENTS_GENERATION},
                    "ExpressionAttributeValues": expected | {":generation": number(generation)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        # An update, not a put: the item also carries dependents_generation, which other
        # writers maintain and a put would reset.
        assignments: list[str] = []
        removals: list[str] = []
        values = {}
        for position, (name, value) in enumerate(task_values(task).items()):
            if name in (PK, SK):
                continue
            names[f"#a{position}"] = name
            if value is None:
                removals.append(f"#a{position}")
            else:
                assignments.append(f"#a{position} = :a{position}")
                values[f":a{position}"] = value
        expression = f"SET {', '.join(assignments)}"
        if removals:
            expression += f" REMOVE {', '.join(removals)}"
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": task_key(task.task_id),
                "UpdateExpression": expression,
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": encode(values) | expected,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _outbox_item(self, event: Event, commit_order: str) -> TransactWriteItemTypeDef:
        committed = self._now()
        values: dict[str, Any] = {
            PK: f"{OUTBOX_PREFIX}{event.event_id}",
            SK: OUTBOX_ITEM_SK,
            "event_id": str(event.event_id),
            "event_type": event.event_type,
            "event": event.model_dump_json(),
            "attempts": 0,
        }
        if self._outbox_mode == "polling":
            values[OUTBOX_PK] = PENDING
            values[OUTBOX_SK] = commit_order
        else:
            values[EXPIRES_AT] = int((committed + OUTBOX_RETENTION).timestamp())
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": encode(values),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PK},
            }
        }

    def _graph_operation(self) -> _Operation:
        seen = self.tasks.observe_graph()
        condition = "attribute_not_exists(#pk)" if seen == 0 else "#generation = :seen"
        update: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": GRAPH_KEY,
            "UpdateExpression": "SET #generation = :next",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#generation": GRAPH_GENERATION}
            | ({"#pk": PK} if seen == 0 else {}),
            "ExpressionAttributeValues": {":next": number(seen + 1)}
            | ({} if seen == 0 else {":seen": number(seen)}),
        }
        return _Operation({"Update": update}, "graph")  # type: ignore[typeddict-item]

    # -- committing -------------------------------------------------------------------------

    def _commit_at_once(self, plan: _CommitPlan) -> None:
        operations = [*plan.core, *_flatten(plan.added_edges), *plan.removed_edges]
        self._transact(operations)

    def _commit_in_steps(self, plan: _CommitPlan) -> None:
        """A write too large for one transaction: tentative edges first, then the commit.

        1. The graph generation is fixed (read) before anything is written, and the commit
           is conditional on it: a concurrent delete that saw one of the tentative edges
           (and therefore also checks the generation) cannot both succeed.
        2. New reverse edges go in as tentative, each with its dependency's claim, in
           chunks. A dependency that vanished fails its chunk: DependenciesNotFound.
           Removed edges that will not fit in the commit are re-written as tentative too.
        3. The task writes, their events and as many removed edges as fit commit in one
           transaction: the write is done.
        4. Best effort, afterwards: this write's tentative edges are settled (added ones
           confirmed, left-over removed ones deleted), each only if it still carries this
           write's token. If that fails, readers keep verifying them: slower, never wrong.
        """
        if not plan.walked_graph:
            plan.core.append(self._graph_operation())
            plan.walked_graph = True
        table, token = self._table.name, uuid.uuid4().hex
        room = MAX_TRANSACTION_ITEMS - len(plan.core)
        removed_now, removed_later = plan.removed_edges[:room], plan.removed_edges[room:]
        added = [group[0] for group in plan.added_edges]
        ahead = [[_tentative(table, group[0], token), *group[1:]] for group in plan.added_edges]
        ahead += [[_tentative(table, edge, token)] for edge in removed_later]
        for chunk in _chunk_groups(ahead, MAX_TRANSACTION_ITEMS):
            self._transact(chunk)
        self._transact([*plan.core, *removed_now])
        settle = [_settle(table, edge, token, keep=True) for edge in added]
        settle += [_settle(table, edge, token, keep=False) for edge in removed_later]
        for start in range(0, len(settle), MAX_TRANSACTION_ITEMS):
            try:
                self._table.transact(settle[start : start + MAX_TRANSACTION_ITEMS])
            except (_ConditionsFailed, StoreUnavailable, StoreFailure):
                logger.warning("tentative edges left unsettled; readers verify them", exc_info=True)
                return

    def _transact(self, operations: list[_Operation]) -> None:
        try:
            self._table.transact([operation.item for operation in operations])
        except _ConditionsFailed as failed:
            raise self._domain_error(operations, failed.reasons) from failed

    def _domain_error(
        self, operations: list[_Operation], reasons: list[Mapping[str, Any]]
    ) -> Exception:
        """The domain meaning of a cancelled transaction, most informative first: the
        task's own conflict, then vanished dependencies, then a concurrent graph change."""
        failed = [
            (operation, reason)
            for operation, reason in zip(operations, reasons, strict=False)
            if reason.get("Code", NO_REASON) == "ConditionalCheckFailed"
        ]
        for operation, reason in failed:
            if operation.role == "task" and operation.write is not None:
                return self._task_conflict(operation.write, reason.get("Item"))
        missing = [op.dependency for op, _ in failed if op.dependency is not None]
        if missing:
            return DependenciesNotFound(missing)
        logger.warning(
            "a concurrent write changed the dependency graph; the write can be retried",
            extra={"roles": [operation.role for operation, _ in failed]},
        )
        return StoreUnavailable(UNAVAILABLE_MESSAGE, CONFLICT_RETRY_AFTER_SECONDS)

    def _task_conflict(self, write: _StagedWrite, old_item: Item | None) -> Exception:
        task_id = write.task.task_id
        record = decode(old_item) if old_item else self._table.get(task_key(task_id))
        if record is None:
            return TaskNotFound(task_id)
        stored = task_from_record(record)
        if write.kind == "add" or stored.version != write.expected_version:
            return VersionConflict(stored, write.expected_version)
        if write.kind == "remove":
            # Same version, so a dependent was added since the dependents were read.
            self.tasks.observed.pop(task_id, None)
            dependents = self.tasks.dependents_of(task_id)
            if dependents:
                return HasDependents(task_id, dependents)
        return StoreUnavailable(UNAVAILABLE_MESSAGE, CONFLICT_RETRY_AFTER_SECONDS)


def _flatten(groups: Iterable[list[_Operation]]) -> list[_Operation]:
    return [operation for group in groups for operation in group]


def _chunk_groups(groups: list[list[_Operation]], size: int) -> Iterator[list[_Operation]]:
    """Pack groups into chunks of at most ``size`` operations, never splitting a group."""
    chunk: list[_Operation] = []
    for group in groups:
        if len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk


def _edge_put(
    table: str, dependency: UUID, dependent: UUID, *, tentative_token: str | None = None
) -> _Operation:
    values: dict[str, Any] = {
        PK: f"{TASK_PREFIX}{dependency}",
        SK: f"{DEPENDENT_PREFIX}{dependent}",
        DEPENDENT_ID: str(dependent),
    }
    if tentative_token is not None:
        values[TENTATIVE] = tentative_token
    item: TransactWriteItemTypeDef = {"Put": {"TableName": table, "Item": encode(values)}}
    return _Operation(item, "edge", dependency=dependency, dependent=dependent)


def _edge_delete(table: str, dependency: UUID, dependent: UUID) -> _Operation:
    item: TransactWriteItemTypeDef = {
        "Delete": {"TableName": table, "Key": edge_key(dependency, dependent)}
    }
    return _Operation(item, "edge", dependency=dependency, dependent=dependent)


def _tentative(table: str, edge: _Operation, token: str) -> _Operation:
    """The same edge, put and marked tentative with the writer's token: readers verify it
    against the dependent's task item (a removed edge that does not fit in the commit is kept
    this way, too, until settled)."""
    assert edge.dependency is not None
    assert edge.dependent is not None
    return _edge_put(table, edge.dependency, edge.dependent, tentative_token=token)


def _settle(table: str, edge: _Operation, token: str, *, keep: bool) -> TransactWriteItemTypeDef:
    """Confirm (``keep``) or delete a tentative edge, if it is still the one this writer put:
    a later writer's edge carries another token, or none."""
    assert edge.dependency is not None
    assert edge.dependent is not None
    condition: dict[str, Any] = {
        "TableName": table,
        "Key": edge_key(edge.dependency, edge.dependent),
        "ConditionExpression": "#tentative = :token",
        "ExpressionAttributeNames": {"#tentative": TENTATIVE},
        "ExpressionAttributeValues": {":token": string(token)},
    }
    if keep:
        return {"Update": {**condition, "UpdateExpression": "REMOVE #tentative"}}  # type: ignore[typeddict-item]
    return {"Delete": condition}  # type: ignore[typeddict-item]


def _claim_dependency(table: str, dependency: UUID) -> TransactWriteItemTypeDef:
    """The dependency must still exist; bumping its dependents generation makes a concurrent
    delete of it fail (the delete is conditional on the generation it read)."""
    return {
        "Update": {
            "TableName": table,
            "Key": task_key(dependency),
            "UpdateExpression": "ADD #generation :one",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#generation": DEPENDENTS_GENERATION, "#pk": PK},
            "ExpressionAttributeValues": {":one": number(1)},
        }
    }


class DynamoDbUnitOfWorkFactory:
    """Builds units of work on one table.

    ``outbox_mode`` says who publishes the outbox: ``"stream"`` (AWS: the stream relay
    publishes every outbox item as it is written; items expire after ``OUTBOX_RETENTION``) or
    ``"polling"`` (an ``OutboxDispatcher`` reads ``outbox_reader()``; items stay until marked
    sent, and are indexed as pending).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        entries: EventEntryBuilder,
        *,
        outbox_mode: OutboxMode,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        batch_attempts: int = 6,
    ) -> None:
        self.table = DynamoDbTable(client, table_name, sleep=sleep, batch_attempts=batch_attempts)
        self._entries = entries
        self._outbox_mode: OutboxMode = outbox_mode
        self._now = now

    def __call__(self) -> DynamoDbUnitOfWork:
        return DynamoDbUnitOfWork(self.table, self._entries, self._outbox_mode, self._now)

    def outbox_reader(self) -> DynamoDbOutbox:
        return DynamoDbOutbox(self.table)
