"""The repository contract: what every store behind the ports does, identically.

Every test runs once per backend in ``backends.BACKENDS`` (memory, SQLite, ...) on a fresh,
empty store. Because the in-memory fake that the unit tests use passes the very same suite as
the real stores, it is a *verified* fake: it cannot drift from them unnoticed.

Units of work are used one after another, never nested: a unit of work may hold the store's
write lock from ``__enter__`` to ``__exit__``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from taskapi.adapters.unit_of_work import MAX_LAST_ERROR_LENGTH
from taskapi.domain.errors import (
    DependenciesNotFound,
    InvalidPageToken,
    TaskNotFound,
    VersionConflict,
)
from taskapi.domain.events import SCHEMA_VERSION
from taskapi.domain.model import (
    MAX_DEPENDENCIES,
    MAX_DESCRIPTION_LENGTH,
    MAX_TITLE_LENGTH,
    Priority,
    Status,
    Task,
)
from taskapi.service.ports import (
    Event,
    OutboxReader,
    Position,
    RecordedRequest,
    RequestAlreadyRecorded,
    StoreFailure,
    TaskFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from tests.contract.backends import CommitRaw
from tests.fakes.builders import (
    created_event,
    deleted_event,
    make_task,
    next_version,
    updated_event,
)

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
EVERYTHING = TaskFilter()


# -- helpers: each runs one unit of work and leaves it ------------------------------------


def save(uow_factory: UnitOfWorkFactory, *tasks: Task, events: tuple[Event, ...] = ()) -> None:
    with uow_factory() as uow:
        for task in tasks:
            uow.tasks.add(task)
        for event in events:
            uow.outbox.add(event)
        uow.commit()


def write(uow_factory: UnitOfWorkFactory, stage: Callable[[UnitOfWork], None]) -> None:
    with uow_factory() as uow:
        stage(uow)
        uow.commit()


def load(uow_factory: UnitOfWorkFactory, task_id: UUID) -> Task | None:
    with uow_factory() as uow:
        return uow.tasks.get(task_id)


def dependents(uow_factory: UnitOfWorkFactory, task_id: UUID) -> list[UUID]:
    with uow_factory() as uow:
        return uow.tasks.dependents_of(task_id)


def page_through(
    uow_factory: UnitOfWorkFactory, task_filter: TaskFilter, limit: int
) -> list[list[Task]]:
    pages: list[list[Task]] = []
    after: Position | None = None
    while True:
        with uow_factory() as uow:
            found = uow.tasks.find(task_filter, limit, after)
        pages.append(found.tasks)
        if found.next_position is None:
            return pages
        assert len(pages) <= 1000, "find never returned a last page"
        # The service carries the position inside a JSON page token: it must survive that.
        after = json.loads(json.dumps(found.next_position))


def listing_order(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: (t.created_at, str(t.task_id)))


def event_ids(outbox_reader: OutboxReader) -> list[UUID]:
    return [record.event.event_id for record in outbox_reader.pending(10_000)]


# -- add, get, get_many -------------------------------------------------------------------


def test_an_added_task_is_read_back_equal(uow_factory: UnitOfWorkFactory) -> None:
    task = make_task()
    save(uow_factory, task)
    assert load(uow_factory, task.task_id) == task


def test_get_of_an_unknown_id_is_none(uow_factory: UnitOfWorkFactory) -> None:
    save(uow_factory, make_task())
    assert load(uow_factory, uuid4()) is None


def test_adding_an_existing_id_conflicts_with_the_stored_task(
    uow_factory: UnitOfWorkFactory,
) -> None:
    stored = make_task(title="first")
    save(uow_factory, stored)
    with uow_factory() as uow:
        uow.tasks.add(make_task(task_id=stored.task_id, title="second"))
        with pytest.raises(VersionConflict) as raised:
            uow.commit()
    assert raised.value.current == stored
    assert raised.value.expected_version == 0
    assert load(uow_factory, stored.task_id) == stored


def test_get_many_returns_the_existing_tasks_and_omits_missing_ids(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # More ids than any store fetches per round trip, with existing ones on both sides of
    # every chunk boundary a store is likely to use (BatchGetItem's 100, SQL IN chunks of
    # 500), and a duplicate.
    positions = (0, 99, 100, 499, 500, 999, 1000, 1200)
    tasks = [make_task(title=f"at {i}") for i in positions]
    save(uow_factory, *tasks)
    ids = [uuid4() for _ in range(1201)]
    for position, task in zip(positions, tasks, strict=True):
        ids[position] = task.task_id
    ids.append(tasks[0].task_id)
    with uow_factory() as uow:
        found = uow.tasks.get_many(ids)
        nothing = uow.tasks.get_many([])
    assert found == {t.task_id: t for t in tasks}
    assert nothing == {}


# -- dependency edges ---------------------------------------------------------------------


def test_dependencies_of_lists_each_existing_tasks_dependencies(
    uow_factory: UnitOfWorkFactory,
) -> None:
    a, b = make_task(title="a"), make_task(title="b")
    c = make_task(title="c", dependencies=(a.task_id, b.task_id))
    save(uow_factory, a, b, c)
    missing = uuid4()
    with uow_factory() as uow:
        edges = uow.tasks.dependencies_of([a.task_id, c.task_id, missing])
    assert set(edges) == {a.task_id, c.task_id}
    assert list(edges[a.task_id]) == []
    assert sorted(edges[c.task_id], key=str) == sorted([a.task_id, b.task_id], key=str)


def test_dependents_of_lists_the_reverse_edges_sorted_by_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    target = make_task(title="target")
    waiting = [make_task(title=f"waits {i}", dependencies=(target.task_id,)) for i in range(5)]
    save(uow_factory, target, *waiting)
    assert dependents(uow_factory, target.task_id) == sorted((t.task_id for t in waiting), key=str)
    assert dependents(uow_factory, waiting[0].task_id) == []
    assert dependents(uow_factory, uuid4()) == []


def test_reverse_edges_follow_updates(uow_factory: UnitOfWorkFactory) -> None:
    a1, a2, a3 = (make_task(title=f"a{i}") for i in range(3))
    b = make_task(title="b", dependencies=(a1.task_id, a2.task_id))
    save(uow_factory, a1, a2, a3, b)

    moved = next_version(b, dependencies=(a2.task_id, a3.task_id))
    write(uow_factory, lambda uow: uow.tasks.update(moved, b.version))

    assert dependents(uow_factory, a1.task_id) == []
    assert dependents(uow_factory, a2.task_id) == [b.task_id]
    assert dependents(uow_factory, a3.task_id) == [b.task_id]

    cleared = next_version(moved, dependencies=())
    write(uow_factory, lambda uow: uow.tasks.update(cleared, moved.version))
    assert [dependents(uow_factory, a.task_id) for a in (a1, a2, a3)] == [[], [], []]


def test_reverse_edges_follow_deletes(uow_factory: UnitOfWorkFactory) -> None:
    a = make_task(title="a")
    b = make_task(title="b", dependencies=(a.task_id,))
    c = make_task(title="c", dependencies=(a.task_id,))
    save(uow_factory, a, b, c)
    write(uow_factory, lambda uow: uow.tasks.remove(b))
    assert dependents(uow_factory, a.task_id) == [c.task_id]
    with uow_factory() as uow:
        assert uow.tasks.dependencies_of([b.task_id]) == {}


# -- find_dependents: the reverse edges, a page at a time ------------------------------------


def dependents_pages(uow_factory: UnitOfWorkFactory, task_id: UUID, limit: int) -> list[list[Task]]:
    pages: list[list[Task]] = []
    after: Position | None = None
    while True:
        with uow_factory() as uow:
            found = uow.tasks.find_dependents(task_id, limit, after)
        pages.append(found.tasks)
        if found.next_position is None:
            return pages
        assert len(pages) <= 1000, "find_dependents never returned a last page"
        after = json.loads(json.dumps(found.next_position))  # it travels in a JSON token


def test_find_dependents_pages_through_the_dependents_in_id_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    target, other = make_task(title="target"), make_task(title="other")
    waiting = [
        make_task(
            title=f"waits {i}",
            dependencies=(target.task_id,) if i % 4 else (other.task_id, target.task_id),
        )
        for i in range(23)
    ]
    unrelated = [make_task(title="waits for the other", dependencies=(other.task_id,))]
    save(uow_factory, target, other, *waiting, *unrelated)

    pages = dependents_pages(uow_factory, target.task_id, limit=5)

    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [t for p in pages for t in p] == sorted(waiting, key=lambda t: str(t.task_id))
    assert [len(p) for p in dependents_pages(uow_factory, target.task_id, limit=23)] == [23]
    assert dependents_pages(uow_factory, waiting[0].task_id, limit=5) == [[]]
    assert dependents_pages(uow_factory, uuid4(), limit=5) == [[]]


def test_find_dependents_follows_updates_and_deletes(uow_factory: UnitOfWorkFactory) -> None:
    target = make_task(title="target")
    a, b, c = (
        make_task(task_id=UUID(int=n), title=f"t{n}", dependencies=(target.task_id,))
        for n in (1, 2, 3)
    )
    save(uow_factory, target, a, b, c)
    with uow_factory() as uow:
        first = uow.tasks.find_dependents(target.task_id, 1, None)
    assert first.tasks == [a]
    # Between two pages, the next one lets go and the one after is deleted.
    write(uow_factory, lambda uow: uow.tasks.update(next_version(b, dependencies=()), 1))
    write(uow_factory, lambda uow: uow.tasks.remove(c))
    with uow_factory() as uow:
        rest = uow.tasks.find_dependents(target.task_id, 1, first.next_position)
    assert rest.tasks == []
    assert rest.next_position is None


def test_find_dependents_resumes_after_a_dependent_that_is_gone(
    uow_factory: UnitOfWorkFactory,
) -> None:
    target = make_task(title="target")
    a, b, c = (
        make_task(task_id=UUID(int=n), title=f"t{n}", dependencies=(target.task_id,))
        for n in (1, 2, 3)
    )
    save(uow_factory, target, a, b, c)
    with uow_factory() as uow:
        first = uow.tasks.find_dependents(target.task_id, 2, None)
    assert first.tasks == [a, b]
    write(uow_factory, lambda uow: uow.tasks.remove(b))  # the position's own task
    with uow_factory() as uow:
        rest = uow.tasks.find_dependents(target.task_id, 2, first.next_position)
    assert (rest.tasks, rest.next_position) == ([c], None)


def test_find_dependents_refuses_a_position_it_did_not_issue(
    uow_factory: UnitOfWorkFactory,
) -> None:
    target = make_task(title="target")
    save(uow_factory, target, make_task(dependencies=(target.task_id,)))
    for foreign in (
        {"created_at": BASE.isoformat(), "task_id": str(uuid4())},  # a listing position
        {"task_id": "not-a-uuid"},
        {"task_id": 7},
        {},
    ):
        with uow_factory() as uow, pytest.raises(InvalidPageToken):
            uow.tasks.find_dependents(target.task_id, 10, foreign)


# -- find -----------------------------------------------------------------------------------


def test_find_on_an_empty_store_is_one_empty_page(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        found = uow.tasks.find(EVERYTHING, 10, None)
    assert found.tasks == []
    assert found.next_position is None


def test_find_orders_by_instant_of_creation_then_id(uow_factory: UnitOfWorkFactory) -> None:
    same_instant = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    created = [
        datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),  # = same_instant
        same_instant,
        same_instant + timedelta(microseconds=1),
        datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1969, 7, 20, 20, 17, tzinfo=UTC),  # before the Unix epoch
        datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    # Ids chosen so that insertion order, id order and time order all disagree.
    tasks = [
        make_task(task_id=UUID(int=n), title=f"t{n}", created_at=at)
        for n, at in zip((7, 3, 1, 9, 5, 2), created, strict=True)
    ]
    save(uow_factory, *tasks)
    (page,) = page_through(uow_factory, EVERYTHING, limit=50)
    assert [t.task_id.int for t in page] == [5, 9, 3, 7, 1, 2]
    assert page == listing_order(tasks)


def test_find_pages_through_everything_without_duplicates_or_gaps(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Only five distinct instants for 47 tasks: most page boundaries fall inside a tie.
    tasks = [
        make_task(title=f"task {i}", created_at=BASE + timedelta(seconds=i % 5)) for i in range(47)
    ]
    random.Random(47).shuffle(tasks)
    save(uow_factory, *tasks)

    pages = page_through(uow_factory, EVERYTHING, limit=4)

    assert [len(p) for p in pages] == [4] * 11 + [3]
    assert [t for p in pages for t in p] == listing_order(tasks)


def test_a_full_last_page_reports_no_next_page(uow_factory: UnitOfWorkFactory) -> None:
    save(uow_factory, *(make_task(created_at=BASE + timedelta(minutes=i)) for i in range(6)))
    assert [len(p) for p in page_through(uow_factory, EVERYTHING, limit=3)] == [3, 3]
    assert [len(p) for p in page_through(uow_factory, EVERYTHING, limit=6)] == [6]
    assert [len(p) for p in page_through(uow_factory, EVERYTHING, limit=100)] == [6]


@pytest.mark.parametrize(
    "task_filter",
    [
        TaskFilter(status=Status.IN_PROGRESS),
        TaskFilter(priority=Priority.HIGH),
        TaskFilter(assignee="ana@example.com"),
        TaskFilter(status=Status.PENDING, priority=Priority.LOW, assignee="bo@example.com"),
        TaskFilter(status=Status.COMPLETED, assignee="nobody@example.com"),
    ],
    ids=["status", "priority", "assignee", "all-three", "matches-nothing"],
)
def test_find_filters_and_pages_within_the_filter(
    uow_factory: UnitOfWorkFactory, task_filter: TaskFilter
) -> None:
    statuses, priorities = list(Status), list(Priority)
    assignees = ["ana@example.com", "bo@example.com", None, "Ana@example.com"]
    tasks = [
        make_task(
            title=f"task {i}",
            status=statuses[i % 3],
            priority=priorities[i % 2 + (i % 5 == 0)],
            assignee=assignees[i % 4],
            created_at=BASE + timedelta(seconds=i % 4),
        )
        for i in range(40)
    ]
    save(uow_factory, *tasks)
    expected = listing_order(
        [
            t
            for t in tasks
            if task_filter.status in (None, t.status)
            and task_filter.priority in (None, t.priority)
            and task_filter.assignee in (None, t.assignee)
        ]
    )
    pages = page_through(uow_factory, task_filter, limit=3)
    assert [t for p in pages for t in p] == expected
    assert all(len(p) == 3 for p in pages[:-1])


def test_find_refuses_a_position_it_did_not_issue(uow_factory: UnitOfWorkFactory) -> None:
    save(uow_factory, make_task())
    for foreign in (
        {"LastEvaluatedKey": {"pk": "TASK#1", "sk": "TASK#1"}},
        {"created_at": "yesterday", "task_id": str(uuid4())},
        {"created_at": BASE.isoformat(), "task_id": "not-a-uuid"},
    ):
        with uow_factory() as uow, pytest.raises(InvalidPageToken):
            uow.tasks.find(EVERYTHING, 10, foreign)


# -- conditional writes -------------------------------------------------------------------


def test_update_with_the_current_version_replaces_the_task(
    uow_factory: UnitOfWorkFactory,
) -> None:
    v1 = make_task()
    save(uow_factory, v1)
    v2 = next_version(v1, title="renamed", status=Status.IN_PROGRESS)
    write(uow_factory, lambda uow: uow.tasks.update(v2, 1))
    v3 = next_version(v2, status=Status.COMPLETED)
    write(uow_factory, lambda uow: uow.tasks.update(v3, 2))
    assert load(uow_factory, v1.task_id) == v3


def test_a_stale_update_conflicts_and_carries_the_current_task(
    uow_factory: UnitOfWorkFactory,
) -> None:
    v1 = make_task()
    save(uow_factory, v1)
    v2 = next_version(v1, title="the first writer wins")
    write(uow_factory, lambda uow: uow.tasks.update(v2, 1))

    with uow_factory() as uow:
        uow.tasks.update(next_version(v1, title="the second writer loses"), 1)
        with pytest.raises(VersionConflict) as raised:
            uow.commit()
    assert raised.value.current == v2
    assert raised.value.expected_version == 1
    assert load(uow_factory, v1.task_id) == v2


def test_updating_a_missing_task_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    ghost = make_task()
    with uow_factory() as uow:
        uow.tasks.update(next_version(ghost), 1)
        with pytest.raises(TaskNotFound):
            uow.commit()
    assert load(uow_factory, ghost.task_id) is None


def test_remove_is_conditional_on_the_version(uow_factory: UnitOfWorkFactory) -> None:
    v1 = make_task()
    save(uow_factory, v1)
    v2 = next_version(v1, title="changed meanwhile")
    write(uow_factory, lambda uow: uow.tasks.update(v2, 1))

    with uow_factory() as uow:
        uow.tasks.remove(v1)
        with pytest.raises(VersionConflict) as raised:
            uow.commit()
    assert raised.value.current == v2
    assert load(uow_factory, v1.task_id) == v2

    write(uow_factory, lambda uow: uow.tasks.remove(v2))
    assert load(uow_factory, v1.task_id) is None


def test_removing_a_missing_task_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.tasks.remove(make_task())
        with pytest.raises(TaskNotFound):
            uow.commit()


# -- the unit of work -----------------------------------------------------------------------


def test_reads_see_committed_state_not_staged_writes(uow_factory: UnitOfWorkFactory) -> None:
    a = make_task(title="a")
    save(uow_factory, a)
    b = make_task(title="b", dependencies=(a.task_id,))
    with uow_factory() as uow:
        uow.tasks.add(b)
        uow.tasks.update(next_version(a, title="renamed"), 1)
        assert uow.tasks.get(b.task_id) is None
        assert uow.tasks.get(a.task_id) == a
        assert uow.tasks.dependents_of(a.task_id) == []
        assert uow.tasks.find(EVERYTHING, 10, None).tasks == [a]
        uow.commit()


def test_leaving_without_commit_discards_tasks_and_events(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    kept = make_task(title="kept")
    save(uow_factory, kept)
    discarded = make_task(title="discarded", dependencies=(kept.task_id,))
    with uow_factory() as uow:
        uow.tasks.add(discarded)
        uow.tasks.update(next_version(kept, title="not applied"), 1)
        uow.outbox.add(created_event(discarded))
    assert load(uow_factory, discarded.task_id) is None
    assert load(uow_factory, kept.task_id) == kept
    assert dependents(uow_factory, kept.task_id) == []
    assert outbox_reader.pending(10) == []


def test_an_exception_inside_the_unit_of_work_discards_everything(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()

    class Boom(Exception):
        pass

    def stage_then_fail() -> None:
        with uow_factory() as uow:
            uow.tasks.add(task)
            uow.outbox.add(created_event(task))
            raise Boom

    with pytest.raises(Boom):
        stage_then_fail()
    assert load(uow_factory, task.task_id) is None
    assert outbox_reader.pending(10) == []


def test_a_commit_is_all_or_nothing(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    stale = make_task(title="will be stale")
    save(uow_factory, stale)
    fresh = next_version(stale, title="someone else's write")
    write(uow_factory, lambda uow: uow.tasks.update(fresh, 1))

    new = make_task(title="would be new", dependencies=(stale.task_id,))
    with uow_factory() as uow:
        uow.tasks.add(new)
        uow.tasks.update(next_version(stale, title="lost update"), 1)
        uow.outbox.add(created_event(new))
        with pytest.raises(VersionConflict):
            uow.commit()
        # The failed commit left no trace, even inside this unit of work.
        assert uow.tasks.get(new.task_id) is None
    assert load(uow_factory, new.task_id) is None
    assert load(uow_factory, stale.task_id) == fresh
    assert dependents(uow_factory, stale.task_id) == []
    assert outbox_reader.pending(10) == []


def test_tasks_and_their_events_commit_together(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()
    event = created_event(task)
    save(uow_factory, task, events=(event,))
    assert load(uow_factory, task.task_id) == task
    assert event_ids(outbox_reader) == [event.event_id]


# -- outbox ---------------------------------------------------------------------------------


def test_pending_is_oldest_first_and_respects_the_limit(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task(title=f"task {i}") for i in range(5)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, tasks[0], events=(events[0],))
    save(uow_factory, *tasks[1:4], events=tuple(events[1:4]))  # several in one commit
    save(uow_factory, tasks[4], events=(events[4],))

    assert event_ids(outbox_reader) == [e.event_id for e in events]
    assert [r.event.event_id for r in outbox_reader.pending(2)] == [
        events[0].event_id,
        events[1].event_id,
    ]
    assert all(r.attempts == 0 and r.last_error is None for r in outbox_reader.pending(10))


def test_mark_sent_removes_exactly_that_event(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(3)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))
    outbox_reader.mark_sent(events[1].event_id)
    assert event_ids(outbox_reader) == [events[0].event_id, events[2].event_id]
    outbox_reader.mark_sent(events[1].event_id)  # a second dispatcher got there too: no error
    outbox_reader.mark_sent(uuid4())
    assert event_ids(outbox_reader) == [events[0].event_id, events[2].event_id]


def test_mark_failed_counts_attempts_and_keeps_the_event_pending_in_place(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(2)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))

    outbox_reader.mark_failed(events[0].event_id, "ConnectionError: bus unreachable")
    outbox_reader.mark_failed(events[0].event_id, "TimeoutError: no reply in 5 s")
    outbox_reader.mark_failed(uuid4(), "not an event we know")

    first, second = outbox_reader.pending(10)
    assert first.event.event_id == events[0].event_id
    assert (first.attempts, first.last_error) == (2, "TimeoutError: no reply in 5 s")
    assert (second.attempts, second.last_error) == (0, None)


def test_a_pending_record_is_a_snapshot_of_the_outbox(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()
    event = created_event(task)
    save(uow_factory, task, events=(event,))
    (before,) = outbox_reader.pending(10)

    outbox_reader.mark_failed(event.event_id, "ConnectionError: bus unreachable")

    assert (before.attempts, before.last_error) == (0, None)
    (after,) = outbox_reader.pending(10)
    assert after.attempts == 1


def test_the_recorded_error_of_a_failed_delivery_is_bounded(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()
    event = created_event(task)
    save(uow_factory, task, events=(event,))
    huge = "RuntimeError: " + "x" * 50_000  # an exception message can be anything

    outbox_reader.mark_failed(event.event_id, huge)

    (record,) = outbox_reader.pending(10)
    assert record.last_error is not None
    assert len(record.last_error) == MAX_LAST_ERROR_LENGTH
    assert record.last_error.startswith("RuntimeError: xxx")


@pytest.mark.parametrize(
    "build_event",
    [
        pytest.param(lambda before, after: created_event(after), id="TaskCreated"),
        pytest.param(updated_event, id="TaskUpdated"),
        pytest.param(lambda before, after: deleted_event(before), id="TaskDeleted"),
    ],
)
def test_every_event_type_round_trips_through_the_outbox(
    uow_factory: UnitOfWorkFactory,
    outbox_reader: OutboxReader,
    build_event: Callable[[Task, Task], Event],
) -> None:
    dep = make_task(title="dep")
    before = make_task(title="before", description="old", assignee="ana@example.com")
    after = next_version(
        before,
        title="after ✅",
        description=None,
        status=Status.IN_PROGRESS,
        priority=Priority.HIGH,
        dependencies=(dep.task_id,),
        due_at=datetime(2030, 1, 1, 17, 0, tzinfo=UTC),
        assignee="bo@example.com",
        updated_at=BASE + timedelta(hours=1, microseconds=5),
    )
    event = build_event(before, after)
    save(uow_factory, dep, events=(event,))

    (record,) = outbox_reader.pending(10)
    # Read back by the tolerant reader, the event says exactly what the writer wrote.
    assert record.event.event_type == event.event_type
    assert record.event.model_dump(mode="json") == event.model_dump(mode="json")


# -- retries, dead letters and redrive ---------------------------------------------------
# The dispatcher schedules retries and gives up on poison events; the store keeps the schedule
# and the dead letters. Times are real (DynamoDB orders new events by their commit's clock).


def test_a_retried_event_is_not_pending_before_it_is_due_and_then_comes_after_the_others(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(3)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))
    now = datetime.now(UTC)
    retry_at = now + timedelta(minutes=5)

    outbox_reader.mark_failed(events[0].event_id, "ConnectionError: down", retry_at=retry_at)

    assert [r.event.event_id for r in outbox_reader.pending(10, now)] == [
        events[1].event_id,
        events[2].event_id,
    ]
    due = outbox_reader.pending(10, retry_at)
    assert [r.event.event_id for r in due] == [
        e.event_id for e in (events[1], events[2], events[0])
    ]
    assert (due[-1].attempts, due[-1].last_error) == (1, "ConnectionError: down")
    assert len(outbox_reader.pending(10)) == 3  # without a time: everything undelivered


def test_a_dead_lettered_event_is_set_aside_with_its_last_attempt(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(2)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))
    outbox_reader.mark_failed(events[0].event_id, "ValueError: first")

    outbox_reader.dead_letter(events[0].event_id, "ValueError: " + "x" * 5000)
    outbox_reader.dead_letter(uuid4(), "not an event we know")  # nothing to set aside

    assert event_ids(outbox_reader) == [events[1].event_id]
    (letter,) = outbox_reader.dead_letters()
    assert (letter.event_id, letter.event_type, letter.attempts) == (
        events[0].event_id,
        "TaskCreated",
        2,
    )
    assert letter.last_error is not None
    assert len(letter.last_error) == MAX_LAST_ERROR_LENGTH
    assert abs(letter.dead_lettered_at - datetime.now(UTC)) < timedelta(minutes=1)
    # A late failure reported by another dispatcher does not touch it; a late success means
    # the event was delivered after all: it is no dead letter any more.
    outbox_reader.mark_failed(events[0].event_id, "TimeoutError: late")
    assert [d.attempts for d in outbox_reader.dead_letters()] == [2]
    outbox_reader.mark_sent(events[0].event_id)
    assert outbox_reader.dead_letters() == []
    assert event_ids(outbox_reader) == [events[1].event_id]


def test_redrive_returns_a_dead_letter_behind_the_pending_events_with_fresh_attempts(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(3)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))
    outbox_reader.dead_letter(events[0].event_id, "ValueError: poison")
    outbox_reader.dead_letter(events[1].event_id, "ValueError: poison")

    assert outbox_reader.redrive(events[0].event_id) is True
    assert outbox_reader.redrive(events[0].event_id) is False  # no longer a dead letter
    assert outbox_reader.redrive(uuid4()) is False

    pending = outbox_reader.pending(10, datetime.now(UTC))
    assert [r.event.event_id for r in pending] == [events[2].event_id, events[0].event_id]
    assert (pending[-1].attempts, pending[-1].last_error) == (0, None)
    assert pending[-1].event.model_dump(mode="json") == events[0].model_dump(mode="json")
    assert [d.event_id for d in outbox_reader.dead_letters()] == [events[1].event_id]


def test_dead_letters_are_listed_oldest_first_and_limited(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    tasks = [make_task() for _ in range(3)]
    events = [created_event(t) for t in tasks]
    save(uow_factory, *tasks, events=tuple(events))
    for event in (events[2], events[0], events[1]):
        outbox_reader.dead_letter(event.event_id, "ValueError: poison")

    order = [events[2].event_id, events[0].event_id, events[1].event_id]
    assert [d.event_id for d in outbox_reader.dead_letters()] == order
    assert [d.event_id for d in outbox_reader.dead_letters(2)] == order[:2]


def test_an_unreadable_record_is_set_aside_and_the_others_stay_pending(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader, commit_raw: CommitRaw
) -> None:
    before, after = make_task(), make_task()
    save(uow_factory, before, events=(created_event(before),))
    broken = uuid4()
    commit_raw(broken, "TaskCreated", '{"event_id": "not even a uuid"')
    save(uow_factory, after, events=(created_event(after),))

    assert [r.event.task_id for r in outbox_reader.pending(10)] == [before.task_id, after.task_id]
    (letter,) = outbox_reader.dead_letters()
    assert (letter.event_id, letter.event_type, letter.attempts) == (broken, "TaskCreated", 0)
    assert letter.last_error is not None
    assert letter.last_error.startswith("unreadable: ")
    assert len(outbox_reader.pending(10)) == 2  # set aside once, not read again


def test_a_batch_is_filled_past_unreadable_records(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader, commit_raw: CommitRaw
) -> None:
    for _ in range(3):
        commit_raw(uuid4(), "TaskCreated", "{}")
    task = make_task()
    save(uow_factory, task, events=(created_event(task),))

    assert [r.event.task_id for r in outbox_reader.pending(2)] == [task.task_id]
    assert len(outbox_reader.dead_letters()) == 3


def test_an_event_of_a_later_minor_version_is_read_and_one_of_another_major_set_aside(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader, commit_raw: CommitRaw
) -> None:
    task = make_task()
    written = json.loads(created_event(task).model_dump_json())
    later = {**written, "actor": "ops", "task": {**written["task"], "status": "blocked"}}
    newer_major = {**written, "event_id": str(uuid4()), "schema_version": SCHEMA_VERSION + 1}
    commit_raw(UUID(later["event_id"]), "TaskCreated", json.dumps(later))
    commit_raw(UUID(newer_major["event_id"]), "TaskCreated", json.dumps(newer_major))

    (record,) = outbox_reader.pending(10)
    assert record.event.task.status == "blocked"
    assert [str(d.event_id) for d in outbox_reader.dead_letters()] == [newer_major["event_id"]]


# -- every task field survives storage -----------------------------------------------------


def test_every_task_field_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    deps = [make_task(title=f"dep {i}") for i in range(MAX_DEPENDENCIES)]
    task = make_task(
        title=("Überprüfung — 任务 ✅ 🚀 e\u0301 " * 20)[:MAX_TITLE_LENGTH],
        description="𝄞" * MAX_DESCRIPTION_LENGTH,  # four UTF-8 bytes each: the largest body
        status=Status.IN_PROGRESS,
        priority=Priority.HIGH,
        dependencies=tuple(d.task_id for d in reversed(deps)),
        due_at=datetime(2031, 3, 30, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-3.5))),
        assignee="ana.silva+tasks@example.com",
        created_at=datetime(2025, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
        updated_at=datetime(2025, 2, 3, 4, 5, 7, tzinfo=UTC),
    )
    # Several commits: DynamoDB's transactions hold 100 items, and a create also writes its
    # workspace's item (the service writes one task per unit of work); the task's 100 edges
    # still commit with it.
    save(uow_factory, *deps[:50])
    save(uow_factory, *deps[50:])
    save(uow_factory, task)

    with uow_factory() as uow:
        assert uow.tasks.get(task.task_id) == task
        assert uow.tasks.get_many([task.task_id]) == {task.task_id: task}
        assert task in uow.tasks.find(EVERYTHING, 200, None).tasks
        edges = uow.tasks.dependencies_of([task.task_id])
        reverse = {d.task_id: uow.tasks.dependents_of(d.task_id) for d in deps}
    stored = load(uow_factory, task.task_id)
    assert stored is not None
    assert stored.title == task.title
    assert stored.due_at == task.due_at
    assert stored.due_at is not None
    assert stored.due_at.utcoffset() == timedelta(0)
    assert set(edges[task.task_id]) == set(task.dependencies)
    assert reverse == {d.task_id: [task.task_id] for d in deps}


def test_optional_fields_can_be_cleared(uow_factory: UnitOfWorkFactory) -> None:
    dep = make_task()
    full = make_task(
        description="details",
        dependencies=(dep.task_id,),
        due_at=BASE,
        assignee="ana@example.com",
    )
    save(uow_factory, dep, full)
    cleared = next_version(full, description=None, dependencies=(), due_at=None, assignee=None)
    write(uow_factory, lambda uow: uow.tasks.update(cleared, 1))
    assert load(uow_factory, full.task_id) == cleared
    with uow_factory() as uow:
        assert uow.tasks.find(TaskFilter(assignee="ana@example.com"), 10, None).tasks == []
        assert uow.tasks.dependents_of(dep.task_id) == []


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_read_modify_write_loses_no_update(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    """Each worker reads, increments and conditionally writes, retrying on conflict. Whether
    the store serialises units of work (SQLite, memory) or detects the race at commit
    (DynamoDB), every increment lands exactly once, each with its event."""
    task = make_task(description="0")
    save(uow_factory, task)
    workers, increments = 4, 10

    def increment() -> None:
        for _ in range(100):
            with uow_factory() as uow:
                current = uow.tasks.get(task.task_id)
                assert current is not None
                assert current.description is not None
                bumped = next_version(current, description=str(int(current.description) + 1))
                uow.tasks.update(bumped, current.version)
                uow.outbox.add(updated_event(current, bumped))
                try:
                    uow.commit()
                except VersionConflict:
                    continue
                return
        raise AssertionError("an increment made no progress in 100 attempts")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(increment) for _ in range(workers * increments)]:
            future.result()

    final = load(uow_factory, task.task_id)
    assert final is not None
    assert final.version == 1 + workers * increments
    assert final.description == str(workers * increments)
    versions = [r.event.task.version for r in outbox_reader.pending(1000)]
    assert sorted(versions) == list(range(2, 2 + workers * increments))


def test_the_outbox_can_be_drained_while_writers_commit(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    """The dispatcher runs on its own thread next to request threads: it sees every committed
    event exactly once (when nothing fails) and never a half-committed one."""
    writers_done = threading.Event()
    written: list[UUID] = []
    drained: list[UUID] = []

    def write_tasks() -> None:
        for _ in range(10):
            task = make_task()
            event = created_event(task)
            save(uow_factory, task, events=(event,))
            written.append(event.event_id)  # list.append is atomic under the GIL

    def drain() -> None:
        while True:
            finished = writers_done.is_set()  # read before pending(): no event can slip by
            batch = outbox_reader.pending(5)
            for record in batch:
                with uow_factory() as uow:  # the task is committed before its event is visible
                    assert uow.tasks.get(record.event.task_id) is not None
                drained.append(record.event.event_id)
                outbox_reader.mark_sent(record.event.event_id)
            if finished and not batch:
                return

    with ThreadPoolExecutor(max_workers=4) as pool:
        drainer = pool.submit(drain)
        writers = [pool.submit(write_tasks) for _ in range(3)]
        for future in writers:
            future.result()
        writers_done.set()
        drainer.result(timeout=60)

    assert len(drained) == len(set(drained)) == 30
    assert set(drained) == set(written)
    assert outbox_reader.pending(10) == []


# -- requests recorded with the task they created (Idempotency-Key) ------------------------


def recorded(task: Task, key: str = "caller-key", *, at: datetime = BASE) -> RecordedRequest:
    return RecordedRequest(
        key=key,
        fingerprint="fingerprint-1",
        task=task,
        recorded_at=at,
        expires_at=at + timedelta(hours=24),
    )


def create_recorded(uow_factory: UnitOfWorkFactory, request: RecordedRequest) -> None:
    def stage(uow: UnitOfWork) -> None:
        uow.tasks.add(request.task)
        uow.outbox.add(created_event(request.task))
        uow.requests.add(request)

    write(uow_factory, stage)


def lookup(uow_factory: UnitOfWorkFactory, key: str, now: datetime) -> RecordedRequest | None:
    with uow_factory() as uow:
        return uow.requests.get(key, now)


def test_a_recorded_request_is_read_back_with_its_task(uow_factory: UnitOfWorkFactory) -> None:
    task = make_task(dependencies=())
    request = recorded(task)
    create_recorded(uow_factory, request)

    found = lookup(uow_factory, request.key, BASE + timedelta(minutes=5))

    assert found is not None
    assert (found.key, found.fingerprint, found.task) == (request.key, "fingerprint-1", task)
    assert found.expires_at == request.expires_at
    assert lookup(uow_factory, "another-key", BASE) is None


def test_a_live_record_refuses_a_second_commit_with_its_key_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    first = recorded(make_task(title="first"))
    create_recorded(uow_factory, first)
    second = recorded(make_task(title="duplicate"), at=BASE + timedelta(minutes=1))

    with pytest.raises(RequestAlreadyRecorded):
        create_recorded(uow_factory, second)

    assert load(uow_factory, second.task.task_id) is None
    assert [r.event.task.title for r in outbox_reader.pending(10)] == ["first"]
    found = lookup(uow_factory, first.key, BASE + timedelta(minutes=2))
    assert found is not None
    assert found.task == first.task


def test_an_expired_record_is_ignored_and_gives_way(uow_factory: UnitOfWorkFactory) -> None:
    old = recorded(make_task(title="yesterday"))
    create_recorded(uow_factory, old)
    later = old.expires_at + timedelta(seconds=1)

    assert lookup(uow_factory, old.key, later) is None
    fresh = recorded(make_task(title="today"), at=later)
    create_recorded(uow_factory, fresh)

    found = lookup(uow_factory, old.key, later)
    assert found is not None
    assert found.task.title == "today"


# -- what every store refuses, whatever the service checked before -------------------------


def test_a_dependency_that_does_not_exist_is_refused_at_commit(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    missing = uuid4()
    dangling = make_task(dependencies=(missing,))

    with pytest.raises(DependenciesNotFound) as refused:
        save(uow_factory, dangling, events=(created_event(dangling),))

    assert refused.value.missing == (missing,)
    assert load(uow_factory, dangling.task_id) is None
    assert dependents(uow_factory, missing) == []
    assert outbox_reader.pending(10) == []


def test_a_dependency_written_in_the_same_commit_exists(uow_factory: UnitOfWorkFactory) -> None:
    first = make_task(title="first")
    second = make_task(title="second", dependencies=(first.task_id,))

    save(uow_factory, first, second)

    assert dependents(uow_factory, first.task_id) == [second.task_id]


def test_two_events_with_one_event_id_are_refused_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory, outbox_reader: OutboxReader
) -> None:
    task = make_task()
    event = created_event(task)
    save(uow_factory, task, events=(event,))
    other = make_task(title="other")
    reused = created_event(other).model_copy(update={"event_id": event.event_id})

    # Twice in one commit: refused as it is staged.
    with uow_factory() as uow:
        uow.outbox.add(reused)
        with pytest.raises(ValueError, match="event id"):
            uow.outbox.add(reused)
    # Already in the outbox from an earlier commit: the commit fails as a whole.
    with pytest.raises(StoreFailure):
        save(uow_factory, other, events=(reused,))

    assert load(uow_factory, other.task_id) is None
    assert [r.event.event_id for r in outbox_reader.pending(10)] == [event.event_id]
