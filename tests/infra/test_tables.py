"""The tables in template.yaml are the ones the code is written and tested against.

``adapters/dynamodb/table.py`` defines each table once; the integration tests create their
tables from it. Here the deployed tables must match it in everything the code relies on:
keys, attribute types, indexes and their projections, stream view type and TTL attribute.
"""

from __future__ import annotations

from typing import Any

import pytest

from taskapi.adapters.dynamodb.table import IDEMPOTENCY_TABLE, TASKS_TABLE, TableDefinition
from tests.infra.cfn import deployed

TABLES = [("TasksTable", TASKS_TABLE), ("IdempotencyTable", IDEMPOTENCY_TABLE)]


def _shape(table: dict[str, Any]) -> dict[str, Any]:
    """The parts of a table definition the code depends on, in a comparable form (lists whose
    order carries no meaning become sorted)."""
    stream = table.get("StreamSpecification")
    return {
        "BillingMode": table.get("BillingMode"),
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
        ),
        "GlobalSecondaryIndexes": {
            index["IndexName"]: {
                "KeySchema": index["KeySchema"],
                "ProjectionType": index["Projection"]["ProjectionType"],
                "NonKeyAttributes": sorted(index["Projection"].get("NonKeyAttributes", [])),
            }
            for index in table.get("GlobalSecondaryIndexes", [])
        },
        "StreamViewType": None if stream is None else stream["StreamViewType"],
    }


@pytest.mark.parametrize(("logical_id", "definition"), TABLES)
def test_the_deployed_table_matches_the_shared_definition(
    logical_id: str, definition: TableDefinition
) -> None:
    deployed_table = deployed()["Resources"][logical_id]["Properties"]
    expected = definition.create_table_request("any-name")

    assert _shape(deployed_table) == _shape(dict(expected))


@pytest.mark.parametrize(("logical_id", "definition"), TABLES)
def test_the_deployed_ttl_attribute_is_the_shared_one(
    logical_id: str, definition: TableDefinition
) -> None:
    ttl = deployed()["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")

    assert definition.ttl_attribute is not None
    assert ttl == {"AttributeName": definition.ttl_attribute, "Enabled": True}


def test_the_tasks_table_is_recoverable_and_encrypted() -> None:
    table = deployed()["Resources"]["TasksTable"]["Properties"]

    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["StreamSpecification"]["StreamViewType"] in {"NEW_IMAGE", "NEW_AND_OLD_IMAGES"}


def test_the_functions_receive_the_deployed_table_names() -> None:
    resources = deployed()["Resources"]
    variables = {
        name: resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    table_refs = {
        value["Ref"]
        for env in variables.values()
        for key, value in env.items()
        if key in {"TASKAPI_TABLE_NAME", "TASKAPI_IDEMPOTENCY_TABLE_NAME"}
    }

    assert table_refs == {"TasksTable", "IdempotencyTable"}
    assert all(
        env.get("TASKAPI_TABLE_NAME", {"Ref": "TasksTable"}) == {"Ref": "TasksTable"}
        for env in variables.values()
    )
