"""The stores the repository contract suite runs against.

Each entry of ``BACKENDS`` is a function that builds one fresh, empty store for one test and
returns its unit-of-work factory and outbox reader. It receives the requesting test's
``pytest.FixtureRequest``, so a backend can pull in whatever fixtures it needs with
``request.getfixturevalue(...)`` (``tmp_path``, a moto server, ...) and register cleanup with
``request.addfinalizer(...)``.

To run the whole suite against another store, add ONE entry to ``BACKENDS``: a function like
``dynamodb`` below, which pulls in the fixtures it needs (a moto server, a fresh table),
builds the adapters and returns them as a ``Backend``. Mark it ``integration`` if it needs
more than the local machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.items import (
    OUTBOX_ITEM_SK,
    OUTBOX_PREFIX,
    encode,
    pending_partition,
)
from taskapi.adapters.dynamodb.table import OUTBOX_PK, OUTBOX_SK, PK, SK
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.adapters.memory import InMemoryUnitOfWorkFactory, OutboxRow
from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.service.ports import OutboxReader, UnitOfWorkFactory

# Commits one outbox record as given (event id, event type, the event's JSON), bypassing the
# unit of work: what another release, or a damaged file, can leave in the outbox.
CommitRaw = Callable[[UUID, str, str], None]


@dataclass(frozen=True)
class Backend:
    uow_factory: UnitOfWorkFactory
    outbox: OutboxReader
    commit_raw: CommitRaw


BackendFactory = Callable[[pytest.FixtureRequest], Backend]


def memory(request: pytest.FixtureRequest) -> Backend:
    factory = InMemoryUnitOfWorkFactory()
    store = factory.store

    def commit_raw(event_id: UUID, event_type: str, payload: str) -> None:
        with store.lock:
            store.outbox[event_id] = OutboxRow(payload=payload, event_type=event_type)

    return Backend(uow_factory=factory, outbox=store, commit_raw=commit_raw)


def sqlite(request: pytest.FixtureRequest) -> Backend:
    database = SqliteDatabase(request.getfixturevalue("tmp_path") / "contract.db")

    def commit_raw(event_id: UUID, event_type: str, payload: str) -> None:
        connection = database.open_connection()
        try:
            connection.execute(
                "INSERT INTO outbox (event_id, event_type, payload, created_at)"
                " VALUES (?, ?, ?, '2025-03-01T08:00:00+00:00')",
                (str(event_id), event_type, payload),
            )
        finally:
            connection.close()

    return Backend(
        uow_factory=SqliteUnitOfWorkFactory(database), outbox=database, commit_raw=commit_raw
    )


def dynamodb(request: pytest.FixtureRequest) -> Backend:
    # A fresh table on the session's moto server (tests/moto_server.py), outbox polled.
    client = request.getfixturevalue("dynamodb_client")
    table = request.getfixturevalue("tasks_table")
    factory = DynamoDbUnitOfWorkFactory(
        client,
        table,
        EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi"),
        outbox_mode="polling",
    )

    def commit_raw(event_id: UUID, event_type: str, payload: str) -> None:
        item = {
            PK: f"{OUTBOX_PREFIX}{event_id}",
            SK: OUTBOX_ITEM_SK,
            "event_id": str(event_id),
            "event_type": event_type,
            "event": payload,
            "attempts": 0,
            OUTBOX_PK: pending_partition(event_id),
            OUTBOX_SK: f"{time.time_ns():020d}#000",
        }
        client.put_item(TableName=table, Item=encode(item))

    return Backend(uow_factory=factory, outbox=factory.outbox_reader(), commit_raw=commit_raw)


BACKENDS = [
    pytest.param(memory, id="memory"),
    pytest.param(sqlite, id="sqlite"),
    pytest.param(dynamodb, id="dynamodb", marks=pytest.mark.integration),
]
