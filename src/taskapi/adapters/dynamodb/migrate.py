"""Migrate a table written before workspaces: its tasks move into one workspace.

    python -m taskapi.adapters.dynamodb.migrate --table taskapi --owner cognito:<sub> \\
        --name "Everything before workspaces" [--endpoint-url URL] [--delete-old]

Tasks, edges, the graph counter and pending outbox items are copied under ``WS#<ws>``; old
items are deleted only by a second run with ``--delete-old``, once the copy is checked. Writes
must be stopped meanwhile. See docs/aws.md#existing-tables-a-migration.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from taskapi.adapters.dynamodb.items import (
    COMMIT_ID,
    DEPENDENT_PREFIX,
    GRAPH_GENERATION,
    TASK_COUNT,
    TASK_SK,
    decode,
    encode,
    graph_key,
    joined_key,
    member_key,
    membership_values,
    pending_partition,
    task_values,
    workspace_values,
)
from taskapi.adapters.dynamodb.items import task_from_record as _task_from_record
from taskapi.adapters.dynamodb.table import OUTBOX_PK, PK, SK
from taskapi.domain.model import Task
from taskapi.domain.workspaces import Membership, Role, Workspace

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

OLD_TASK_PREFIX: Final = "TASK#"
OLD_GRAPH: Final = "GRAPH"
OLD_PENDING: Final = "PENDING"
BATCH_WRITE_ITEMS: Final = 25


@dataclass
class Migration:
    """What a run found and did."""

    workspace: Workspace
    tasks: int = 0
    edges: int = 0
    pending_events: int = 0
    deleted: int = 0
    old_keys: list[dict[str, AttributeValueTypeDef]] = field(default_factory=list)


def migrate(
    client: DynamoDBClient,
    table: str,
    workspace: Workspace,
    owner: str,
    *,
    delete_old: bool = False,
) -> Migration:
    """Copy the pre-workspace items of ``table`` into ``workspace`` (created, owned by
    ``owner``); with ``delete_old``, delete the old items afterwards."""
    workspace_id = workspace.workspace_id
    result = Migration(workspace)
    puts: list[dict[str, AttributeValueTypeDef]] = []
    generation = 0
    for item in _scan(client, table):
        pk, sk = str(item[PK]["S"]), str(item[SK]["S"])
        if pk.startswith(OLD_TASK_PREFIX) and sk == TASK_SK:
            puts.append(_task_item(workspace_id, item))
            result.tasks += 1
        elif pk.startswith(OLD_TASK_PREFIX) and sk.startswith(DEPENDENT_PREFIX):
            dependency = uuid.UUID(pk.removeprefix(OLD_TASK_PREFIX))
            moved = dict(item) | {PK: {"S": f"WS#{workspace_id}#TASK#{dependency}"}}
            puts.append(moved)
            result.edges += 1
        elif pk == OLD_GRAPH and sk == OLD_GRAPH:
            generation = int(decode(item)[GRAPH_GENERATION])
        elif item.get(OUTBOX_PK, {}).get("S") == OLD_PENDING:
            event_id = uuid.UUID(str(item["event_id"]["S"]))
            puts.append(dict(item) | {OUTBOX_PK: {"S": pending_partition(event_id)}})
            result.pending_events += 1
            continue  # the same key: nothing to delete
        else:
            continue
        result.old_keys.append({PK: item[PK], SK: item[SK]})
    membership = Membership(
        workspace_id=workspace_id, member=owner, role=Role.OWNER, added_at=workspace.created_at
    )
    member_values = encode(membership_values(membership))
    puts += [
        encode(workspace_values(workspace) | {TASK_COUNT: result.tasks, COMMIT_ID: "migration"}),
        {**member_key(workspace_id, owner), **member_values},
        {**joined_key(owner, membership.added_at, workspace_id), **member_values},
        {**graph_key(workspace_id), GRAPH_GENERATION: {"N": str(generation + 1)}},
    ]
    _batch(client, table, [{"PutRequest": {"Item": item}} for item in puts])
    if delete_old:
        _batch(client, table, [{"DeleteRequest": {"Key": key}} for key in result.old_keys])
        result.deleted = len(result.old_keys)
    return result


def _task_item(
    workspace_id: uuid.UUID, item: dict[str, AttributeValueTypeDef]
) -> dict[str, AttributeValueTypeDef]:
    record = decode(item)
    task: Task = _task_from_record(record | {"workspace_id": str(workspace_id)})
    values = {k: v for k, v in task_values(workspace_id, task).items() if v is not None}
    # Keep what other writers maintain (dependents_generation, commit_id, ...).
    kept = {k: v for k, v in record.items() if k not in values and k not in _REWRITTEN}
    return encode(kept | values)


_REWRITTEN: Final = frozenset({PK, SK, "list_pk", "list_sk", "assignee_pk"})


def _scan(client: DynamoDBClient, table: str) -> Iterator[dict[str, AttributeValueTypeDef]]:
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page["Items"]


def _batch(client: DynamoDBClient, table: str, requests: Sequence[Any]) -> None:
    for start in range(0, len(requests), BATCH_WRITE_ITEMS):
        pending: Any = list(requests[start : start + BATCH_WRITE_ITEMS])
        while pending:
            response = client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a thin CLI
    import boto3  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="migrate", description=__doc__)
    parser.add_argument("--table", required=True)
    parser.add_argument("--owner", required=True, help="cognito:<sub> or iam:<principal ARN>")
    parser.add_argument("--name", default="Tasks before workspaces")
    parser.add_argument("--workspace-id", type=uuid.UUID, default=None)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--delete-old", action="store_true")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    workspace = Workspace(
        workspace_id=args.workspace_id or uuid.uuid4(),
        name=args.name, created_at=now, updated_at=now, version=1,
    )  # fmt: skip
    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    result = migrate(client, args.table, workspace, args.owner, delete_old=args.delete_old)
    print(
        f"workspace {workspace.workspace_id}: {result.tasks} tasks, {result.edges} edges, "
        f"{result.pending_events} pending events moved to their shard, "
        f"{result.deleted} old items deleted"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
