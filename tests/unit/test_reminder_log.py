"""The reminder log and the sent-notification log on Powertools persistence layers: the
in-memory and the SQLite one (the DynamoDB one runs in tests/integration)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.reminder_log import PersistenceLayerReminderLog, PersistenceLayerSentLog
from taskapi.adapters.sqlite.idempotency import SqlitePersistenceLayer
from tests.fakes.builders import WORKSPACE_ID
from tests.fakes.clock import DEFAULT_NOW

LayerFactory = Callable[[Path], BasePersistenceLayer]


@pytest.fixture(
    params=[
        pytest.param(lambda _: InMemoryPersistenceLayer(), id="memory"),
        pytest.param(lambda tmp: SqlitePersistenceLayer(tmp / "idempotency.db"), id="sqlite"),
    ]
)
def reminder_log(request: pytest.FixtureRequest, tmp_path: Path) -> PersistenceLayerReminderLog:
    make_layer: LayerFactory = request.param
    return PersistenceLayerReminderLog(make_layer(tmp_path), retention=timedelta(days=2))


def test_a_reminder_is_remembered_per_task_and_due_date(
    reminder_log: PersistenceLayerReminderLog,
) -> None:
    task_id, other_task = uuid4(), uuid4()
    due = DEFAULT_NOW + timedelta(hours=3)

    assert not reminder_log.was_reminded(WORKSPACE_ID, task_id, due)
    reminder_log.mark_reminded(WORKSPACE_ID, task_id, due)

    assert reminder_log.was_reminded(WORKSPACE_ID, task_id, due)
    assert not reminder_log.was_reminded(WORKSPACE_ID, task_id, due + timedelta(hours=1))
    assert not reminder_log.was_reminded(WORKSPACE_ID, other_task, due)


def test_a_reminder_is_remembered_per_workspace(
    reminder_log: PersistenceLayerReminderLog,
) -> None:
    # Task ids are unique within a workspace only: the same id elsewhere is another task.
    task_id, other_workspace, due = uuid4(), uuid4(), DEFAULT_NOW

    reminder_log.mark_reminded(WORKSPACE_ID, task_id, due)

    assert reminder_log.was_reminded(WORKSPACE_ID, task_id, due)
    assert not reminder_log.was_reminded(other_workspace, task_id, due)


def test_marking_twice_is_harmless(reminder_log: PersistenceLayerReminderLog) -> None:
    task_id, due = uuid4(), DEFAULT_NOW

    reminder_log.mark_reminded(WORKSPACE_ID, task_id, due)
    reminder_log.mark_reminded(WORKSPACE_ID, task_id, due)

    assert reminder_log.was_reminded(WORKSPACE_ID, task_id, due)


def test_marks_survive_a_new_log_on_the_same_sqlite_file(tmp_path: Path) -> None:
    task_id, due = uuid4(), DEFAULT_NOW
    path = tmp_path / "idempotency.db"
    PersistenceLayerReminderLog(SqlitePersistenceLayer(path), timedelta(days=2)).mark_reminded(
        WORKSPACE_ID, task_id, due
    )

    reopened = PersistenceLayerReminderLog(SqlitePersistenceLayer(path), timedelta(days=2))

    assert reopened.was_reminded(WORKSPACE_ID, task_id, due)


def test_an_expired_mark_no_longer_counts() -> None:
    log = PersistenceLayerReminderLog(InMemoryPersistenceLayer(), retention=timedelta(seconds=-1))
    task_id = uuid4()

    log.mark_reminded(WORKSPACE_ID, task_id, DEFAULT_NOW)

    assert not log.was_reminded(WORKSPACE_ID, task_id, DEFAULT_NOW)


@pytest.mark.parametrize(
    "make_layer",
    [
        pytest.param(lambda _: InMemoryPersistenceLayer(), id="memory"),
        pytest.param(lambda tmp: SqlitePersistenceLayer(tmp / "idempotency.db"), id="sqlite"),
    ],
)
def test_a_sent_notification_is_remembered_by_its_id(
    make_layer: LayerFactory, tmp_path: Path
) -> None:
    sent = PersistenceLayerSentLog(make_layer(tmp_path), retention=timedelta(days=15))
    first, other = uuid4(), uuid4()

    assert not sent.was_sent(first)
    sent.mark_sent(first)
    sent.mark_sent(first)

    assert sent.was_sent(first)
    assert not sent.was_sent(other)
