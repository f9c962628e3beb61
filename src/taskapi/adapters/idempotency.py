"""Powertools idempotency records without AWS: the rule every local layer shares with the
DynamoDB layer's conditional put (``key_is_free``), and the in-memory layer.

In AWS, bootstrap uses Powertools' own ``DynamoDBPersistenceLayer``; locally the SQLite layer
(``sqlite/idempotency.py``). A key is an opaque string, so event consumers and the reminder log
keep their marks in the same kind of layer. See docs/architecture.md.
"""

from __future__ import annotations

import copy
import threading
import time

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

_INPROGRESS = STATUS_CONSTANTS["INPROGRESS"]


def _copy(record: DataRecord) -> DataRecord:
    # A private copy, so that nobody mutates a stored record through a returned one. Every
    # attribute is an immutable scalar, so a shallow copy is a full one (and keeps any field a
    # newer Powertools adds).
    return copy.copy(record)


def key_is_free(existing: DataRecord | None, now: float) -> bool:
    """Whether a new record may take the key held by ``existing`` (the DynamoDB condition:
    ``attribute_not_exists(id) OR expiry < now OR (status = INPROGRESS AND
    in_progress_expiry < now_ms)``)."""
    if existing is None:
        return True
    if existing.expiry_timestamp is not None and existing.expiry_timestamp < int(now):
        return True
    # Not expired here, so ``status`` is the stored one (it reads "EXPIRED" past the expiry).
    return (
        existing.status == _INPROGRESS
        and existing.in_progress_expiry_timestamp is not None
        and existing.in_progress_expiry_timestamp < int(now * 1000)
    )


class ConditionalPutLayer(BasePersistenceLayer):
    """The part of ``_put_record`` both layers share: refuse a taken key like DynamoDB does."""

    def _refuse(self, new: DataRecord, existing: DataRecord) -> IdempotencyItemAlreadyExistsError:
        # Same order as the DynamoDB layer: a different payload is a validation error (raised
        # here), otherwise the caller learns the key is taken and receives the existing record.
        self._validate_payload(data_payload=new, stored_data_record=existing)
        self._save_to_cache(data_record=existing)
        return IdempotencyItemAlreadyExistsError(old_data_record=existing)

    def _stored_hash(self, record: DataRecord) -> str:
        return record.payload_hash if self.payload_validation_enabled else ""


class InMemoryPersistenceLayer(ConditionalPutLayer):
    """Records in a dict guarded by a lock: for tests and the in-memory store."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self._lock = threading.Lock()
        self._records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            record = self._records.get(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return _copy(record)

    def _put_record(self, data_record: DataRecord) -> None:
        with self._lock:
            existing = self._records.get(data_record.idempotency_key)
            if not key_is_free(existing, time.time()):
                assert existing is not None
                raise self._refuse(data_record, _copy(existing))
            stored = _copy(data_record)
            stored.payload_hash = self._stored_hash(data_record)
            self._records[data_record.idempotency_key] = stored

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            current = self._records.get(data_record.idempotency_key)
            stored = _copy(data_record)
            if current is not None:
                stored.in_progress_expiry_timestamp = current.in_progress_expiry_timestamp
            if not self.payload_validation_enabled and current is not None:
                stored.payload_hash = current.payload_hash
            self._records[data_record.idempotency_key] = stored

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records.pop(data_record.idempotency_key, None)
