"""Writes too large for one DynamoDB transaction (100 items): the tentative-edge protocol.

The edges that do not fit beside the task write and its event are written first as tentative
edges (marked with this write's token) that readers verify and never believe; the task write,
its events and the graph condition then commit in one transaction; afterwards, best effort,
the tentative edges are settled. The steps and why they are safe:
docs/aws.md#the-100-item-transaction-limit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from taskapi.adapters.dynamodb.client import (
    MAX_TRANSACTION_ITEMS,
    ConditionsFailed,
    DynamoDbTable,
)
from taskapi.adapters.dynamodb.writes import (
    CommitPlan,
    Operation,
    chunk_groups,
    edge_put,
    settle_edge,
)
from taskapi.service.ports import StoreFailure, StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)


def commit_in_steps(
    table: DynamoDbTable,
    plan: CommitPlan,
    transact: Callable[[list[Operation]], None],
    now: datetime,
) -> None:
    """Commit ``plan`` (graph-guarded, its core within one transaction) in the steps above.
    ``transact`` commits a list of operations, raising the domain error of a failed one."""
    assert plan.graph_guarded, "the final commit must be conditional on the graph generation"
    token = uuid.uuid4().hex
    room = MAX_TRANSACTION_ITEMS - len(plan.core)
    removed_now, removed_later = plan.removed_edges[:room], plan.removed_edges[room:]
    added = [group[0] for group in plan.added_edges]  # each group: the edge, then its claim
    since = int(now.timestamp())
    ahead = [
        [_tentative(table.name, group[0], token, since), *group[1:]] for group in plan.added_edges
    ]
    ahead += [[_tentative(table.name, edge, token, since)] for edge in removed_later]
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


def _tentative(table: str, edge: Operation, token: str, since: int) -> Operation:
    """The same edge, put and marked tentative with the writer's token."""
    assert edge.dependency is not None
    assert edge.dependent is not None
    assert edge.workspace_id is not None
    return edge_put(
        table,
        edge.workspace_id,
        edge.dependency,
        edge.dependent,
        tentative_token=token,
        tentative_since=since,
    )


def _settle(table: str, edge: Operation, token: str, *, keep: bool) -> TransactWriteItemTypeDef:
    assert edge.dependency is not None
    assert edge.dependent is not None
    assert edge.workspace_id is not None
    return settle_edge(table, edge.workspace_id, edge.dependency, edge.dependent, token, keep=keep)
