"""The items of a DynamoDB write transaction, each with the condition that guards it.

A commit is planned as ``Operation``s: one item of a ``TransactWriteItems`` each, and the role
(task, outbox, edge, dependency claim, graph counter) that says what a failed condition on it
means. The table of roles and conditions, and why claims and the graph counter exist, are in
docs/aws.md#writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from taskapi.adapters.dynamodb.items import (
    COMMIT_ID,
    DEPENDENT_ID,
    DEPENDENT_PREFIX,
    DEPENDENTS_GENERATION,
    GRAPH_GENERATION,
    TASK_COUNT,
    TENTATIVE,
    TENTATIVE_SINCE,
    edge_key,
    encode,
    graph_key,
    number,
    string,
    task_key,
    task_pk,
    task_values,
    workspace_key,
)
from taskapi.adapters.dynamodb.table import PK, SK
from taskapi.adapters.unit_of_work import StagedWorkspaceWrite, StagedWrite

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Role = Literal[
    "task",
    "outbox",
    "request",
    "edge",
    "dependency",
    "graph",
    "workspace",
    "in_workspace",
    "member",
]


@dataclass(slots=True)
class Operation:
    """One item of a transaction and what a failed condition on it means."""

    item: TransactWriteItemTypeDef
    role: Role
    write: StagedWrite | None = None  # for "task"
    dependency: UUID | None = None  # for "dependency" and "edge"
    dependent: UUID | None = None  # for "edge"
    event_id: UUID | None = None  # for "outbox"
    commit_id: str | None = None  # for "task"
    request_key: str | None = None  # for "request"
    # for "workspace": the workspace write (rename, members, add, remove) it commits
    workspace_write: StagedWorkspaceWrite | None = None
    workspace_id: UUID | None = None  # for "workspace", "in_workspace" and "edge"


@dataclass(slots=True)
class CommitPlan:
    """Every operation of one commit. ``core`` must commit in one transaction (the task
    writes, their events, the graph condition); edges may go in other transactions when the
    whole does not fit in one (``large_writes``). ``commit_id`` names the commit on every
    item it writes that a retry must recognise (tasks, workspaces)."""

    commit_id: str = ""
    core: list[Operation] = field(default_factory=list)
    # Each added edge together with the claim that must commit with it.
    added_edges: list[list[Operation]] = field(default_factory=list)
    removed_edges: list[Operation] = field(default_factory=list)

    @property
    def graph_guarded(self) -> bool:
        return any(operation.role == "graph" for operation in self.core)

    def operations(self) -> list[Operation]:
        return [*self.core, *flatten(self.added_edges), *self.removed_edges]


# -- the task ---------------------------------------------------------------------------------


def task_write(
    table: str, workspace_id: UUID, write: StagedWrite, dependents_generation: int, commit_id: str
) -> Operation:
    """The task's own item, in ``workspace_id``. ``dependents_generation`` is the one this
    unit of work read (a delete is conditional on it: see the module docstring).
    ``commit_id`` marks the item with the commit that wrote it, so a retried commit can
    recognise its own write. A failed condition returns the current item (``ALL_OLD``), so a
    conflict needs no second read."""
    item = _task_item(table, workspace_id, write, dependents_generation, commit_id)
    return Operation(item, "task", write=write, commit_id=commit_id)


def _task_item(
    table: str, workspace_id: UUID, write: StagedWrite, dependents_generation: int, commit_id: str
) -> TransactWriteItemTypeDef:
    task = write.task
    if write.kind == "add":
        values = {k: v for k, v in task_values(workspace_id, task).items() if v is not None}
        values[COMMIT_ID] = commit_id
        return {
            "Put": {
                "TableName": table,
                "Item": encode(values),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PK},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
    # DynamoDB rejects a request that defines a name or value its expressions do not use.
    names = {"#version": "version"}
    expected = {":expected": number(write.expected_version)}
    if write.kind == "remove":
        return {
            "Delete": {
                "TableName": table,
                "Key": task_key(workspace_id, task.task_id),
                "ConditionExpression": "#version = :expected AND "
                "(attribute_not_exists(#generation) OR #generation = :generation)",
                "ExpressionAttributeNames": names | {"#generation": DEPENDENTS_GENERATION},
                "ExpressionAttributeValues": expected
                | {":generation": number(dependents_generation)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
    # An update, not a put: the item also carries dependents_generation, which other writers
    # maintain and a put would reset.
    assignments: list[str] = []
    removals: list[str] = []
    values = {}
    for position, (name, value) in enumerate(task_values(workspace_id, task).items()):
        if name in (PK, SK):
            continue
        names[f"#a{position}"] = name
        if value is None:
            removals.append(f"#a{position}")
        else:
            assignments.append(f"#a{position} = :a{position}")
            values[f":a{position}"] = value
    names["#commit"] = COMMIT_ID
    assignments.append("#commit = :commit")
    values[":commit"] = commit_id
    expression = f"SET {', '.join(assignments)}"
    if removals:
        expression += f" REMOVE {', '.join(removals)}"
    return {
        "Update": {
            "TableName": table,
            "Key": task_key(workspace_id, task.task_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": encode(values) | expected,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


# -- reverse edges and claims -----------------------------------------------------------------


def edge_put(
    table: str,
    workspace_id: UUID,
    dependency: UUID,
    dependent: UUID,
    *,
    tentative_token: str | None = None,
    tentative_since: int = 0,
) -> Operation:
    """A reverse edge; a tentative one carries its writer's token and when it was written
    (epoch seconds), so a reader can settle it once no write can still be in flight."""
    values: dict[str, Any] = {
        PK: task_pk(workspace_id, dependency),
        SK: f"{DEPENDENT_PREFIX}{dependent}",
        DEPENDENT_ID: str(dependent),
    }
    if tentative_token is not None:
        values[TENTATIVE] = tentative_token
        values[TENTATIVE_SINCE] = tentative_since
    item: TransactWriteItemTypeDef = {"Put": {"TableName": table, "Item": encode(values)}}
    return Operation(
        item, "edge", dependency=dependency, dependent=dependent, workspace_id=workspace_id
    )


def edge_delete(table: str, workspace_id: UUID, dependency: UUID, dependent: UUID) -> Operation:
    item: TransactWriteItemTypeDef = {
        "Delete": {"TableName": table, "Key": edge_key(workspace_id, dependency, dependent)}
    }
    return Operation(
        item, "edge", dependency=dependency, dependent=dependent, workspace_id=workspace_id
    )


def claim_dependency(table: str, workspace_id: UUID, dependency: UUID) -> Operation:
    """The dependency must still exist; bumping its dependents generation makes a concurrent
    delete of it fail (the delete is conditional on the generation it read)."""
    item: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": table,
            "Key": task_key(workspace_id, dependency),
            "UpdateExpression": "ADD #generation :one",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#generation": DEPENDENTS_GENERATION, "#pk": PK},
            "ExpressionAttributeValues": {":one": number(1)},
        }
    }
    return Operation(item, "dependency", dependency=dependency)


def settle_edge(
    table: str, workspace_id: UUID, dependency: UUID, dependent: UUID, token: str, *, keep: bool
) -> TransactWriteItemTypeDef:
    """Confirm (``keep``) or delete a tentative edge, if it still carries ``token``: a later
    writer's edge carries another token, or none."""
    condition: dict[str, Any] = {
        "TableName": table,
        "Key": edge_key(workspace_id, dependency, dependent),
        "ConditionExpression": "#tentative = :token",
        "ExpressionAttributeNames": {"#tentative": TENTATIVE, "#since": TENTATIVE_SINCE},
        "ExpressionAttributeValues": {":token": string(token)},
    }
    if keep:
        update = {**condition, "UpdateExpression": "REMOVE #tentative, #since"}
        return {"Update": update}  # type: ignore[typeddict-item]
    condition["ExpressionAttributeNames"] = {"#tentative": TENTATIVE}
    return {"Delete": condition}  # type: ignore[typeddict-item]


# -- the graph counter ------------------------------------------------------------------------


def graph_update(table: str, workspace_id: UUID, seen: int) -> Operation:
    """Advance the workspace's ``GRAPH`` generation from ``seen``, the value read before the
    graph walk. (One counter per workspace: dependencies never cross a workspace, so neither
    can a cycle, and edits in two workspaces never conflict.)

    Two writes that each add an edge can close a cycle together (A -> B and B -> A), each
    checked against a graph without the other's edge. A write that adds edges after a walk
    therefore commits only if no other such write committed since its walk began: the
    generation is still ``seen``. One small item decides every such race, whatever the size of
    the walk (a transaction could not hold a condition per task walked); the price is that
    these writes are serialised, optimistically, through that one item (docs/aws.md, "The
    graph counter").
    """
    first = seen == 0  # the item does not exist until the first such write
    update: dict[str, Any] = {
        "TableName": table,
        "Key": graph_key(workspace_id),
        "UpdateExpression": "SET #generation = :next",
        "ConditionExpression": "attribute_not_exists(#pk)" if first else "#generation = :seen",
        "ExpressionAttributeNames": {"#generation": GRAPH_GENERATION}
        | ({"#pk": PK} if first else {}),
        "ExpressionAttributeValues": {":next": number(seen + 1)}
        | ({} if first else {":seen": number(seen)}),
    }
    return Operation({"Update": update}, "graph")  # type: ignore[typeddict-item]


# -- the workspace a task write lands in ------------------------------------------------------


def in_workspace(table: str, workspace_id: UUID, task_delta: int) -> Operation:
    """Every task write's guard on its workspace item: it must exist. A commit that creates
    or deletes tasks also moves the workspace's ``task_count`` by ``task_delta`` in the same
    item (one operation per item and transaction), so a removal conditional on a count of 0
    can never pass a concurrent create (``workspace_remove``)."""
    if task_delta == 0:
        check: dict[str, Any] = {
            "TableName": table,
            "Key": workspace_key(workspace_id),
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }
        item: TransactWriteItemTypeDef = {"ConditionCheck": check}  # type: ignore[typeddict-item]
    else:
        update: dict[str, Any] = {
            "TableName": table,
            "Key": workspace_key(workspace_id),
            "UpdateExpression": "ADD #count :delta",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK, "#count": TASK_COUNT},
            "ExpressionAttributeValues": {":delta": number(task_delta)},
        }
        item = {"Update": update}  # type: ignore[typeddict-item]
    return Operation(item, "in_workspace", workspace_id=workspace_id)


# -- packing ------------------------------------------------------------------------------------


def flatten(groups: Iterable[list[Operation]]) -> list[Operation]:
    return [operation for group in groups for operation in group]


def chunk_groups(groups: list[list[Operation]], size: int) -> Iterator[list[Operation]]:
    """Pack groups into chunks of at most ``size`` operations, never splitting a group."""
    chunk: list[Operation] = []
    for group in groups:
        if len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk
