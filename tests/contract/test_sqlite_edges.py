"""What the SQLite store says when it cannot serve: the messages behind a 503 or a 500 in the
logs, and the mistakes a developer wiring it can make."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import uuid4

import pytest

from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory
from taskapi.service.ports import StoreFailure, StoreUnavailable


def test_a_locked_database_says_it_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    database = SqliteDatabase(path, busy_timeout_ms=50)
    other_writer = sqlite3.connect(path, isolation_level=None)
    try:
        other_writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable) as refused, SqliteUnitOfWorkFactory(database)():
            pass  # pragma: no cover - entering must fail
    finally:
        other_writer.close()

    assert str(refused.value) == "the local database is busy: database is locked"
    assert refused.value.retry_after_seconds == 1


def test_a_file_that_is_not_a_database_says_what_sqlite_said(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, " * 100)

    with pytest.raises(StoreFailure) as failed:
        SqliteDatabase(path)

    assert str(failed.value) == "the local database failed: DatabaseError: file is not a database"


def test_an_in_memory_database_is_refused_saying_a_file_is_needed() -> None:
    with pytest.raises(ValueError, match=r"^SqliteDatabase needs a file path$"):
        SqliteDatabase(":memory:")


def test_the_repository_outside_its_unit_of_work_says_how_to_use_it(tmp_path: Path) -> None:
    uow = SqliteUnitOfWorkFactory(SqliteDatabase(tmp_path / "x.db"))()

    with pytest.raises(RuntimeError) as misused:
        uow.tasks.get(uuid4())

    assert str(misused.value) == (
        "use the unit of work as a context manager: `with uow_factory():`"
    )
