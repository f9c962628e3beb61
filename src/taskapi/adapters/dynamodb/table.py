"""The DynamoDB tables of taskapi, defined once.

``TASKS_TABLE`` is the single table of the task store (keys, global secondary indexes, stream,
TTL); ``IDEMPOTENCY_TABLE`` holds Powertools' idempotency records for the API. Tests and local
tooling create tables from these definitions, and the SAM template is checked against them, so
the code and the deployed tables cannot drift apart. The item layout that lives in these keys
(``TASK#<id>``, ``DEPENDENT#<id>``, ...) belongs to ``items.py``; docs/aws.md
describes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
        KeySchemaElementTypeDef,
        ProjectionTypeDef,
    )

# -- attribute names of the task table ------------------------------------------------------
PK = "PK"
SK = "SK"
# ByCreatedAt: every task under one partition key, sorted by "<created_at>#<task_id>".
LIST_PK = "list_pk"
LIST_SK = "list_sk"
# ByAssignee: only tasks with an assignee (a sparse index), same sort key.
ASSIGNEE_PK = "assignee_pk"
# PendingOutbox: outbox items not yet delivered, in commit order (polling mode only).
OUTBOX_PK = "outbox_pk"
OUTBOX_SK = "outbox_sk"
# Epoch seconds after which DynamoDB may delete an outbox item (stream mode only).
EXPIRES_AT = "expires_at"

BY_CREATED_AT = "ByCreatedAt"
BY_ASSIGNEE = "ByAssignee"
PENDING_OUTBOX = "PendingOutbox"

ProjectionType = Literal["ALL", "KEYS_ONLY", "INCLUDE"]


@dataclass(frozen=True, slots=True)
class GlobalIndex:
    name: str
    partition_key: str
    sort_key: str
    projection: ProjectionType
    # Only for INCLUDE: the attributes copied into the index besides the keys.
    non_key_attributes: tuple[str, ...] = ()

    def to_request(self) -> GlobalSecondaryIndexTypeDef:
        projection: ProjectionTypeDef = {"ProjectionType": self.projection}
        if self.non_key_attributes:
            projection["NonKeyAttributes"] = list(self.non_key_attributes)
        return {
            "IndexName": self.name,
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
            "Projection": projection,
        }


@dataclass(frozen=True, slots=True)
class TableDefinition:
    """One table's shape. Every key attribute (table and indexes) is a string."""

    partition_key: str
    sort_key: str | None = None
    indexes: tuple[GlobalIndex, ...] = ()
    stream_view_type: Literal["NEW_IMAGE", "NEW_AND_OLD_IMAGES"] | None = None
    ttl_attribute: str | None = None

    @property
    def key_attributes(self) -> tuple[str, ...]:
        names = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return tuple(dict.fromkeys(names))

    def create_table_request(self, table_name: str) -> CreateTableInputTypeDef:
        """The ``CreateTable`` request for this definition (on-demand capacity). TTL is not
        part of ``CreateTable``: ``create_table`` below enables it afterwards."""
        attributes: list[AttributeDefinitionTypeDef] = [
            {"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes
        ]
        request: CreateTableInputTypeDef = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": attributes,
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [index.to_request() for index in self.indexes]
        if self.stream_view_type is not None:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view_type,
            }
        return request


def _key_schema(partition_key: str, sort_key: str | None) -> list[KeySchemaElementTypeDef]:
    schema: list[KeySchemaElementTypeDef] = [{"AttributeName": partition_key, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
    return schema


TASKS_TABLE = TableDefinition(
    partition_key=PK,
    sort_key=SK,
    indexes=(
        # Slim listing indexes: they carry only what ordering and filtering need, so a write
        # that changes neither (title, description, dependencies, ...) never touches them;
        # a listing fetches the page's items with one BatchGetItem.
        GlobalIndex(
            BY_CREATED_AT,
            LIST_PK,
            LIST_SK,
            "INCLUDE",
            non_key_attributes=("status", "priority", "assignee"),
        ),
        GlobalIndex(
            BY_ASSIGNEE, ASSIGNEE_PK, LIST_SK, "INCLUDE", non_key_attributes=("status", "priority")
        ),
        GlobalIndex(PENDING_OUTBOX, OUTBOX_PK, OUTBOX_SK, "KEYS_ONLY"),
    ),
    # The relay needs the outbox item as written; nothing needs the old image.
    stream_view_type="NEW_IMAGE",
    ttl_attribute=EXPIRES_AT,
)

# Powertools' DynamoDBPersistenceLayer with its default attribute names: key "id", TTL on
# "expiration" (epoch seconds).
IDEMPOTENCY_TABLE = TableDefinition(partition_key="id", ttl_attribute="expiration")


def create_table(client: DynamoDBClient, definition: TableDefinition, table_name: str) -> None:
    """Create ``table_name`` from ``definition``, wait until it is active, enable its TTL.

    For tests and local tooling; in AWS the tables come from the SAM template.
    """
    client.create_table(**definition.create_table_request(table_name))
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    if definition.ttl_attribute is not None:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )
