"""The outbox dispatcher: at-least-once delivery of committed events to subscribers, retries
that let the events behind a failing one go first, and dead letters for poison events."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from taskapi import bootstrap
from taskapi.adapters.memory import InMemoryStore, InMemoryUnitOfWorkFactory, OutboxRow
from taskapi.config import Settings
from taskapi.domain.event_readers import ReceivedEvent, ReceivedTaskCreated
from taskapi.service.commands import CreateTask
from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy
from tests.fakes.builders import WORKSPACE_ID, created_event, make_task, received
from tests.fakes.clock import FixedClock
from tests.fakes.subscribers import RecordingSubscriber
from tests.fakes.workspaces import add_workspace, create_workspace

POLICY = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=5), max_delay=timedelta(60))


def commit_events(store: InMemoryStore, count: int) -> list[ReceivedEvent]:
    """Commit ``count`` events; return them as subscribers receive them."""
    events: list[ReceivedEvent] = []
    factory = InMemoryUnitOfWorkFactory(store)
    if WORKSPACE_ID not in store.workspaces:
        add_workspace(factory)
    for i in range(count):
        task = make_task(title=f"task {i}")
        event = created_event(task)
        with factory(WORKSPACE_ID) as uow:
            uow.tasks.add(task)
            uow.outbox.add(event)
            uow.commit()
        events.append(received(event))
    return events


class Refuses:
    """A subscriber that fails for the given events, every time, and records the rest."""

    def __init__(self, *refused: ReceivedEvent) -> None:
        self.refused = {event.event_id for event in refused}
        self.delivered: list[ReceivedEvent] = []

    def __call__(self, event: ReceivedEvent) -> None:
        if event.event_id in self.refused:
            raise ValueError("cannot handle this one")
        self.delivered.append(event)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def test_every_pending_event_reaches_every_subscriber_in_order(
    store: InMemoryStore, clock: FixedClock
) -> None:
    events = commit_events(store, 3)
    first, second = RecordingSubscriber(), RecordingSubscriber()

    report = OutboxDispatcher(store, [first, second], clock=clock).dispatch_pending()

    assert (report.delivered, report.failed, report.dead_lettered) == (3, 0, 0)
    assert first.delivered == second.delivered == events
    assert store.pending(10) == []


def test_subscribers_added_later_receive_later_dispatches(
    store: InMemoryStore, clock: FixedClock
) -> None:
    dispatcher = OutboxDispatcher(store, clock=clock)
    subscriber = RecordingSubscriber()
    dispatcher.subscribe(subscriber)
    events = commit_events(store, 1)
    dispatcher.dispatch_pending()
    assert subscriber.delivered == events


def test_a_failed_delivery_is_kept_with_its_error_and_retried_when_due(
    store: InMemoryStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    (event,) = commit_events(store, 1)
    subscriber = RecordingSubscriber(fail_first=1, error=ConnectionError("bus unreachable"))
    dispatcher = OutboxDispatcher(store, [subscriber], clock=clock, retry=POLICY)

    with caplog.at_level(logging.WARNING, logger="taskapi.service.dispatch"):
        report = dispatcher.dispatch_pending()

    assert (report.delivered, report.failed) == (0, 1)
    (record,) = store.pending(10)
    assert (record.event, record.attempts) == (event, 1)
    assert record.last_error == "ConnectionError: bus unreachable"
    (log,) = caplog.records
    assert log.event_id == str(event.event_id)  # type: ignore[attr-defined]

    clock.advance(POLICY.first_delay - timedelta(microseconds=1))
    assert dispatcher.dispatch_pending().offered == 0  # not due yet
    clock.advance(timedelta(microseconds=1))
    retry = dispatcher.dispatch_pending()
    assert (retry.delivered, retry.failed) == (1, 0)
    assert subscriber.delivered == [event]
    assert store.pending(10) == []


def test_delivery_is_at_least_once_so_healthy_subscribers_may_see_an_event_twice(
    store: InMemoryStore, clock: FixedClock
) -> None:
    (event,) = commit_events(store, 1)
    healthy, flaky = RecordingSubscriber(), RecordingSubscriber(fail_first=1)
    dispatcher = OutboxDispatcher(store, [healthy, flaky], clock=clock, retry=POLICY)

    dispatcher.dispatch_pending()
    clock.advance(POLICY.first_delay)
    dispatcher.dispatch_pending()

    assert healthy.delivered == [event, event]  # consumers de-duplicate on event_id
    assert flaky.delivered == [event]
    assert store.pending(10) == []


def test_one_failing_event_does_not_hold_back_the_others_in_its_batch(
    store: InMemoryStore, clock: FixedClock
) -> None:
    events = commit_events(store, 3)

    report = OutboxDispatcher(store, [Refuses(events[1])], clock=clock).dispatch_pending()

    assert (report.delivered, report.failed) == (2, 1)
    assert [r.event for r in store.pending(10)] == [events[1]]


def test_failing_events_at_the_head_do_not_hold_back_the_events_behind_them(
    store: InMemoryStore, clock: FixedClock
) -> None:
    # A whole batch of poison: the next batch, at the same moment, is the events behind it.
    events = commit_events(store, 5)
    subscriber = Refuses(events[0], events[1])
    dispatcher = OutboxDispatcher(store, [subscriber], clock=clock, retry=POLICY)

    first = dispatcher.dispatch_pending(batch_size=2)
    second = dispatcher.dispatch_pending(batch_size=2)
    third = dispatcher.dispatch_pending(batch_size=2)

    assert (first.delivered, first.failed) == (0, 2)
    assert (second.delivered, second.failed) == (2, 0)
    assert (third.delivered, third.failed) == (1, 0)
    assert subscriber.delivered == events[2:]


def test_after_its_last_attempt_an_event_becomes_a_dead_letter(
    store: InMemoryStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    poison, fine = commit_events(store, 2)
    subscriber = Refuses(poison)
    dispatcher = OutboxDispatcher(store, [subscriber], clock=clock, retry=POLICY)

    reports = []
    for _ in range(POLICY.max_attempts):
        reports.append(dispatcher.dispatch_pending())
        clock.advance(POLICY.max_delay)

    assert [(r.failed, r.dead_lettered) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    assert subscriber.delivered == [fine]
    assert store.pending(10) == []
    (letter,) = dispatcher.dead_letters()
    assert (letter.event_id, letter.attempts) == (poison.event_id, POLICY.max_attempts)
    assert letter.last_error == "ValueError: cannot handle this one"
    assert "dead-lettered" in caplog.text
    assert dispatcher.dispatch_pending().offered == 0  # set aside: never offered again


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=5), max_delay=timedelta(seconds=30))

    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]
    assert policy.delay(10_000) == timedelta(seconds=30)
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="positive"):
        RetryPolicy(first_delay=timedelta(0))


def test_a_redriven_dead_letter_is_delivered_again_and_a_dry_run_changes_nothing(
    store: InMemoryStore, clock: FixedClock
) -> None:
    (event,) = commit_events(store, 1)
    store.dead_letter(event.event_id, "ValueError: poison")
    subscriber = RecordingSubscriber()
    dispatcher = OutboxDispatcher(store, [subscriber], clock=clock)

    dry = dispatcher.redrive(None, dry_run=True)
    assert [letter.event_id for letter in dry.redriven] == [event.event_id]
    assert dispatcher.dispatch_pending().offered == 0
    assert len(dispatcher.dead_letters()) == 1

    done = dispatcher.redrive([event.event_id], dry_run=False)

    assert [letter.event_id for letter in done.redriven] == [event.event_id]
    assert dispatcher.dead_letters() == []
    assert dispatcher.dispatch_pending().delivered == 1
    assert subscriber.delivered == [event]


def test_redrive_names_the_ids_that_are_not_dead_letters(
    store: InMemoryStore, clock: FixedClock
) -> None:
    kept, pending = commit_events(store, 2)
    store.dead_letter(kept.event_id, "ValueError: poison")

    report = OutboxDispatcher(store, clock=clock).redrive(
        [pending.event_id, kept.event_id], dry_run=False
    )

    assert [letter.event_id for letter in report.redriven] == [kept.event_id]
    assert report.not_found == (pending.event_id,)


def test_the_local_runtime_caps_attempts_at_the_setting(tmp_path: Path) -> None:
    runtime = bootstrap.build_runtime(
        Settings(store="memory", data_dir=tmp_path, outbox_max_attempts=1)
    )
    assert runtime.dispatcher is not None
    task = runtime.service.create(create_workspace(runtime), CreateTask(title="t"))

    def refuse(event: ReceivedEvent) -> None:
        raise ValueError(f"no {event.task_id}")

    runtime.dispatcher.subscribe(refuse)
    report = runtime.dispatcher.dispatch_pending()

    assert report.dead_lettered == 1
    (letter,) = runtime.dispatcher.dead_letters()
    assert letter.last_error == f"ValueError: no {task.task_id}"


def test_a_dispatch_offers_at_most_one_batch(store: InMemoryStore, clock: FixedClock) -> None:
    events = commit_events(store, 5)
    subscriber = RecordingSubscriber()
    dispatcher = OutboxDispatcher(store, [subscriber], clock=clock)

    assert dispatcher.dispatch_pending(batch_size=2).delivered == 2
    assert subscriber.delivered == events[:2]
    assert dispatcher.dispatch_pending(batch_size=10).delivered == 3
    assert subscriber.delivered == events
    assert all(isinstance(e, ReceivedTaskCreated) for e in subscriber.delivered)


def test_nothing_pending_is_a_quiet_no_op(store: InMemoryStore, clock: FixedClock) -> None:
    subscriber = RecordingSubscriber()
    report = OutboxDispatcher(store, [subscriber], clock=clock).dispatch_pending()
    assert (report.delivered, report.failed) == (0, 0)
    assert subscriber.seen == []


def test_a_dry_run_reports_itself_as_one_and_names_the_ids_that_are_not_dead_letters(
    store: InMemoryStore, clock: FixedClock
) -> None:
    kept, pending = commit_events(store, 2)
    store.dead_letter(kept.event_id, "ValueError: poison")
    dispatcher = OutboxDispatcher(store, clock=clock)

    dry = dispatcher.redrive([pending.event_id, kept.event_id], dry_run=True)
    assert (dry.dry_run, dry.not_found) == (True, (pending.event_id,))

    done = dispatcher.redrive([kept.event_id], dry_run=False)
    assert (done.dry_run, done.not_found) == (False, ())


def test_each_redriven_dead_letter_is_logged_with_its_event_id(
    store: InMemoryStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = commit_events(store, 2)
    for event in (first, second):
        store.dead_letter(event.event_id, "ValueError: poison")
    caplog.set_level(logging.INFO, logger="taskapi.service.dispatch")

    OutboxDispatcher(store, clock=clock).redrive(None, dry_run=False)

    logged = [(r.getMessage(), getattr(r, "event_id", None)) for r in caplog.records]
    assert sorted(logged) == sorted(
        ("dead letter redriven", str(event.event_id)) for event in (first, second)
    )


def test_dead_letters_honours_its_limit(store: InMemoryStore, clock: FixedClock) -> None:
    events = commit_events(store, 3)
    for event in events:
        store.dead_letter(event.event_id, "ValueError: poison")
    dispatcher = OutboxDispatcher(store, clock=clock)

    assert len(dispatcher.dead_letters(2)) == 2
    assert len(dispatcher.dead_letters()) == 3


def test_a_version_1_event_left_in_the_outbox_is_delivered_not_set_aside(
    store: InMemoryStore, clock: FixedClock
) -> None:
    # Committed by the release before workspaces, delivered after the upgrade: it is readable
    # (without a workspace), so it reaches the subscribers, which decide what it means.
    written = json.loads(created_event(make_task()).model_dump_json())
    del written["workspace_id"], written["task"]["workspace_id"]
    version_1 = {**written, "schema_version": 1}
    store.outbox[UUID(written["event_id"])] = OutboxRow(json.dumps(version_1), "TaskCreated")
    subscriber = RecordingSubscriber()

    report = OutboxDispatcher(store, [subscriber], clock=clock).dispatch_pending()

    assert (report.delivered, report.dead_lettered) == (1, 0)
    [event] = subscriber.delivered
    assert (event.schema_version, event.workspace_id) == (1, None)
    assert store.dead_letters() == []


def test_an_event_of_an_unknown_major_version_is_set_aside_as_unreadable(
    store: InMemoryStore, clock: FixedClock
) -> None:
    written = json.loads(created_event(make_task()).model_dump_json())
    store.outbox[UUID(written["event_id"])] = OutboxRow(
        json.dumps({**written, "schema_version": 3}), "TaskCreated"
    )

    report = OutboxDispatcher(store, [RecordingSubscriber()], clock=clock).dispatch_pending()

    assert report.offered == 0
    [letter] = store.dead_letters()
    assert letter.last_error is not None
    assert letter.last_error.startswith("unreadable: ")
    assert "schema_version 3 is not 2" in letter.last_error
