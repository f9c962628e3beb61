"""The item layout of the task table: keys, attribute names, and how tasks and events become
items and back. One place, shared by the adapters, the relay (through bootstrap), the
benchmarks and the tests. ``docs/aws.md#the-table`` draws the layout (every item's PK and SK:
workspaces, members by workspace and by member, tasks and reverse edges under ``WS#<ws>``,
outbox events, Idempotency-Key records).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from taskapi.adapters.dynamodb.table import ASSIGNEE_PK, LIST_PK, LIST_SK, PK, SK
from taskapi.domain.model import FROM_STORE, Task, to_utc
from taskapi.domain.workspaces import Membership, Role, Workspace

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from taskapi.domain.event_readers import EventEnvelope

    Item = Mapping[str, AttributeValueTypeDef]

# -- item layout -----------------------------------------------------------------------------
WORKSPACE_PREFIX: Final = "WS#"
WORKSPACE_SK: Final = "WORKSPACE"
GRAPH_SK: Final = "GRAPH"
MEMBER_PREFIX: Final = "MEMBER#"
JOINED_PREFIX: Final = "JOINED#"
REMOVED_SK: Final = "REMOVED"
TASK_INFIX: Final = "#TASK#"
TASK_SK: Final = "TASK"
DEPENDENT_PREFIX: Final = "DEPENDENT#"
OUTBOX_PREFIX: Final = "OUTBOX#"
OUTBOX_ITEM_SK: Final = "OUTBOX"
# The ByCreatedAt partition of the workspace directory (every workspace item, by id); each
# workspace's tasks are the partition "WS#<ws>" of the same index.
ALL_WORKSPACES: Final = "WORKSPACES"
ASSIGNEE_INFIX: Final = "#ASSIGNEE#"
# The partition key values of the PendingOutbox index (polling mode): events to deliver,
# under one of OUTBOX_SHARDS partitions "PENDING#<n>" (n from the event id), each sorted by
# when its events are due; and the dead letters under "DEAD", sorted by when they were set
# aside. A reader merges the shards by sort key: the order of one unsharded partition.
PENDING_PREFIX: Final = "PENDING#"
OUTBOX_SHARDS: Final = 4
DEAD: Final = "DEAD"

# Attributes besides the task's own fields.
DEPENDENTS_GENERATION: Final = "dependents_generation"
# On a workspace item: how many tasks it holds (every create and delete moves it, in the
# task's transaction), so a removal can be conditional on it being 0.
TASK_COUNT: Final = "task_count"
GRAPH_GENERATION: Final = "generation"
DEPENDENT_ID: Final = "dependent_id"
TENTATIVE: Final = "tentative"
TENTATIVE_SINCE: Final = "tentative_since"
# On a task or workspace item: the commit that wrote it (its first event id, or a fresh id),
# for retried commits.
COMMIT_ID: Final = "commit_id"

TASK_FIELDS: Final = tuple(Task.model_fields)
WORKSPACE_FIELDS: Final = tuple(Workspace.model_fields)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# -- encoding --------------------------------------------------------------------------------


def encode(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def decode(item: Item) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def string(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def number(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def workspace_pk(workspace_id: UUID) -> str:
    return f"{WORKSPACE_PREFIX}{workspace_id}"


def task_pk(workspace_id: UUID, task_id: UUID) -> str:
    """A task's partition: its workspace, then its id (two workspaces may hold one id)."""
    return f"{WORKSPACE_PREFIX}{workspace_id}{TASK_INFIX}{task_id}"


def task_key(workspace_id: UUID, task_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(task_pk(workspace_id, task_id)), SK: string(TASK_SK)}


def edge_key(
    workspace_id: UUID, dependency: UUID, dependent: UUID
) -> dict[str, AttributeValueTypeDef]:
    return {
        PK: string(task_pk(workspace_id, dependency)),
        SK: string(f"{DEPENDENT_PREFIX}{dependent}"),
    }


def outbox_key(event_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(f"{OUTBOX_PREFIX}{event_id}"), SK: string(OUTBOX_ITEM_SK)}


def workspace_key(workspace_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(workspace_pk(workspace_id)), SK: string(WORKSPACE_SK)}


def graph_key(workspace_id: UUID) -> dict[str, AttributeValueTypeDef]:
    """The workspace's graph generation: dependencies never cross a workspace, so neither
    can a cycle, and edits in different workspaces never wait for each other."""
    return {PK: string(workspace_pk(workspace_id)), SK: string(GRAPH_SK)}


def tombstone_key(workspace_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(workspace_pk(workspace_id)), SK: string(REMOVED_SK)}


def member_key(workspace_id: UUID, member: str) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(workspace_pk(workspace_id)), SK: string(f"{MEMBER_PREFIX}{member}")}


def member_pk(member: str) -> str:
    return f"{MEMBER_PREFIX}{member}"


def joined_sort_key(added_at: datetime, workspace_id: UUID | str) -> str:
    """``JOINED#<added_at>#<ws>``: a member's workspaces in (added_at, workspace id) order."""
    return f"{JOINED_PREFIX}{to_utc(added_at).isoformat(timespec='microseconds')}#{workspace_id}"


def joined_key(
    member: str, added_at: datetime, workspace_id: UUID
) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(member_pk(member)), SK: string(joined_sort_key(added_at, workspace_id))}


def tasks_partition(workspace_id: UUID) -> str:
    """The ByCreatedAt partition of a workspace's tasks."""
    return f"{WORKSPACE_PREFIX}{workspace_id}"


def assignee_partition(workspace_id: UUID, assignee: str) -> str:
    return f"{WORKSPACE_PREFIX}{workspace_id}{ASSIGNEE_INFIX}{assignee}"


def pending_partition(event_id: UUID) -> str:
    """The PendingOutbox shard of an event (stable: a function of its id alone)."""
    return f"{PENDING_PREFIX}{zlib.crc32(event_id.bytes) % OUTBOX_SHARDS}"


def pending_partitions() -> list[str]:
    return [f"{PENDING_PREFIX}{shard}" for shard in range(OUTBOX_SHARDS)]


def list_sort_key(created_at: datetime, task_id: UUID | str) -> str:
    """``<created_at>#<task_id>``: fixed-width UTC timestamp, so the string order is the
    (created_at, task_id) order of every other store."""
    return f"{to_utc(created_at).isoformat(timespec='microseconds')}#{task_id}"


def task_values(workspace_id: UUID, task: Task) -> dict[str, Any]:
    """The task item's attributes, keyed under ``workspace_id`` (the unit of work's); ``None``
    marks an optional field that is not set."""
    values: dict[str, Any] = task.model_dump(mode="json")
    values |= {
        PK: task_pk(workspace_id, task.task_id),
        SK: TASK_SK,
        LIST_PK: tasks_partition(workspace_id),
        LIST_SK: list_sort_key(task.created_at, task.task_id),
        ASSIGNEE_PK: None
        if task.assignee is None
        else assignee_partition(workspace_id, task.assignee),
    }
    return values


def workspace_values(workspace: Workspace) -> dict[str, Any]:
    """The workspace item's attributes (without ``task_count``, which task writes keep)."""
    values: dict[str, Any] = workspace.model_dump(mode="json")
    values |= {
        PK: workspace_pk(workspace.workspace_id),
        SK: WORKSPACE_SK,
        LIST_PK: ALL_WORKSPACES,
        LIST_SK: str(workspace.workspace_id),
    }
    return values


def workspace_from_record(record: Mapping[str, Any]) -> Workspace:
    values = {name: record[name] for name in WORKSPACE_FIELDS if name in record}
    values["version"] = int(record["version"])
    return Workspace.model_validate(values)


def membership_values(membership: Membership) -> dict[str, Any]:
    """The attributes a member item and its inverted (by member) item both carry."""
    return {
        "workspace_id": str(membership.workspace_id),
        "member": membership.member,
        "role": membership.role.value,
        "added_at": to_utc(membership.added_at).isoformat(),
    }


def membership_from_record(record: Mapping[str, Any]) -> Membership:
    return Membership(
        workspace_id=UUID(str(record["workspace_id"])),
        member=str(record["member"]),
        role=Role(str(record["role"])),
        added_at=datetime.fromisoformat(str(record["added_at"])),
    )


def task_from_record(record: Mapping[str, Any]) -> Task:
    """A task from a decoded task item (extra attributes such as index keys are ignored)."""
    values = {name: record[name] for name in TASK_FIELDS if name in record}
    values["version"] = int(record["version"])  # DynamoDB numbers decode as Decimal
    return Task.model_validate(values, context=FROM_STORE)


def outbox_event_from_image(image: Mapping[str, Any]) -> EventEnvelope | None:
    """The event of an outbox item's stream image (already decoded), or ``None`` if the
    image is some other item. The relay only forwards it, so only its envelope is read: an
    event of a later release (new fields, values, types) is published as it was committed.
    An item without a valid envelope raises ``ValueError``."""
    if not str(image.get(PK, "")).startswith(OUTBOX_PREFIX):
        return None
    # The event readers only here: the API writes outbox items and never reads one back.
    from taskapi.domain.event_readers import read_envelope  # noqa: PLC0415

    try:
        return read_envelope(str(image["event"]))
    except (KeyError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise ValueError(f"malformed outbox item {image.get(PK)!r}") from exc
