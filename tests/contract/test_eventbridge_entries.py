"""Every domain event becomes a PutEvents entry that EventBridge accepts.

Checked against botocore's own model of the PutEvents input (not a hand-written copy of it)
and against EventBridge's entry size limit, computed the way EventBridge documents it. The
domain's field limits are what keep the largest possible event under that limit; the test
with the largest possible task proves they do, with room to spare.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from taskapi.adapters.aws.eventbridge import (
    MAX_ENTRIES_PER_CALL,
    MAX_ENTRY_BYTES,
    MAX_REQUEST_BYTES,
    TRACE_HEADER_VARIABLE,
    EventBridgePublisher,
    EventEntryBuilder,
    EventEntryTooLarge,
    InvalidEventEntry,
    entry_size,
    validate_entry,
)
from taskapi.domain.events import (
    SCHEMA_VERSION,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    diff,
    new_event_fields,
    parse_event,
)
from taskapi.domain.model import (
    MAX_DEPENDENCIES,
    MAX_DESCRIPTION_LENGTH,
    MAX_TITLE_LENGTH,
    MUTABLE_FIELDS,
    Priority,
    Status,
    Task,
)
from taskapi.service.ports import Event
from tests.fakes.builders import created_event, deleted_event, make_task, updated_event

BUILDER = EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi-events")
# Characters whose JSON form is longest: a control character is escaped as six bytes
# (\u001f), more than any printable character takes in UTF-8 (at most four).
WIDEST_CHARS = ("\x1f", "\x1e")
# An address as long as email-validator accepts (254 characters in all).
LONGEST_EMAIL = "a" * 58 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63, "com"])


def every_event_type() -> list[Event]:
    task = make_task(description="details", assignee="ana@example.com")
    later = task.model_copy(update={"status": Status.COMPLETED, "version": 2})
    return [created_event(task), updated_event(task, later), deleted_event(later)]


@pytest.mark.parametrize("event", every_event_type(), ids=lambda e: e.event_type)
def test_every_event_type_builds_an_entry_botocore_accepts(event: Event) -> None:
    entry = BUILDER.build(event)

    validate_entry(entry)  # botocore's ParamValidator on the PutEvents input shape
    assert entry["Source"] == "taskapi.tasks"
    assert entry["EventBusName"] == "taskapi-events"
    assert entry["DetailType"] == event.event_type
    assert entry["Time"] == event.occurred_at
    assert parse_event(entry["Detail"]) == event


def test_entry_size_follows_eventbridges_documented_rule() -> None:
    # Time: 14; "src": 3; "é" is two UTF-8 bytes; "{}": 2; resources: 4 + 3 ("€" is three).
    entry: Any = {
        "Time": datetime(2025, 1, 1, tzinfo=UTC),
        "Source": "src",
        "DetailType": "é",
        "Detail": "{}",
        "Resources": ["arn1", "€"],
    }
    assert entry_size(entry) == 14 + 3 + 2 + 2 + 4 + 3
    del entry["Time"]
    assert entry_size(entry) == 3 + 2 + 2 + 4 + 3


def largest_task(char: str = WIDEST_CHARS[0]) -> Task:
    return make_task(
        title=char * MAX_TITLE_LENGTH,
        description=char * MAX_DESCRIPTION_LENGTH,
        dependencies=tuple(uuid.uuid4() for _ in range(MAX_DEPENDENCIES)),
        due_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        assignee=LONGEST_EMAIL,
        status=Status.IN_PROGRESS,
        priority=Priority.HIGH,
    )


def test_the_largest_possible_event_fits_in_one_entry() -> None:
    """The worst case: every mutable field changes from a maximal value to another maximal
    value, so the event carries the maximal task once and every field twice more."""
    before = largest_task(WIDEST_CHARS[0])
    after = largest_task(WIDEST_CHARS[1]).model_copy(
        update={
            "task_id": before.task_id,
            "status": Status.COMPLETED,
            "priority": Priority.LOW,
            "due_at": datetime(9999, 12, 30, tzinfo=UTC),
            "assignee": "z" + LONGEST_EMAIL[1:],
            "version": before.version + 1,
        }
    )
    changes = diff(before, after, MUTABLE_FIELDS)
    assert set(changes) == set(MUTABLE_FIELDS)
    largest = TaskUpdated(
        **new_event_fields(uuid.uuid4(), after.updated_at, after), changes=changes
    )

    entry = BUILDER.build(largest)

    size = entry_size(entry)
    assert size == len(entry["Detail"].encode()) + len(b"taskapi.tasksTaskUpdated") + 14
    assert size < MAX_ENTRY_BYTES // 4, f"{size} bytes leaves less headroom than expected"


@pytest.mark.parametrize("event_type", [TaskCreated, TaskDeleted])
def test_a_snapshot_of_the_largest_task_fits(event_type: type[TaskCreated | TaskDeleted]) -> None:
    task = largest_task()
    event = event_type(**new_event_fields(uuid.uuid4(), task.updated_at, task))
    assert entry_size(BUILDER.build(event)) < MAX_ENTRY_BYTES // 8


def test_an_oversized_event_is_refused_when_its_entry_is_built() -> None:
    # Only a task that bypassed validation can be this large: a broken limit, caught early.
    event = event_of_size(MAX_ENTRY_BYTES)
    with pytest.raises(EventEntryTooLarge) as raised:
        BUILDER.build(event)
    assert raised.value.size > MAX_ENTRY_BYTES
    assert str(event.event_id) in str(raised.value)


def test_an_entry_botocore_would_refuse_is_refused_when_built() -> None:
    nameless_bus = EventEntryBuilder(source="taskapi.tasks", event_bus_name="")
    with pytest.raises(InvalidEventEntry, match="EventBusName"):
        nameless_bus.build(every_event_type()[0])


# -- batching within the PutEvents quotas ------------------------------------------------------


def stubbed_publisher() -> tuple[EventBridgePublisher, Stubber, list[list[dict[str, Any]]]]:
    client = boto3.client(
        "events",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    calls: list[list[dict[str, Any]]] = []
    client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: calls.append(list(params["Entries"])),
    )
    return EventBridgePublisher(client, BUILDER), Stubber(client), calls


def accepted(count: int) -> dict[str, Any]:
    return {
        "FailedEntryCount": 0,
        "Entries": [{"EventId": str(uuid.uuid4())} for _ in range(count)],
    }


def test_events_go_out_ten_entries_per_call_in_order() -> None:
    publisher, stubber, calls = stubbed_publisher()
    events = [created_event(make_task(title=f"task {i}")) for i in range(25)]
    for count in (10, 10, 5):
        stubber.add_response("put_events", accepted(count), {"Entries": ANY})

    with stubber:
        assert publisher.publish(events) == {}

    stubber.assert_no_pending_responses()
    assert [len(entries) for entries in calls] == [10, 10, 5]
    sent = [parse_event(entry["Detail"]).event_id for entries in calls for entry in entries]
    assert sent == [event.event_id for event in events]
    assert max(len(entries) for entries in calls) <= MAX_ENTRIES_PER_CALL


def test_large_events_split_calls_under_the_request_size_limit() -> None:
    publisher, stubber, calls = stubbed_publisher()
    # About 50 KB each: five fit in a request, six would not.
    big = [event_of_size(50_000) for _ in range(8)]
    for count in (5, 3):
        stubber.add_response("put_events", accepted(count), {"Entries": ANY})

    with stubber:
        assert publisher.publish(big) == {}

    assert [len(entries) for entries in calls] == [5, 3]
    assert all(sum(map(entry_size, entries)) < MAX_REQUEST_BYTES for entries in calls)


def test_an_event_that_cannot_become_an_entry_fails_alone_and_the_rest_go_out() -> None:
    publisher, stubber, calls = stubbed_publisher()
    events = [
        created_event(make_task()),
        event_of_size(MAX_ENTRY_BYTES),
        created_event(make_task()),
    ]
    stubber.add_response("put_events", accepted(2), {"Entries": ANY})

    with stubber:
        rejected = publisher.publish(events)

    assert list(rejected) == [events[1].event_id]
    assert rejected[events[1].event_id].startswith("EventEntryTooLarge")
    sent = [parse_event(entry["Detail"]).event_id for entries in calls for entry in entries]
    assert sent == [events[0].event_id, events[2].event_id]


def event_of_size(approximate_bytes: int) -> Event:
    """A created event of at least this entry size. Only an event built around validation
    can be this large (the domain's limits keep real events far smaller): a broken limit."""
    fields = make_task().model_dump() | {"description": "x" * approximate_bytes}
    task = Task.model_construct(**fields)
    return TaskCreated.model_construct(
        event_id=uuid.uuid4(),
        schema_version=SCHEMA_VERSION,
        workspace_id=task.workspace_id,
        occurred_at=task.created_at,
        task=task,
        event_type="TaskCreated",
    )


# -- tracing ----------------------------------------------------------------------------

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_a_traced_invocation_passes_its_trace_header_to_the_bus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRACE_HEADER_VARIABLE, TRACE_HEADER)

    entry = BUILDER.build(created_event(make_task()))

    assert entry["TraceHeader"] == TRACE_HEADER
    # The header is not part of the entry's size (EventBridge does not count it).
    untraced = entry.copy()
    untraced.pop("TraceHeader")
    assert entry_size(entry) == entry_size(untraced)


def test_without_a_trace_there_is_no_trace_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACE_HEADER_VARIABLE, raising=False)

    assert "TraceHeader" not in BUILDER.build(created_event(make_task()))
