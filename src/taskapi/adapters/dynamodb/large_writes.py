"""Writes too large for one DynamoDB transaction (100 items): the tentative-edge protocol.

A task may have 100 dependencies; replacing them all is 100 edges added (each with its claim)
and 100 removed, 300 items. The task write and its event must still commit atomically, so the
edges that do not fit around them go first, as *tentative* edges a reader does not believe:

1. The commit plan is guarded by the graph generation (read before anything is written).
2. New reverse edges are put as tentative (marked with this write's token), each with its
   dependency's claim, in chunks of 100 items. A dependency that vanished fails its chunk:
   ``DependenciesNotFound``, nothing committed. Removed edges that will not fit in the final
   transaction are re-put as tentative too.
3. The task writes, their events, the graph condition and as many removed edges as fit commit
   in one transaction: the write is done.
4. Best effort, afterwards: this write's tentative edges are settled (added ones confirmed,
   left-over removed ones deleted), each only if it still carries this write's token. If that
   fails, readers keep verifying them: slower, never wrong.

``dependents_of`` checks a tentative edge against the dependent's own task item, and a delete
that relied on such a check is conditional on the graph generation too: it cannot slip in
between steps 2 and 3 of a write in flight (one of the two fails on the generation).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskapi.adapters.dynamodb.client import (
    MAX_TRANSACTION_ITEMS,
    ConditionsFailed,
    DynamoDbTable,
)
from taskapi.adapters.dynamodb.items import TENTATIVE, edge_key, string
from taskapi.adapters.dynamodb.writes import CommitPlan, Operation, chunk_groups, edge_put
from taskapi.service.ports import StoreFailure, StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)


def commit_in_steps(
    table: DynamoDbTable, plan: CommitPlan, transact: Callable[[list[Operation]], None]
) -> None:
    """Commit ``plan`` (graph-guarded, its core within one transaction) in the steps above.
    ``transact`` commits a list of operations, raising the domain error of a failed one."""
    assert plan.graph_guarded, "the final commit must be conditional on the graph generation"
    token = uuid.uuid4().hex
    room = MAX_TRANSACTION_ITEMS - len(plan.core)
    removed_now, removed_later = plan.removed_edges[:room], plan.removed_edges[room:]
    added = [group[0] for group in plan.added_edges]  # each group: the edge, then its claim
    ahead = [[_tentative(table.name, group[0], token), *group[1:]] for group in plan.added_edges]
    ahead += [[_tentative(table.name, edge, token)] for edge in removed_later]
    for chunk in chunk_groups(ahead, MAX_TRANSACTION_ITEMS):
        transact(chunk)
    transact([*plan.core, *removed_now])
    settle = [_settle(table.name, edge, token, keep=True) for edge in added]
    settle += [_settle(table.name, edge, token, keep=False) for edge in removed_later]
    for start in range(0, len(settle), MAX_TRANSACTION_ITEMS):
        try:
            table.transact(settle[start : start + MAX_TRANSACTION_ITEMS])
        except (ConditionsFailed, StoreUnavailable, StoreFailure):
            logger.warning("tentative edges left unsettled; readers verify them", exc_info=True)
            return


def _tentative(table: str, edge: Operation, token: str) -> Operation:
    """The same edge, put and marked tentative with the writer's token."""
    assert edge.dependency is not None
    assert edge.dependent is not None
    return edge_put(table, edge.dependency, edge.dependent, tentative_token=token)


def _settle(table: str, edge: Operation, token: str, *, keep: bool) -> TransactWriteItemTypeDef:
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
