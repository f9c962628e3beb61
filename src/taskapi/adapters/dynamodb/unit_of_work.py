"""The task store on DynamoDB: the unit of work, and how a write becomes one transaction.

Same semantics as the memory and SQLite stores, with no locks: every race is decided by a
condition in the transaction that commits the write. ``_plan`` turns the staged writes and
events into ``Operation``s (``writes``); one ``TransactWriteItems`` commits them, or
``large_writes`` when they exceed 100 items; a cancelled transaction becomes the domain error
it means (``_domain_error``). Start here to follow a write: docs/aws.md#writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from taskapi.adapters.aws.errors import CONFLICT_RETRY_AFTER_SECONDS, NO_REASON, UNAVAILABLE_MESSAGE
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.client import MAX_TRANSACTION_ITEMS, ConditionsFailed, DynamoDbTable
from taskapi.adapters.dynamodb.items import (
    COMMIT_ID,
    decode,
    outbox_key,
    task_from_record,
    task_key,
    tombstone_key,
)
from taskapi.adapters.dynamodb.large_writes import commit_in_steps
from taskapi.adapters.dynamodb.outbox import (
    DynamoDbOutbox,
    DynamoDbOutboxWriter,
    OutboxMode,
    outbox_puts,
)
from taskapi.adapters.dynamodb.repository import DynamoDbTaskRepository
from taskapi.adapters.dynamodb.requests import DynamoDbRequestLog, request_put
from taskapi.adapters.dynamodb.workspaces import (
    DynamoDbWorkspaceRepository,
    workspace_operations,
    workspace_record_of,
)
from taskapi.adapters.dynamodb.writes import (
    CommitPlan,
    Operation,
    claim_dependency,
    edge_delete,
    edge_put,
    graph_update,
    in_workspace,
    task_write,
)
from taskapi.adapters.unit_of_work import (
    Staged,
    StagedWorkspaceWrite,
    StagedWrite,
    StagingUnitOfWork,
    require_workspace,
)
from taskapi.domain.errors import (
    DependenciesNotFound,
    HasDependents,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
)
from taskapi.service.ports import (
    Event,
    RecordedRequest,
    RequestAlreadyRecorded,
    StoreFailure,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "DynamoDbUnitOfWork",
    "DynamoDbUnitOfWorkFactory",
    "OutboxMode",
    "UnitOfWorkTooLarge",
]

logger = logging.getLogger(__name__)


class UnitOfWorkTooLarge(Exception):
    """More task writes and events than one DynamoDB transaction can commit atomically."""

    def __init__(self, writes: int, events: int) -> None:
        super().__init__(
            f"{writes} task writes and {events} events cannot commit atomically: one "
            f"DynamoDB transaction holds at most {MAX_TRANSACTION_ITEMS} items"
        )


class DynamoDbUnitOfWorkFactory:
    """Builds units of work on one table; ``outbox_mode`` says who publishes the outbox
    (``outbox``: the stream relay in AWS, or a polling dispatcher)."""

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

    def __call__(self, workspace_id: UUID | None = None) -> DynamoDbUnitOfWork:
        return DynamoDbUnitOfWork(
            self.table, self._entries, self._outbox_mode, self._now, workspace_id
        )

    def outbox_reader(self) -> DynamoDbOutbox:
        return DynamoDbOutbox(self.table)


class DynamoDbUnitOfWork(StagingUnitOfWork):
    tasks: DynamoDbTaskRepository
    outbox: DynamoDbOutboxWriter
    requests: DynamoDbRequestLog
    workspaces: DynamoDbWorkspaceRepository

    def __init__(
        self,
        table: DynamoDbTable,
        entries: EventEntryBuilder,
        outbox_mode: OutboxMode,
        now: Callable[[], datetime],
        workspace_id: UUID | None = None,
    ) -> None:
        self._table = table
        self._outbox_mode = outbox_mode
        self._now = now
        self.workspace_id = workspace_id
        self.tasks = DynamoDbTaskRepository(table, workspace_id, now)
        self.outbox = DynamoDbOutboxWriter(entries)
        self.requests = DynamoDbRequestLog(table)
        self.workspaces = DynamoDbWorkspaceRepository(table)

    def _apply(self, staged: Staged) -> None:
        writes, events, requests = staged.writes, staged.events, staged.requests
        if not writes and not events and not requests and not staged.workspaces:
            return
        if writes:
            workspace_id = require_workspace(staged.workspace_id)
            if any(w.workspace.workspace_id == workspace_id for w in staged.workspaces):
                # Both would be operations on the workspace item: DynamoDB allows one per
                # item and transaction. (The service never stages both.)
                raise StoreFailure("a unit of work cannot write a workspace and its tasks")
        plan = self._plan(writes, events, requests)
        # The workspace writes come first: their failures are the most telling.
        workspace_ops = self._plan_workspaces(staged.workspaces, plan)
        plan.core[:0] = workspace_ops
        operations = plan.operations()
        if len(operations) <= MAX_TRANSACTION_ITEMS:
            self._transact(operations)
            return
        removal_only = [w.kind for w in staged.workspaces] == ["remove"]
        if removal_only and not writes and not events and not requests:
            # A removal of a workspace with more members than one transaction holds: the
            # workspace item (the condition), its counter, its tombstone and the first
            # members go in one transaction; the other members' items are deleted after it.
            # Until then they are memberships of a workspace that does not exist, which every
            # read treats as absent (docs/aws.md#workspaces).
            first, rest = operations[:MAX_TRANSACTION_ITEMS], operations[MAX_TRANSACTION_ITEMS:]
            self._transact(first)
            self._delete_afterwards(rest)
            return
        if workspace_ops:
            raise UnitOfWorkTooLarge(len(writes), len(events))
        # Too large for one transaction: the edges go ahead as tentative ones, and the final
        # commit must then be conditional on the graph generation (large_writes).
        if len(plan.core) + (not plan.graph_guarded) > MAX_TRANSACTION_ITEMS:
            # Task writes and events must share one transaction. (The service writes one task
            # and one event per unit of work.)
            raise UnitOfWorkTooLarge(len(writes), len(events))
        if not plan.graph_guarded:
            graph = graph_update(
                self._table.name, self.tasks.workspace_id, self.tasks.observe_graph()
            )
            plan.core.append(graph)
        commit_in_steps(self._table, plan, self._transact, self._now())

    def _delete_afterwards(self, operations: list[Operation]) -> None:
        for start in range(0, len(operations), MAX_TRANSACTION_ITEMS):
            chunk = operations[start : start + MAX_TRANSACTION_ITEMS]
            try:
                self._table.transact([operation.item for operation in chunk])
            except (ConditionsFailed, StoreUnavailable, StoreFailure):
                logger.warning("members of a removed workspace left behind", exc_info=True)
                return

    # -- planning ---------------------------------------------------------------------------

    def _plan_workspaces(
        self, writes: list[StagedWorkspaceWrite], plan: CommitPlan
    ) -> list[Operation]:
        table = self._table.name
        operations: list[Operation] = []
        for write in writes:
            operations += workspace_operations(
                table, write, self.workspaces, plan.commit_id, self._now()
            )
        return operations

    def _plan(
        self, writes: list[StagedWrite], events: list[Event], requests: list[RecordedRequest]
    ) -> CommitPlan:
        table = self._table.name
        # Event ids are fresh: the first one names this commit (one per write: the service
        # stages an event with every task write).
        commit_id = str(events[0].event_id) if events else uuid4().hex
        plan = CommitPlan(commit_id=commit_id)
        written = {write.task.task_id for write in writes}
        workspace_id = self.tasks.workspace_id if writes else None
        task_delta = 0
        for write in writes:
            assert workspace_id is not None
            dependent = write.task.task_id
            if write.kind == "add":
                previous: tuple[UUID, ...] = ()
                generation = 0
                task_delta += 1
            else:
                observed = self.tasks.observed_for(write)
                previous, generation = observed.task.dependencies, observed.dependents_generation
                task_delta -= write.kind == "remove"
            plan.core.append(task_write(table, workspace_id, write, generation, commit_id))
            current = () if write.kind == "remove" else write.task.dependencies
            for dependency in current:
                if dependency in previous:
                    continue
                edge = [edge_put(table, workspace_id, dependency, dependent)]
                if dependency not in written:  # one operation per item and transaction
                    edge.append(claim_dependency(table, workspace_id, dependency))
                plan.added_edges.append(edge)
            plan.removed_edges += [
                edge_delete(table, workspace_id, dependency, dependent)
                for dependency in previous
                if dependency not in current
            ]
        if workspace_id is not None:
            # The workspace must exist (and its task count follows creates and deletes).
            plan.core.insert(0, in_workspace(table, workspace_id, task_delta))
        puts = outbox_puts(table, events, self._outbox_mode, self._now())
        plan.core += [
            Operation(put, "outbox", event_id=event.event_id)
            for put, event in zip(puts, events, strict=True)
        ]
        plan.core += [request_put(table, request) for request in requests]
        if workspace_id is not None and self._graph_guard_needed(plan):
            plan.core.append(graph_update(table, workspace_id, self.tasks.observe_graph()))
        return plan

    def _graph_guard_needed(self, plan: CommitPlan) -> bool:
        """Whether the commit must be conditional on the graph generation read earlier.

        * After a cycle check, if the write adds an edge: two such writes could close a cycle
          together (``writes.graph_update``). A write that only removes edges cannot
          close one, so it never waits for the counter.
        * After a dependents answer that rested on verifying tentative edges: a large write
          in flight must not commit under it (``large_writes``).
        """
        repository = self.tasks
        return (repository.walked_graph and bool(plan.added_edges)) or (
            repository.verified_tentative_edges
        )

    # -- committing -------------------------------------------------------------------------

    def _transact(self, operations: list[Operation]) -> None:
        try:
            self._table.transact([operation.item for operation in operations])
        except ConditionsFailed as failed:
            if self._already_committed(operations, failed.reasons):
                # botocore retried a transaction whose reply was lost; DynamoDB honours the
                # retry's ClientRequestToken, moto runs it again and fails on our own write.
                logger.info("the transaction had committed; its reply was lost")
                return
            raise self._domain_error(operations, failed.reasons) from failed

    def _already_committed(
        self, operations: list[Operation], reasons: list[Mapping[str, Any]]
    ) -> bool:
        """Whether this very transaction had committed: its task (or workspace) item is
        stored exactly as written, carrying this commit's id (the item DynamoDB returned with
        the failure says so without another read); for a task delete (no item left) its
        outbox item exists (event ids are fresh); for a workspace removal, its tombstone
        carries this commit's id."""
        commit_id = self._commit_id(operations)
        for operation, reason in zip(operations, reasons, strict=False):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            write, workspace_write = operation.write, operation.workspace_write
            if write is not None:
                deleting = write.delete
            elif workspace_write is not None:
                deleting = workspace_write.kind == "remove"
            else:
                continue
            old_item = reason.get("Item")
            if old_item:
                return not deleting and decode(old_item).get(COMMIT_ID) == commit_id
            if workspace_write is not None:
                if not deleting:
                    return False
                tombstone = self._table.get(tombstone_key(workspace_write.workspace.workspace_id))
                return tombstone is not None and tombstone.get(COMMIT_ID) == commit_id
            event_ids = [op.event_id for op in operations if op.event_id is not None]
            return bool(event_ids) and self._table.get(outbox_key(event_ids[0])) is not None
        # Our own task and workspace writes passed their conditions: this was no retry of a
        # committed write.
        return False

    @staticmethod
    def _commit_id(operations: list[Operation]) -> str | None:
        return next((op.commit_id for op in operations if op.commit_id is not None), None)

    def _domain_error(
        self, operations: list[Operation], reasons: list[Mapping[str, Any]]
    ) -> Exception:
        """The domain meaning of a cancelled transaction, most informative first: a
        workspace write's conflict, a workspace that is gone, the task's own conflict, then
        vanished dependencies, then a concurrent graph change."""
        failed = [
            (operation, reason)
            for operation, reason in zip(operations, reasons, strict=False)
            if reason.get("Code", NO_REASON) == "ConditionalCheckFailed"
        ]
        for operation, reason in failed:
            if operation.workspace_write is not None:
                return self._workspace_conflict(operation.workspace_write, reason.get("Item"))
        for operation, _ in failed:
            if operation.role == "in_workspace" and operation.workspace_id is not None:
                return WorkspaceNotFound(operation.workspace_id)
        for operation, _ in failed:
            if operation.role == "request" and operation.request_key is not None:
                return RequestAlreadyRecorded(operation.request_key)
        for operation, reason in failed:
            if operation.role == "task" and operation.write is not None:
                return self._task_conflict(operation.write, reason.get("Item"))
        missing = [op.dependency for op, _ in failed if op.dependency is not None]
        if missing:
            return DependenciesNotFound(missing)
        if any(op.role == "outbox" for op, _ in failed):
            return StoreFailure("an event with this id is already in the outbox")
        logger.warning(
            "a concurrent write changed the dependency graph; the write can be retried",
            extra={"roles": [operation.role for operation, _ in failed]},
        )
        return StoreUnavailable(UNAVAILABLE_MESSAGE, CONFLICT_RETRY_AFTER_SECONDS)

    def _workspace_conflict(
        self,
        write: StagedWorkspaceWrite,
        old_item: Mapping[str, AttributeValueTypeDef] | None,
    ) -> Exception:
        stored = workspace_record_of(decode(old_item) if old_item else None)
        if old_item is None:
            stored = self.workspaces.get(write.workspace.workspace_id)
        if write.kind == "remove" and stored is not None and write.accepts(stored):
            # The version held: the task count did not.
            return WorkspaceNotEmpty(stored.workspace_id)
        if not write.accepts(stored):
            return write.rejection(stored)
        return StoreUnavailable(UNAVAILABLE_MESSAGE, CONFLICT_RETRY_AFTER_SECONDS)

    def _task_conflict(
        self, write: StagedWrite, old_item: Mapping[str, AttributeValueTypeDef] | None
    ) -> Exception:
        """What the failed condition on the task's own item means. ``old_item`` is the item
        DynamoDB returned with the failure (``ALL_OLD``); read again only if it did not."""
        task_id = write.task.task_id
        record = (
            decode(old_item)
            if old_item
            else self._table.get(task_key(self.tasks.workspace_id, task_id))
        )
        stored = None if record is None else task_from_record(record)
        if stored is None or write.kind == "add" or stored.version != write.expected_version:
            return write.rejection(stored)
        if write.kind == "remove":
            # Same version, so a dependent was added since the dependents were read.
            self.tasks.observed.pop(task_id, None)
            dependents = self.tasks.dependents_of(task_id)
            if dependents:
                return HasDependents(task_id, dependents)
        return StoreUnavailable(UNAVAILABLE_MESSAGE, CONFLICT_RETRY_AFTER_SECONDS)
