"""More of the repository contract (every store, on a fresh store per test; see conftest.py):
the order retries come back in, unreadable records met while paging the outbox, a unit of
work that writes several tasks or commits twice, the boundary of a request record's life, and
what a refused write and a foreign position say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from taskapi.domain.errors import DependenciesNotFound, InvalidPageToken, TaskNotFound
from taskapi.service.ports import OutboxReader, RecordedRequest, TaskFilter, UnitOfWorkFactory
from tests.contract.backends import CommitRaw
from tests.fakes.builders import created_event, make_task, next_version

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_retries_come_back_in_the_order_they_fall_due_not_the_order_they_were_committed(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(3)]
    events = [created_event(t) for t in tasks]
    with uow_factory() as uow:
        for task, event in zip(tasks, events, strict=True):
            uow.tasks.add(task)
            uow.outbox.add(event)
        uow.commit()
    now = datetime.now(UTC)

    outbox_reader.mark_failed(events[0].event_id, "late", retry_at=now + timedelta(minutes=10))
    outbox_reader.mark_failed(events[1].event_id, "soon", retry_at=now + timedelta(minutes=5))

    due = outbox_reader.pending(10, now + timedelta(minutes=20))
    assert [r.event.event_id for r in due] == [
        e.event_id for e in (events[2], events[1], events[0])
    ]


def test_a_redriven_event_set_aside_again_keeps_its_event_type(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()
    event = created_event(task)
    with uow_factory() as uow:
        uow.tasks.add(task)
        uow.outbox.add(event)
        uow.commit()
    outbox_reader.dead_letter(event.event_id, "ValueError: poison")
    assert outbox_reader.redrive(event.event_id) is True

    outbox_reader.dead_letter(event.event_id, "ValueError: still poison")

    [letter] = outbox_reader.dead_letters()
    assert (letter.event_id, letter.event_type, letter.attempts) == (
        event.event_id,
        "TaskCreated",
        1,
    )


def test_unreadable_records_met_while_paging_are_set_aside_and_the_page_is_still_full(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader, commit_raw: CommitRaw
) -> None:
    unreadable = [uuid4() for _ in range(4)]
    for event_id in unreadable:
        commit_raw(event_id, "TaskCreated", json.dumps({"event_id": str(event_id)}))
    tasks = [make_task(title=f"t{i}") for i in range(4)]
    with uow_factory() as uow:
        for task in tasks:
            uow.tasks.add(task)
            uow.outbox.add(created_event(task))
        uow.commit()

    page = outbox_reader.pending(3)

    assert [r.event.task.title for r in page] == ["t0", "t1", "t2"]
    assert {letter.event_id for letter in outbox_reader.dead_letters()} == set(unreadable)
    assert [r.event.task.title for r in outbox_reader.pending(10)] == ["t0", "t1", "t2", "t3"]


def test_every_task_written_in_one_unit_of_work_has_its_dependencies_checked(
    uow_factory: UnitOfWorkFactory,
) -> None:
    missing = uuid4()
    dangling = make_task(title="dangling", dependencies=(missing,))
    fine = make_task(title="fine")

    with uow_factory() as uow:
        uow.tasks.add(dangling)
        uow.tasks.add(fine)
        with pytest.raises(DependenciesNotFound) as refused:
            uow.commit()

    assert refused.value.missing == (missing,)
    with uow_factory() as uow:
        assert uow.tasks.get_many([dangling.task_id, fine.task_id]) == {}


def test_a_unit_of_work_may_commit_twice(uow_factory: UnitOfWorkFactory) -> None:
    first, second = make_task(title="first"), make_task(title="second")

    with uow_factory() as uow:
        uow.tasks.add(first)
        uow.commit()
        uow.tasks.add(second)
        uow.commit()

    with uow_factory() as uow:
        assert set(uow.tasks.get_many([first.task_id, second.task_id])) == {
            first.task_id,
            second.task_id,
        }


def test_an_update_of_a_task_that_does_not_exist_names_it(uow_factory: UnitOfWorkFactory) -> None:
    ghost = make_task()

    with uow_factory() as uow:
        uow.tasks.update(next_version(ghost, title="never stored"), ghost.version)
        with pytest.raises(TaskNotFound) as refused:
            uow.commit()

    assert refused.value.task_id == ghost.task_id
    assert refused.value.message == f"task {ghost.task_id} does not exist"


def test_a_request_record_frees_its_key_at_the_instant_it_expires(
    uow_factory: UnitOfWorkFactory,
) -> None:
    task = make_task()
    record = RecordedRequest("key-1", "fingerprint-1", task, BASE, BASE + timedelta(hours=24))
    with uow_factory() as uow:
        uow.tasks.add(task)
        uow.requests.add(record)
        uow.commit()

    with uow_factory() as uow:
        assert uow.requests.get("key-1", record.expires_at - timedelta(microseconds=1)) is not None
        assert uow.requests.get("key-1", record.expires_at) is None


def test_a_position_of_another_shape_is_a_bad_token_saying_so(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        with pytest.raises(InvalidPageToken) as listing:
            uow.tasks.find(TaskFilter(), 10, {"dependent_id": str(uuid4())})
        with pytest.raises(InvalidPageToken) as dependents:
            uow.tasks.find_dependents(uuid4(), 10, {"created_at": BASE.isoformat()})

    assert listing.value.message == "next_token is not valid: it does not belong to this store"
    assert dependents.value.message == (
        "next_token is not valid: it does not belong to this listing"
    )
