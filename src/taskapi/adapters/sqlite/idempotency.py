"""Powertools idempotency records in a SQLite file, for ``taskapi serve``: records survive a
restart and several processes may share the file. The conditional put runs in a ``BEGIN
IMMEDIATE`` transaction; expired rows are purged as new ones are written (the local stand-in
for DynamoDB's TTL). See docs/architecture.md.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from taskapi.adapters.idempotency import ConditionalPutLayer, key_is_free
from taskapi.adapters.sqlite.database import connect, use_wal

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


class SqlitePersistenceLayer(ConditionalPutLayer):
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
            use_wal(conn, self.path)
            conn.executescript(_SCHEMA.format(table=table_name))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path, busy_timeout_ms=int(self._timeout * 1000))
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
