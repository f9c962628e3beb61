"""A table written before workspaces, migrated: its tasks, edges, graph counter and pending
outbox items become one workspace's (adapters/dynamodb/migrate.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest
from boto3.dynamodb.types import TypeSerializer

from taskapi.adapters.dynamodb.migrate import migrate
from taskapi.domain.errors import WorkspaceNotEmpty
from taskapi.service.ports import TaskFilter
from tests.fakes.builders import OWNER, created_event, make_task, make_workspace
from tests.integration.dynamodb_store import store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration
_serializer = TypeSerializer()


def put(client: DynamoDBClient, table: str, values: dict[str, Any]) -> None:
    item = {k: _serializer.serialize(v) for k, v in values.items() if v is not None}
    client.put_item(TableName=table, Item=item)  # type: ignore[arg-type]


def old_task(client: DynamoDBClient, table: str, title: str, deps: tuple[UUID, ...] = ()) -> UUID:
    """A task item as the release before workspaces wrote it."""
    task = make_task(title=title, dependencies=deps, assignee="ana@example.com")
    values = task.model_dump(mode="json")
    del values["workspace_id"]
    put(
        client,
        table,
        values
        | {
            "PK": f"TASK#{task.task_id}",
            "SK": "TASK",
            "list_pk": "TASK",
            "list_sk": f"{task.created_at.isoformat(timespec='microseconds')}#{task.task_id}",
            "assignee_pk": "ASSIGNEE#ana@example.com",
            "dependents_generation": len(deps),
        },
    )
    for dep in deps:
        put(
            client,
            table,
            {
                "PK": f"TASK#{dep}",
                "SK": f"DEPENDENT#{task.task_id}",
                "dependent_id": str(task.task_id),
            },
        )
    return task.task_id


def test_a_pre_workspace_table_becomes_one_workspace(
    dynamodb_client: DynamoDBClient, tasks_table: str
) -> None:
    first = old_task(dynamodb_client, tasks_table, "first")
    second = old_task(dynamodb_client, tasks_table, "second", (first,))
    put(dynamodb_client, tasks_table, {"PK": "GRAPH", "SK": "GRAPH", "generation": 7})
    event = created_event(make_task())
    put(
        dynamodb_client,
        tasks_table,
        {
            "PK": f"OUTBOX#{event.event_id}",
            "SK": "OUTBOX",
            "event_id": str(event.event_id),
            "event_type": event.event_type,
            "event": event.model_dump_json(),
            "attempts": 0,
            "outbox_pk": "PENDING",
            "outbox_sk": f"{1:020d}#000",
        },
    )
    workspace = make_workspace(workspace_id=uuid4())

    result = migrate(dynamodb_client, tasks_table, workspace, OWNER, delete_old=True)

    assert (result.tasks, result.edges, result.pending_events) == (2, 1, 1)
    factory = store(dynamodb_client, tasks_table, create_workspace=False)
    with factory(workspace.workspace_id) as uow:
        assert uow.workspaces.get(workspace.workspace_id) == workspace
        assert uow.workspaces.owners(workspace.workspace_id) == [OWNER]
        found = uow.tasks.get(second)
        assert found is not None
        assert found.workspace_id == workspace.workspace_id
        assert found.dependencies == (first,)
        assert uow.tasks.dependents_of(first) == [second]
        listed = uow.tasks.find(TaskFilter(assignee="ana@example.com"), 10, None).tasks
        assert {t.task_id for t in listed} == {first, second}
        assert uow.tasks.graph_generation is None
        assert uow.tasks.observe_graph() == 8
    assert [r.event.event_id for r in factory.outbox_reader().pending(10)] == [event.event_id]
    with factory(None) as uow:
        uow.workspaces.remove(workspace)
        with pytest.raises(WorkspaceNotEmpty):  # task_count came across
            uow.commit()
    leftovers = dynamodb_client.scan(TableName=tasks_table)["Items"]
    assert not [i for i in leftovers if i["PK"]["S"].startswith("TASK#") or i["PK"]["S"] == "GRAPH"]
