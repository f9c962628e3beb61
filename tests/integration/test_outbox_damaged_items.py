"""The polled DynamoDB outbox and items no writer of ours makes: an outbox item without its
``event`` attribute, or with an ``event_id`` that is not a UUID or not its key's. Each is set
aside as a dead letter (under its key's id) and every other event is still delivered: one bad
item must not stop the outbox (docs/events.md, the local outbox)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest

from taskapi.adapters.dynamodb.items import OUTBOX_ITEM_SK, OUTBOX_PREFIX, encode, pending_partition
from taskapi.adapters.dynamodb.table import OUTBOX_PK, OUTBOX_SK, PK, SK
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from tests.contract.backends import dynamodb
from tests.contract.conftest import InDefaultWorkspace
from tests.contract.test_repository_contract import save
from tests.fakes.builders import created_event, make_task

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration

DAMAGES: dict[str, dict[str, Any]] = {
    "no event attribute": {"event": None},
    "an event_id that is not a UUID": {"event_id": "not-a-uuid"},
    "an event_id that is not its key's": {"event_id": str(uuid4())},
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_a_damaged_outbox_item_is_set_aside_and_the_others_are_delivered(
    request: pytest.FixtureRequest,
    dynamodb_client: DynamoDBClient,
    tasks_table: str,
    damage: str,
) -> None:
    backend = dynamodb(request)
    assert isinstance(backend.uow_factory, DynamoDbUnitOfWorkFactory)
    uow_factory = InDefaultWorkspace(backend.uow_factory)
    before, after = make_task(), make_task()
    save(uow_factory, before, events=(created_event(before),))
    broken = uuid4()
    item: dict[str, Any] = {
        PK: f"{OUTBOX_PREFIX}{broken}",
        SK: OUTBOX_ITEM_SK,
        "event_id": str(broken),
        "event_type": "TaskCreated",
        "event": "{}",
        "attempts": 0,
        OUTBOX_PK: pending_partition(broken),
        OUTBOX_SK: f"{time.time_ns():020d}#000",
    }
    for name, value in DAMAGES[damage].items():
        if value is None:
            del item[name]
        else:
            item[name] = value
    dynamodb_client.put_item(TableName=tasks_table, Item=encode(item))
    save(uow_factory, after, events=(created_event(after),))

    pending = backend.outbox.pending(10)

    assert [record.event.task_id for record in pending] == [before.task_id, after.task_id]
    (letter,) = backend.outbox.dead_letters()
    assert (letter.event_id, letter.event_type, letter.attempts) == (broken, "TaskCreated", 0)
    assert letter.last_error is not None
    assert letter.last_error.startswith("unreadable: the outbox item")
    assert len(backend.outbox.pending(10)) == 2  # set aside once, not met again
