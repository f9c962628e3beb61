"""The local server's outbox dispatcher thread: prompt after a commit, retries failures on a
timer, survives store errors, and delivers what is left when it stops."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.local.pump import OutboxPump
from taskapi.service.commands import CreateTask
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.ports import Event, OutboxReader, OutboxRecord
from tests.fakes.service import build_service

DEADLINE_SECONDS = 10.0  # generous; a passing run takes milliseconds
NEVER = 3600.0  # a retry interval no test waits for


@pytest.fixture
def runtime(tmp_path: Path) -> bootstrap.Runtime:
    return bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))


@pytest.fixture
def delivered(runtime: bootstrap.Runtime) -> queue.Queue[Event]:
    received: queue.Queue[Event] = queue.Queue()
    assert runtime.dispatcher is not None
    runtime.dispatcher.subscribe(received.put)
    return received


@contextmanager
def running(pump: OutboxPump) -> Iterator[OutboxPump]:
    pump.start()
    try:
        yield pump
    finally:
        pump.stop()


def create(runtime: bootstrap.Runtime, title: str = "t") -> UUID:
    return runtime.service.create(CreateTask(title=title)).task_id


def test_a_commit_wakes_the_dispatcher_at_once(
    runtime: bootstrap.Runtime, delivered: queue.Queue[Event]
) -> None:
    assert runtime.dispatcher is not None
    with running(OutboxPump(runtime.dispatcher, runtime.outbox_signal, retry_seconds=NEVER)):
        task_id = create(runtime)

        event = delivered.get(timeout=DEADLINE_SECONDS)

        assert event.task_id == task_id


def test_a_failed_delivery_is_retried_on_the_timer(runtime: bootstrap.Runtime) -> None:
    attempts: queue.Queue[UUID] = queue.Queue()

    def flaky(event: Event) -> None:
        attempts.put(event.event_id)
        if attempts.qsize() == 1:
            raise ConnectionError("the bus is down")

    assert runtime.dispatcher is not None
    runtime.dispatcher.subscribe(flaky)
    with running(OutboxPump(runtime.dispatcher, runtime.outbox_signal, retry_seconds=0.05)):
        create(runtime)

        first = attempts.get(timeout=DEADLINE_SECONDS)
        second = attempts.get(timeout=DEADLINE_SECONDS)

    assert first == second  # the same event, offered again


def test_stop_delivers_what_is_pending_then_joins(
    runtime: bootstrap.Runtime, delivered: queue.Queue[Event]
) -> None:
    assert runtime.dispatcher is not None
    never_set = threading.Event()  # so only stop() can make it deliver
    pump = OutboxPump(runtime.dispatcher, never_set, retry_seconds=NEVER)
    pump.start()
    ids = {create(runtime, f"task {n}") for n in range(3)}

    pump.stop(timeout=DEADLINE_SECONDS)

    assert {delivered.get_nowait().task_id for _ in range(3)} == ids
    assert not pump.is_running


def test_more_than_a_batch_is_drained_in_one_wake(
    runtime: bootstrap.Runtime, delivered: queue.Queue[Event]
) -> None:
    assert runtime.dispatcher is not None
    for n in range(25):
        create(runtime, f"task {n}")
    wake = threading.Event()
    pump = OutboxPump(runtime.dispatcher, wake, retry_seconds=NEVER, batch_size=10)
    with running(pump):
        wake.set()
        received = [delivered.get(timeout=DEADLINE_SECONDS) for _ in range(25)]

    assert len({event.event_id for event in received}) == 25


class FailsOnce:
    """An outbox whose first read fails, as a locked or unreachable store would."""

    def __init__(self, inner: OutboxReader) -> None:
        self.inner = inner
        self.reads = 0

    def pending(self, limit: int) -> list[OutboxRecord]:
        self.reads += 1
        if self.reads == 1:
            raise OSError("database is locked")
        return self.inner.pending(limit)

    def mark_sent(self, event_id: UUID) -> None:
        self.inner.mark_sent(event_id)

    def mark_failed(self, event_id: UUID, error: str) -> None:
        self.inner.mark_failed(event_id, error)


def test_a_store_error_does_not_kill_the_thread() -> None:
    harness = build_service()
    task_id = harness.service.create(CreateTask(title="t")).task_id
    outbox = FailsOnce(harness.store)
    received: queue.Queue[Event] = queue.Queue()
    wake = threading.Event()
    with running(OutboxPump(OutboxDispatcher(outbox, [received.put]), wake, retry_seconds=0.05)):
        wake.set()

        assert received.get(timeout=DEADLINE_SECONDS).task_id == task_id

    assert outbox.reads >= 2
