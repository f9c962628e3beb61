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

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.service.ports import OutboxReader, UnitOfWorkFactory


@dataclass(frozen=True)
class Backend:
    uow_factory: UnitOfWorkFactory
    outbox: OutboxReader


BackendFactory = Callable[[pytest.FixtureRequest], Backend]


def memory(request: pytest.FixtureRequest) -> Backend:
    factory = InMemoryUnitOfWorkFactory()
    return Backend(uow_factory=factory, outbox=factory.store)


def sqlite(request: pytest.FixtureRequest) -> Backend:
    database = SqliteDatabase(request.getfixturevalue("tmp_path") / "contract.db")
    return Backend(uow_factory=SqliteUnitOfWorkFactory(database), outbox=database)


def dynamodb(request: pytest.FixtureRequest) -> Backend:
    # A fresh table on the session's moto server (tests/moto_server.py), outbox polled.
    factory = DynamoDbUnitOfWorkFactory(
        request.getfixturevalue("dynamodb_client"),
        request.getfixturevalue("tasks_table"),
        EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi"),
        outbox_mode="polling",
    )
    return Backend(uow_factory=factory, outbox=factory.outbox_reader())


BACKENDS = [
    pytest.param(memory, id="memory"),
    pytest.param(sqlite, id="sqlite"),
    pytest.param(dynamodb, id="dynamodb", marks=pytest.mark.integration),
]
