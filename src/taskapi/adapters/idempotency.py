"""Idempotency records for Powertools' idempotency utility, kept locally.

In AWS, bootstrap uses Powertools' own ``DynamoDBPersistenceLayer``. These two layers give the
same semantics without AWS: ``SqlitePersistenceLayer`` for ``taskapi serve`` (records survive a
restart, several processes may share the file) and ``InMemoryPersistenceLayer`` for tests and the
memory store.

The rule they share with the DynamoDB layer's conditional put: a new record may take a key only
if no record holds it, or the record holding it has expired, or it is an in-progress record whose
in-progress expiry (the invocation's deadline, in milliseconds) has passed. Otherwise the put
fails with ``IdempotencyItemAlreadyExistsError`` carrying the existing record, after checking
the payload hash, so a reused key with a different payload is reported as such.

Nothing here is specific to HTTP: a key is an opaque string, so an event consumer can store its
"already handled" marks in the same kind of layer.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class _ConditionalPutMixin(BasePersistenceLayer):
    """The part of ``_put_record`` both layers share: refuse a taken key like DynamoDB does."""

    def _refuse(self, new: DataRecord, existing: DataRecord) -> IdempotencyItemAlreadyExistsError:
        # Same order as the DynamoDB layer: a different payload is a validation error (raised
        # here), otherwise the caller learns the key is taken and receives the existing record.
        self._validate_payload(data_payload=new, stored_data_record=existing)
        self._save_to_cache(data_record=existing)
        return IdempotencyItemAlreadyExistsError(old_data_record=existing)

    def _stored_hash(self, record: DataRecord) -> str:
        return record.payload_hash if self.payload_validation_enabled else ""


class InMemoryPersistenceLayer(_ConditionalPutMixin):
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    idempotency_key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    expiry_timestamp INTEGER NOT NULL,
    in_progress_expiry_timestamp INTEGER,
    response_data TEXT NOT NULL DEFAULT '',
    payload_hash TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {table}_expiry ON {table} (expiry_timestamp);
"""

_COLUMNS = (
    "idempotency_key, status, expiry_timestamp, in_progress_expiry_timestamp, "
    "response_data, payload_hash"
)


class SqlitePersistenceLayer(_ConditionalPutMixin):
    """Records in a SQLite table (WAL mode; safe across threads and processes).

    Each operation opens its own short-lived connection, so one instance can be shared by the
    threads of a server. The conditional put runs in a ``BEGIN IMMEDIATE`` transaction: the
    check and the write are atomic against every other writer of the file. Expired rows are
    purged as new ones are written (the local stand-in for DynamoDB's TTL).
    """

    def __init__(
        self,
        path: Path,
        table_name: str = "idempotency_records",
        busy_timeout_seconds: float = 5.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        if not table_name.isidentifier():
            raise ValueError(f"not a valid table name: {table_name!r}")
        self.path = path
        self._table = table_name
        self._timeout = busy_timeout_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA.format(table=table_name))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: no implicit transactions; each method says what it needs.
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _select(self, conn: sqlite3.Connection, key: str) -> DataRecord | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM {self._table} WHERE idempotency_key = ?",  # noqa: S608
            (key,),
        ).fetchone()
        if row is None:
            return None
        return DataRecord(
            idempotency_key=row[0],
            status=row[1],
            expiry_timestamp=row[2],
            in_progress_expiry_timestamp=row[3],
            response_data=row[4],
            payload_hash=row[5],
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._connect() as conn:
            record = self._select(conn, idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return record

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._transaction() as conn:
            existing = self._select(conn, data_record.idempotency_key)
            if not key_is_free(existing, now):
                assert existing is not None
                raise self._refuse(data_record, existing)
            conn.execute(
                f"DELETE FROM {self._table} WHERE expiry_timestamp < ?",  # noqa: S608
                (int(now),),
            )
            conn.execute(
                f"INSERT OR REPLACE INTO {self._table} ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, '', ?)",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.in_progress_expiry_timestamp,
                    self._stored_hash(data_record),
                ),
            )

    def _update_record(self, data_record: DataRecord) -> None:
        # An upsert, like DynamoDB's UpdateItem; the payload hash changes only when validation
        # is on, and the in-progress expiry is left as it was.
        hash_update = ""
        if self.payload_validation_enabled:
            hash_update = ", payload_hash = excluded.payload_hash"
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO {self._table} ({_COLUMNS}) VALUES (?, ?, ?, NULL, ?, ?) "  # noqa: S608
                "ON CONFLICT (idempotency_key) DO UPDATE SET status = excluded.status, "
                "expiry_timestamp = excluded.expiry_timestamp, "
                f"response_data = excluded.response_data{hash_update}",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.response_data,
                    self._stored_hash(data_record),
                ),
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._transaction() as conn:
            conn.execute(
                f"DELETE FROM {self._table} WHERE idempotency_key = ?",  # noqa: S608
                (data_record.idempotency_key,),
            )
