"""A ``ReminderLog`` and a ``SentLog`` kept in Powertools idempotency persistence layers.

A mark is an idempotency record: for a reminder, keyed on (workspace id, task id, due date),
since task ids are unique within a workspace only; for a sent notification, on its
``notification_id``. Reusing the layer means no new table or file (DynamoDB in AWS, SQLite
locally, memory in tests). Marks expire after ``retention``.

Both are "check, send, mark": a crash between a send and its mark sends that one again on the
next try (at least once). The reminder run is scheduled, not concurrent, so two overlapping
runs (which the schedule avoids) are the only other way to send a reminder twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

_COMPLETED = STATUS_CONSTANTS["COMPLETED"]


class _Marks:
    """Marks in a persistence layer dedicated to them (Powertools keeps a layer's first
    configuration), each kept for ``retention``."""

    def __init__(
        self, persistence_store: BasePersistenceLayer, retention: timedelta, key_prefix: str
    ) -> None:
        persistence_store.configure(
            IdempotencyConfig(expires_after_seconds=int(retention.total_seconds())),
            key_prefix=key_prefix,
        )
        self._store = persistence_store

    def has(self, key: Mapping[str, Any]) -> bool:
        try:
            record = self._store.get_record(data=dict(key))
        except IdempotencyItemNotFoundError:
            return False
        # A mark past its retention reads as "EXPIRED" until the store purges it.
        return record is not None and record.status == _COMPLETED

    def add(self, key: Mapping[str, Any], result: dict[str, Any]) -> None:
        # save_success is an upsert in every layer (DynamoDB UpdateItem): one write, and a
        # second mark of the same key is harmless.
        self._store.save_success(data=dict(key), result=result)


class PersistenceLayerReminderLog:
    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        retention: timedelta,
        key_prefix: str = "taskapi.reminders",
    ) -> None:
        self._marks = _Marks(persistence_store, retention, key_prefix)

    def was_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> bool:
        return self._marks.has(_key(workspace_id, task_id, due_at))

    def mark_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> None:
        self._marks.add(_key(workspace_id, task_id, due_at), {"reminded": True})


def _key(workspace_id: UUID, task_id: UUID, due_at: datetime) -> dict[str, Any]:
    return {
        "workspace_id": str(workspace_id),
        "task_id": str(task_id),
        "due_at": due_at.isoformat(),
    }


class PersistenceLayerSentLog:
    """A ``SentLog``: one mark per sent notification, keyed on its ``notification_id``, so a
    retried event skips every notification sent before the one that failed."""

    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        retention: timedelta,
        key_prefix: str = "taskapi.notifications.sent",
    ) -> None:
        self._marks = _Marks(persistence_store, retention, key_prefix)

    def was_sent(self, notification_id: UUID) -> bool:
        return self._marks.has({"notification_id": str(notification_id)})

    def mark_sent(self, notification_id: UUID) -> None:
        self._marks.add({"notification_id": str(notification_id)}, {"sent": True})
