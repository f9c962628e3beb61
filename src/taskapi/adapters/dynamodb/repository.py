"""The task repository on DynamoDB: every read the service makes, and what the unit of work
remembers of them for its commit.

Reads are strongly consistent, except listing's index query. What a read observed becomes a
condition: a task's ``dependents_generation`` guards its delete, the ``GRAPH`` generation read
before a walk guards a write that adds edges. Tentative reverse edges are believed only when
the dependent's own item lists the dependency. See docs/aws.md#writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from taskapi.adapters.dynamodb.client import MAX_TRANSACTION_ITEMS, ConditionsFailed, DynamoDbTable
from taskapi.adapters.dynamodb.items import (
    DEPENDENT_ID,
    DEPENDENT_PREFIX,
    DEPENDENTS_GENERATION,
    GRAPH_GENERATION,
    TASK_SK,
    TENTATIVE,
    TENTATIVE_SINCE,
    assignee_partition,
    edge_key,
    graph_key,
    list_sort_key,
    string,
    task_from_record,
    task_key,
    task_pk,
    tasks_partition,
)
from taskapi.adapters.dynamodb.table import (
    ASSIGNEE_PK,
    BY_ASSIGNEE,
    BY_CREATED_AT,
    LIST_PK,
    LIST_SK,
    PK,
    SK,
)
from taskapi.adapters.dynamodb.writes import settle_edge
from taskapi.adapters.unit_of_work import (
    StagedWrite,
    StagedWrites,
    dependent_position_after,
    parse_dependent_position,
    parse_position,
    position_after,
    require_workspace,
)
from taskapi.domain.model import Task
from taskapi.service.ports import (
    Position,
    StoreFailure,
    StoreUnavailable,
    TaskFilter,
    TaskSlice,
)

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

# A filtered listing query reads this many index entries per round trip at least: the slim
# index entries are small, and a filter may discard most of them.
FILTERED_QUERY_BATCH: Final = 200


@dataclass(frozen=True, slots=True)
class Observed:
    """A task item as this unit of work read it."""

    task: Task
    dependents_generation: int


# A tentative edge older than this belongs to no write in flight (no function runs longer than
# Lambda's 15 minutes): a reader that verified it settles it for good.
STALE_TENTATIVE_EDGE = timedelta(minutes=15)


class DynamoDbTaskRepository(StagedWrites):
    """The tasks of one workspace: every key it reads is under ``WS#<workspace_id>``, so no
    read can reach another workspace's task, whatever the ids (``None``: no tasks at all)."""

    def __init__(
        self,
        table: DynamoDbTable,
        workspace_id: UUID | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self._table = table
        self._workspace_id = workspace_id
        self._now = now
        self.observed: dict[UUID, Observed] = {}
        # The GRAPH generation, read before this unit of work's first graph read...
        self.graph_generation: int | None = None
        # ...and what relied on it: a cycle check walked the graph, or a dependents answer
        # rested on checking tentative edges (the commit decides which needs the condition).
        self.walked_graph = False
        self.verified_tentative_edges = False

    def discard(self) -> None:
        """Forget the staged writes and what was read: the next commit's conditions must
        refer to reads made after this."""
        super().discard()
        self.observed.clear()
        self.graph_generation = None
        self.walked_graph = self.verified_tentative_edges = False

    @property
    def workspace_id(self) -> UUID:
        """The workspace whose tasks these are (``RuntimeError`` if there is none)."""
        return require_workspace(self._workspace_id)

    def _key(self, task_id: UUID) -> dict[str, AttributeValueTypeDef]:
        return task_key(self.workspace_id, task_id)

    # -- tasks ------------------------------------------------------------------------------

    def _remember(self, record: Mapping[str, Any]) -> Task:
        task = task_from_record(record)
        generation = int(record.get(DEPENDENTS_GENERATION, 0))
        self.observed[task.task_id] = Observed(task, generation)
        return task

    def get(self, task_id: UUID) -> Task | None:
        record = self._table.get(self._key(task_id))
        return None if record is None else self._remember(record)

    def get_many(self, task_ids: Collection[UUID], *, graph_walk: bool = False) -> dict[UUID, Task]:
        keys = [self._key(task_id) for task_id in dict.fromkeys(task_ids)]
        if graph_walk:
            # The first level of a walk: fix the graph generation before reading it.
            self.observe_graph()
            self.walked_graph = True
        tasks = (self._remember(record) for record in self._table.batch_get(keys))
        return {task.task_id: task for task in tasks}

    def observed_for(self, write: StagedWrite) -> Observed:
        """The task ``write`` replaces, as read at the version it expects. Reads it if this
        unit of work has not (the service always has); raises the write's domain error if it
        is gone or at another version."""
        observed = self.observed.get(write.task.task_id)
        if observed is None or observed.task.version != write.expected_version:
            stored = self.get(write.task.task_id)
            if not write.accepts(stored):
                raise write.rejection(stored)
            observed = self.observed[write.task.task_id]
        return observed

    # -- the dependency graph ---------------------------------------------------------------

    def observe_graph(self) -> int:
        """The workspace's GRAPH generation, read once per unit of work (0: no write has
        advanced it)."""
        if self.graph_generation is None:
            record = self._table.get(graph_key(self.workspace_id))
            self.graph_generation = 0 if record is None else int(record[GRAPH_GENERATION])
        return self.graph_generation

    def dependencies_of(self, task_ids: Collection[UUID]) -> dict[UUID, tuple[UUID, ...]]:
        # A graph walk: fix the graph generation before its first read.
        keys = [self._key(task_id) for task_id in dict.fromkeys(task_ids)]
        self.observe_graph()
        self.walked_graph = True
        records = self._table.batch_get(
            keys, projection="#id, #deps", names={"#id": "task_id", "#deps": "dependencies"}
        )
        return {
            UUID(record["task_id"]): tuple(UUID(dep) for dep in record.get("dependencies", ()))
            for record in records
        }

    def dependents_of(self, task_id: UUID) -> list[UUID]:
        # Read the task's dependents generation *before* its edges: a delete conditional on
        # it then fails if a dependent was added after this read.
        if task_id not in self.observed:
            self.get(task_id)
        confirmed: list[UUID] = []
        tentative: list[UUID] = []
        stale: dict[UUID, str] = {}
        for page in self._table.query_pages(self._edges_query(task_id)):
            for edge in page:
                dependent = UUID(edge[DEPENDENT_ID])
                (tentative if edge.get(TENTATIVE) else confirmed).append(dependent)
            stale.update(self._stale_edges(page))
        if tentative:
            verified = self._verified_dependents(task_id, tentative)
            confirmed += verified
            self._settle_stale(task_id, stale, set(verified))
        return sorted(set(confirmed), key=str)

    def find_dependents(self, task_id: UUID, limit: int, after: Position | None) -> TaskSlice:
        # The reverse edges sort by "DEPENDENT#<id>", i.e. in id order; a page is one Query
        # (more only when tentative edges turn out not to hold) and one BatchGetItem.
        request = self._edges_query(task_id)
        if after is not None:
            start = parse_dependent_position(after)
            request["ExclusiveStartKey"] = edge_key(self.workspace_id, task_id, start)
        found: list[UUID] = []
        while len(found) <= limit:
            request["Limit"] = limit + 1 - len(found)
            edges, last = self._table.query(request)
            candidates = [UUID(edge[DEPENDENT_ID]) for edge in edges]
            tentative = [UUID(edge[DEPENDENT_ID]) for edge in edges if edge.get(TENTATIVE)]
            held = set(self._verified_dependents(task_id, tentative)) if tentative else set()
            self._settle_stale(task_id, self._stale_edges(edges), held)
            found += [i for i in candidates if i in held or i not in tentative]
            if last is None:
                break
            request["ExclusiveStartKey"] = last
        page = found[:limit]
        tasks = self.get_many(page)
        more = len(found) > limit
        return TaskSlice(
            # A dependent deleted between the two reads is left out, as its edge would be.
            tasks=[tasks[i] for i in page if i in tasks],
            next_position=dependent_position_after(page[-1]) if more else None,
        )

    def _edges_query(self, task_id: UUID) -> QueryInputTypeDef:
        return {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {
                ":pk": string(task_pk(self.workspace_id, task_id)),
                ":prefix": string(DEPENDENT_PREFIX),
            },
            "ConsistentRead": True,
        }

    def _stale_edges(self, edges: Iterable[Mapping[str, Any]]) -> dict[UUID, str]:
        """The tentative edges among ``edges`` older than any write in flight, by dependent,
        with their writer's token."""
        stale_before = int((self._now() - STALE_TENTATIVE_EDGE).timestamp())
        return {
            UUID(edge[DEPENDENT_ID]): str(edge[TENTATIVE])
            for edge in edges
            if edge.get(TENTATIVE) and int(edge.get(TENTATIVE_SINCE, 0)) < stale_before
        }

    def _settle_stale(self, task_id: UUID, stale: dict[UUID, str], real: set[UUID]) -> None:
        """Confirm or delete, as verified, the tentative edges a failed or interrupted large
        write left behind, so none stays tentative for good. Best effort: a reader that cannot
        settle them answers correctly all the same."""
        items = [
            settle_edge(
                self._table.name,
                self.workspace_id,
                task_id,
                dependent,
                token,
                keep=dependent in real,
            )
            for dependent, token in stale.items()
        ]
        for start in range(0, len(items), MAX_TRANSACTION_ITEMS):
            try:
                self._table.transact(items[start : start + MAX_TRANSACTION_ITEMS])
            except (ConditionsFailed, StoreUnavailable, StoreFailure):
                logger.warning("stale tentative edges left unsettled", exc_info=True)
                return
        if items:
            logger.info("settled stale tentative edges", extra={"edges": len(items)})

    def _verified_dependents(self, task_id: UUID, candidates: list[UUID]) -> list[UUID]:
        """The candidates whose task item really lists ``task_id`` as a dependency. A
        tentative edge may belong to a large write still in flight, which commits only if the
        graph generation is unchanged: a delete that relies on this answer is conditional on
        it too, so only one of them can commit."""
        self.verified_tentative_edges = True
        edges = self.dependencies_of(candidates)
        return [dependent for dependent in candidates if task_id in edges.get(dependent, ())]

    # -- listing ----------------------------------------------------------------------------

    def find(self, task_filter: TaskFilter, limit: int, after: Position | None) -> TaskSlice:
        # The most selective filter picks the index; the others filter its entries. Both
        # indexes are partitioned by workspace.
        workspace_id = self.workspace_id
        if task_filter.assignee is None:
            index, partition = BY_CREATED_AT, {LIST_PK: string(tasks_partition(workspace_id))}
        else:
            index = BY_ASSIGNEE
            partition = {
                ASSIGNEE_PK: string(assignee_partition(workspace_id, task_filter.assignee))
            }
        request = self._listing_query(index, partition, task_filter)
        if after is not None:
            # Resume after the last entry of the previous page; the item need not exist.
            sort_key, task_id = _position_sort_key(after)
            request["ExclusiveStartKey"] = {
                PK: string(task_pk(workspace_id, task_id)),
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
            entries, last = self._table.query(request)
            sort_keys += [entry[LIST_SK] for entry in entries]
            if not last:
                break
            request["ExclusiveStartKey"] = last
        page_keys = sort_keys[:limit]
        tasks = self._fetch_page(page_keys, task_filter)
        more = len(sort_keys) > limit
        next_position = position_after(*_sort_key_parts(page_keys[-1])) if more else None
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
        return [found[i] for i in ids if i in found and task_filter.matches(found[i])]


def _position_sort_key(position: Position) -> tuple[str, UUID]:
    """The index sort key to resume after."""
    created_at, task_id = parse_position(position)
    return list_sort_key(created_at, task_id), task_id


def _sort_key_parts(sort_key: str) -> tuple[datetime, str]:
    created_at, _, task_id = sort_key.rpartition("#")
    return datetime.fromisoformat(created_at), task_id
