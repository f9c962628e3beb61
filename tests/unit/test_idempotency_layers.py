"""The local idempotency persistence layers behave like Powertools' DynamoDB layer.

One suite, run against both the in-memory and the SQLite layer. The ``_put_record`` family
is what Powertools calls on a layer, so that is the contract tested here, with explicit
timestamps instead of waiting for anything to expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.sqlite.idempotency import SqlitePersistenceLayer
from taskapi.local.proxy import LocalLambdaContext

LayerFactory = Callable[[], BasePersistenceLayer]


@pytest.fixture(params=["memory", "sqlite"])
def new_layer(request: pytest.FixtureRequest, tmp_path: Path) -> LayerFactory:
    """Makes layers; SQLite ones share one file, as the processes of a server would."""
    if request.param == "memory":
        return InMemoryPersistenceLayer
    return lambda: SqlitePersistenceLayer(tmp_path / "idempotency.db")


@pytest.fixture
def layer(new_layer: LayerFactory) -> BasePersistenceLayer:
    return new_layer()


def now() -> int:
    return int(time.time())


def record(
    status: str = "INPROGRESS",
    *,
    expires_in: int = 3600,
    in_progress_expires_in_ms: int | None = None,
    payload_hash: str = "",
    key: str = "k",
) -> DataRecord:
    in_progress = None
    if in_progress_expires_in_ms is not None:
        in_progress = int(time.time() * 1000) + in_progress_expires_in_ms
    return DataRecord(
        idempotency_key=key,
        status=status,
        expiry_timestamp=now() + expires_in,
        in_progress_expiry_timestamp=in_progress,
        payload_hash=payload_hash,
    )


def test_a_put_record_can_be_read_back(layer: BasePersistenceLayer) -> None:
    layer._put_record(record(in_progress_expires_in_ms=5000))

    stored = layer._get_record("k")

    assert stored.idempotency_key == "k"
    assert stored.status == "INPROGRESS"
    assert stored.expiry_timestamp is not None
    assert stored.in_progress_expiry_timestamp is not None


def test_reading_a_missing_key_raises_not_found(layer: BasePersistenceLayer) -> None:
    with pytest.raises(IdempotencyItemNotFoundError):
        layer._get_record("nothing")


def test_a_live_record_refuses_a_second_put_and_returns_itself(
    layer: BasePersistenceLayer,
) -> None:
    layer._put_record(record("COMPLETED"))

    with pytest.raises(IdempotencyItemAlreadyExistsError) as refused:
        layer._put_record(record())

    assert refused.value.old_data_record is not None
    assert refused.value.old_data_record.status == "COMPLETED"


def test_an_expired_record_gives_way(layer: BasePersistenceLayer) -> None:
    layer._put_record(record("COMPLETED", expires_in=-5))

    layer._put_record(record())

    assert layer._get_record("k").status == "INPROGRESS"


def test_an_in_progress_record_gives_way_once_its_invocation_timed_out(
    layer: BasePersistenceLayer,
) -> None:
    layer._put_record(record(in_progress_expires_in_ms=-1000))

    layer._put_record(record(in_progress_expires_in_ms=5000))


def test_an_in_progress_record_within_its_deadline_holds_the_key(
    layer: BasePersistenceLayer,
) -> None:
    layer._put_record(record(in_progress_expires_in_ms=60_000))

    with pytest.raises(IdempotencyItemAlreadyExistsError):
        layer._put_record(record())


def test_the_in_progress_deadline_does_not_free_a_completed_record(
    layer: BasePersistenceLayer,
) -> None:
    layer._put_record(record(in_progress_expires_in_ms=-1000))
    layer._update_record(record("COMPLETED"))

    with pytest.raises(IdempotencyItemAlreadyExistsError):
        layer._put_record(record())


def test_update_stores_the_response_and_delete_removes_the_record(
    layer: BasePersistenceLayer,
) -> None:
    layer._put_record(record())
    done = record("COMPLETED")
    done.response_data = '{"ok": true}'

    layer._update_record(done)
    stored = layer._get_record("k")
    layer._delete_record(record())

    assert stored.status == "COMPLETED"
    assert stored.response_json_as_dict() == {"ok": True}
    with pytest.raises(IdempotencyItemNotFoundError):
        layer._get_record("k")


def test_a_different_payload_under_a_live_key_is_a_validation_error(
    layer: BasePersistenceLayer,
) -> None:
    layer.configure(IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body"))
    layer._put_record(record("COMPLETED", payload_hash="hash-of-first-body"))

    with pytest.raises(IdempotencyValidationError):
        layer._put_record(record(payload_hash="hash-of-another-body"))
    with pytest.raises(IdempotencyItemAlreadyExistsError):
        layer._put_record(record(payload_hash="hash-of-first-body"))


def test_with_powertools_the_function_runs_once_per_key(new_layer: LayerFactory) -> None:
    calls: list[str] = []

    def make_once(layer: BasePersistenceLayer) -> Callable[..., Any]:
        def work(request: dict[str, Any]) -> dict[str, Any]:
            calls.append(request["key"])
            return {"result": len(calls)}

        config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body")
        config.register_lambda_context(LocalLambdaContext())
        return idempotent_function(
            work, data_keyword_argument="request", persistence_store=layer, config=config,
            key_prefix="test",
        )  # fmt: skip

    once = make_once(new_layer())
    first = once(request={"key": "a", "body": 1})
    again = once(request={"key": "a", "body": 1})
    other = once(request={"key": "b", "body": 1})

    assert first == again == {"result": 1}
    assert other == {"result": 2}
    assert calls == ["a", "b"]
    if isinstance(once_more := new_layer(), SqlitePersistenceLayer):
        # Another instance on the same file (another server process) sees the same records.
        assert make_once(once_more)(request={"key": "a", "body": 1}) == {"result": 1}
        assert calls == ["a", "b"]


def test_concurrent_puts_let_exactly_one_writer_take_the_key(new_layer: LayerFactory) -> None:
    shared = new_layer()
    layers = [
        shared if isinstance(shared, InMemoryPersistenceLayer) else new_layer() for _ in range(8)
    ]
    start = threading.Barrier(len(layers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def contend(layer: BasePersistenceLayer) -> None:
        start.wait()
        try:
            layer._put_record(record(in_progress_expires_in_ms=60_000))
            outcome = "won"
        except IdempotencyItemAlreadyExistsError:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=contend, args=(layer,)) for layer in layers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["refused"] * (len(layers) - 1) + ["won"]


def test_sqlite_purges_expired_records_as_it_writes(tmp_path: Path) -> None:
    layer = SqlitePersistenceLayer(tmp_path / "idempotency.db")
    layer._put_record(record("COMPLETED", key="old", expires_in=-5))

    layer._put_record(record(key="new"))

    with pytest.raises(IdempotencyItemNotFoundError):
        layer._get_record("old")


def test_sqlite_refuses_an_unsafe_table_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table name"):
        SqlitePersistenceLayer(tmp_path / "x.db", table_name="records; DROP TABLE tasks")
