"""The item layout of the task table: keys, attribute names, and how tasks and events become
items and back. One place, shared by the adapters, the relay (through bootstrap), the
benchmarks and the tests; ``docs/aws.md`` draws the same layout.

    PK                  SK                  what
    TASK#<id>           TASK                the task; also carries the listing index keys
    TASK#<dep>          DEPENDENT#<id>      reverse edge: task <id> depends on <dep>
    OUTBOX#<event_id>   OUTBOX              an event committed with its change
    GRAPH               GRAPH               generation counter of the dependency graph
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from taskapi.adapters.dynamodb.table import ASSIGNEE_PK, LIST_PK, LIST_SK, PK, SK
from taskapi.domain.event_readers import EventEnvelope, read_envelope
from taskapi.domain.model import Task, to_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Item = Mapping[str, AttributeValueTypeDef]

# -- item layout -----------------------------------------------------------------------------
TASK_PREFIX: Final = "TASK#"
TASK_SK: Final = "TASK"
DEPENDENT_PREFIX: Final = "DEPENDENT#"
OUTBOX_PREFIX: Final = "OUTBOX#"
OUTBOX_ITEM_SK: Final = "OUTBOX"
GRAPH_ID: Final = "GRAPH"
ALL_TASKS: Final = "TASK"  # the one partition key value of the ByCreatedAt index
ASSIGNEE_PREFIX: Final = "ASSIGNEE#"
# The partition key values of the PendingOutbox index (polling mode): events to deliver,
# sorted by when they are due, and the dead letters, sorted by when they were set aside.
PENDING: Final = "PENDING"
DEAD: Final = "DEAD"

# Attributes besides the task's own fields.
DEPENDENTS_GENERATION: Final = "dependents_generation"
GRAPH_GENERATION: Final = "generation"
DEPENDENT_ID: Final = "dependent_id"
TENTATIVE: Final = "tentative"
TENTATIVE_SINCE: Final = "tentative_since"
# On a task item: the commit that wrote it (its first event id), for retried commits.
COMMIT_ID: Final = "commit_id"

TASK_FIELDS: Final = tuple(Task.model_fields)

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


def task_key(task_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(f"{TASK_PREFIX}{task_id}"), SK: string(TASK_SK)}


def edge_key(dependency: UUID, dependent: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(f"{TASK_PREFIX}{dependency}"), SK: string(f"{DEPENDENT_PREFIX}{dependent}")}


def outbox_key(event_id: UUID) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(f"{OUTBOX_PREFIX}{event_id}"), SK: string(OUTBOX_ITEM_SK)}


GRAPH_KEY: Final[dict[str, AttributeValueTypeDef]] = {PK: string(GRAPH_ID), SK: string(GRAPH_ID)}


def list_sort_key(created_at: datetime, task_id: UUID | str) -> str:
    """``<created_at>#<task_id>``: fixed-width UTC timestamp, so the string order is the
    (created_at, task_id) order of every other store."""
    return f"{to_utc(created_at).isoformat(timespec='microseconds')}#{task_id}"


def task_values(task: Task) -> dict[str, Any]:
    """The task item's attributes; ``None`` marks an optional field that is not set."""
    values: dict[str, Any] = task.model_dump(mode="json")
    values |= {
        PK: f"{TASK_PREFIX}{task.task_id}",
        SK: TASK_SK,
        LIST_PK: ALL_TASKS,
        LIST_SK: list_sort_key(task.created_at, task.task_id),
        ASSIGNEE_PK: None if task.assignee is None else f"{ASSIGNEE_PREFIX}{task.assignee}",
    }
    return values


def task_from_record(record: Mapping[str, Any]) -> Task:
    """A task from a decoded task item (extra attributes such as index keys are ignored)."""
    values = {name: record[name] for name in TASK_FIELDS if name in record}
    values["version"] = int(record["version"])  # DynamoDB numbers decode as Decimal
    return Task.model_validate(values)


def outbox_event_from_image(image: Mapping[str, Any]) -> EventEnvelope | None:
    """The event of an outbox item's stream image (already decoded), or ``None`` if the
    image is some other item. The relay only forwards it, so only its envelope is read: an
    event of a later release (new fields, values, types) is published as it was committed.
    An item without a valid envelope raises ``ValueError``."""
    if not str(image.get(PK, "")).startswith(OUTBOX_PREFIX):
        return None
    try:
        return read_envelope(str(image["event"]))
    except (KeyError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise ValueError(f"malformed outbox item {image.get(PK)!r}") from exc
