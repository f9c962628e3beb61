"""The local server's outbox dispatcher thread: prompt after a commit, retries failures on a
timer once due, never stalls behind failing events, survives store errors, and delivers what
is left when it stops."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.local.pump import OutboxPump
from taskapi.service.commands import CreateTask
from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
from taskapi.service.ports import DeadLetter, OutboxReader, OutboxRecord
from tests.fakes.service import build_service, in_new_workspace

DEADLINE_SECONDS = 10.0  # generous; a passing run takes milliseconds
NEVER = 3600.0  # a retry interval no test waits for


@pytest.fixture
def runtime(tmp_path: Path) -> bootstrap.Runtime:
    return bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))


@pytest.fixture
def delivered(runtime: bootstrap.Runtime) -> queue.Queue[ReceivedEvent]:
    received: queue.Queue[ReceivedEvent] = queue.Queue()
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
    tasks = in_new_workspace(runtime.service, runtime.workspaces)
    return tasks.create(CreateTask(title=title)).task_id


def test_a_commit_wakes_the_dispatcher_at_once(
    runtime: bootstrap.Runtime, delivered: queue.Queue[ReceivedEvent]
) -> None:
    assert runtime.dispatcher is not None
    with running(OutboxPump(runtime.dispatcher, runtime.outbox_signal, retry_seconds=NEVER)):
        task_id = create(runtime)

        event = delivered.get(timeout=DEADLINE_SECONDS)

        assert event.task_id == task_id


def test_a_failed_delivery_is_retried_on_the_timer_once_due() -> None:
    harness = build_service()
    attempts: queue.Queue[UUID] = queue.Queue()
    failed = threading.Event()

    def flaky(event: ReceivedEvent) -> None:
        attempts.put(event.event_id)
        if not failed.is_set():
            failed.set()
            raise ConnectionError("the bus is down")

    soon = RetryPolicy(first_delay=timedelta(milliseconds=20))
    dispatcher = OutboxDispatcher(harness.store, [flaky], clock=bootstrap.utc_now, retry=soon)
    wake = threading.Event()
    with running(OutboxPump(dispatcher, wake, retry_seconds=0.05)):
        harness.tasks.create(CreateTask(title="t"))
        wake.set()

        first = attempts.get(timeout=DEADLINE_SECONDS)
        second = attempts.get(timeout=DEADLINE_SECONDS)

    assert first == second  # the same event, offered again
    assert harness.store.pending(10) == []


def test_stop_delivers_what_is_pending_then_joins(
    runtime: bootstrap.Runtime, delivered: queue.Queue[ReceivedEvent]
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
    runtime: bootstrap.Runtime, delivered: queue.Queue[ReceivedEvent]
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


def test_failing_events_at_the_head_of_the_outbox_do_not_hold_back_the_rest(
    runtime: bootstrap.Runtime, delivered: queue.Queue[ReceivedEvent]
) -> None:
    # A whole batch of events whose delivery fails, then one that succeeds: one wake delivers
    # it, without waiting for the retry timer.
    assert runtime.dispatcher is not None
    poison = {create(runtime, "poison 1"), create(runtime, "poison 2")}
    fine = create(runtime, "fine")

    def refuse_poison(event: ReceivedEvent) -> None:
        if event.task_id in poison:
            raise ValueError("cannot handle this one")

    runtime.dispatcher.subscribe(refuse_poison)
    wake = threading.Event()
    with running(OutboxPump(runtime.dispatcher, wake, retry_seconds=NEVER, batch_size=2)):
        wake.set()

        while (event := delivered.get(timeout=DEADLINE_SECONDS)).task_id != fine:
            assert event.task_id in poison  # offered (and refused), never delivered


class FailsOnce:
    """An outbox whose first read fails, as a locked or unreachable store would."""

    def __init__(self, inner: OutboxReader) -> None:
        self.inner = inner
        self.reads = 0

    def pending(self, limit: int, now: datetime | None = None) -> list[OutboxRecord]:
        self.reads += 1
        if self.reads == 1:
            raise OSError("database is locked")
        return self.inner.pending(limit, now)

    def mark_sent(self, event_id: UUID) -> None:
        self.inner.mark_sent(event_id)

    def mark_failed(self, event_id: UUID, error: str, retry_at: datetime | None = None) -> None:
        self.inner.mark_failed(event_id, error, retry_at)

    def dead_letter(self, event_id: UUID, error: str) -> None:
        self.inner.dead_letter(event_id, error)

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        return self.inner.dead_letters(limit)

    def redrive(self, event_id: UUID) -> bool:
        return self.inner.redrive(event_id)


def test_a_store_error_does_not_kill_the_thread() -> None:
    harness = build_service()
    task_id = harness.tasks.create(CreateTask(title="t")).task_id
    outbox = FailsOnce(harness.store)
    received: queue.Queue[ReceivedEvent] = queue.Queue()
    wake = threading.Event()
    dispatcher = OutboxDispatcher(outbox, [received.put], clock=bootstrap.utc_now)
    with running(OutboxPump(dispatcher, wake, retry_seconds=0.05)):
        wake.set()

        assert received.get(timeout=DEADLINE_SECONDS).task_id == task_id

    assert outbox.reads >= 2
