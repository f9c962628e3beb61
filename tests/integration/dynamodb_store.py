"""Builders shared by the DynamoDB integration tests: the production adapters on a test table,
and a round-trip counter that reads botocore's own events."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory, OutboxMode
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import UnitOfWorkFactory
from taskapi.service.tasks import TaskService
from tests.moto_server import EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PAGE_TOKEN_SECRET = b"integration-page-token-secret"


def store(
    client: DynamoDBClient,
    table: str,
    *,
    outbox_mode: OutboxMode = "polling",
    bus: str = "taskapi-test",
) -> DynamoDbUnitOfWorkFactory:
    return DynamoDbUnitOfWorkFactory(
        client,
        table,
        EventEntryBuilder(source=EVENT_SOURCE, event_bus_name=bus),
        outbox_mode=outbox_mode,
    )


def service(uow_factory: UnitOfWorkFactory) -> TaskService:
    return TaskService(
        uow_factory=uow_factory,
        clock=lambda: datetime.now(UTC),
        new_id=uuid.uuid4,
        page_tokens=PageTokenCodec(PAGE_TOKEN_SECRET),
    )


class RoundTrips:
    """Counts the DynamoDB calls a client makes, by operation, from botocore's
    ``before-call`` event (one per API call, however many retries it takes)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def counting(client: DynamoDBClient) -> Iterator[RoundTrips]:
    counter = RoundTrips()
    client.meta.events.register("before-call.dynamodb.*", counter)
    try:
        yield counter
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", counter)
