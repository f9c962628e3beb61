"""A ``ReminderLog`` and a ``SentLog`` kept in Powertools idempotency persistence layers.

A mark is an idempotency record keyed on (workspace id, task id, due date): task ids are unique
within a workspace only. Reusing the layer means no new table or file (DynamoDB in AWS, SQLite
locally, memory in tests). Marks expire once the due date cannot be in a window (``retention``).

The reminder run is scheduled, not concurrent, so "check, send, mark" is enough: two
overlapping runs could both send a reminder (at least once), which the schedule avoids by
running one at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

_COMPLETED = STATUS_CONSTANTS["COMPLETED"]


class PersistenceLayerReminderLog:
    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        retention: timedelta,
        key_prefix: str = "taskapi.reminders",
    ) -> None:
        # The layer must be dedicated to this log: Powertools keeps its first configuration.
        persistence_store.configure(
            IdempotencyConfig(expires_after_seconds=int(retention.total_seconds())),
            key_prefix=key_prefix,
        )
        self._store = persistence_store

    def was_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> bool:
        try:
            record = self._store.get_record(data=_key(workspace_id, task_id, due_at))
        except IdempotencyItemNotFoundError:
            return False
        # A mark past its retention reads as "EXPIRED" until the store purges it.
        return record is not None and record.status == _COMPLETED

    def mark_reminded(self, workspace_id: UUID, task_id: UUID, due_at: datetime) -> None:
        # save_success is an upsert in every layer (DynamoDB UpdateItem): one write, and a
        # second mark of the same reminder is harmless.
        self._store.save_success(
            data=_key(workspace_id, task_id, due_at), result={"reminded": True}
        )


def _key(workspace_id: UUID, task_id: UUID, due_at: datetime) -> dict[str, Any]:
    return {
        "workspace_id": str(workspace_id),
        "task_id": str(task_id),
        "due_at": due_at.isoformat(),
    }


class PersistenceLayerSentLog:
    """A ``SentLog``: one record per sent notification, keyed on its ``notification_id``.

    "Send, then mark": a crash between the two sends that notification once more on the retry
    (at least once); every notification sent before it is skipped."""

    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        retention: timedelta,
        key_prefix: str = "taskapi.notifications.sent",
    ) -> None:
        # A layer of its own, like the reminder log's: Powertools keeps its first configuration.
        persistence_store.configure(
            IdempotencyConfig(expires_after_seconds=int(retention.total_seconds())),
            key_prefix=key_prefix,
        )
        self._store = persistence_store

    def was_sent(self, notification_id: UUID) -> bool:
        try:
            record = self._store.get_record(data={"notification_id": str(notification_id)})
        except IdempotencyItemNotFoundError:
            return False
        return record is not None and record.status == _COMPLETED

    def mark_sent(self, notification_id: UUID) -> None:
        self._store.save_success(
            data={"notification_id": str(notification_id)}, result={"sent": True}
        )
