"""Domain events: the field diff they carry and their JSON round trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from taskapi.domain.events import SCHEMA_VERSION, FieldChange, TaskUpdated, diff, parse_event
from taskapi.domain.model import MUTABLE_FIELDS, Priority, Status, Task
from taskapi.service.ports import Event
from tests.fakes.builders import (
    created_event,
    deleted_event,
    make_task,
    next_version,
    updated_event,
)


def test_diff_lists_only_changed_fields_with_json_values() -> None:
    dep = uuid4()
    before = make_task(description="old", assignee="ana@example.com")
    after = next_version(
        before,
        status=Status.COMPLETED,
        dependencies=(dep,),
        due_at=datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
        description=None,
        updated_at=datetime(2031, 1, 1, tzinfo=UTC),  # not a mutable field: never listed
    )
    assert diff(before, after, MUTABLE_FIELDS) == {
        "description": FieldChange(previous="old", current=None),
        "status": FieldChange(previous="pending", current="completed"),
        "dependencies": FieldChange(previous=[], current=[str(dep)]),
        "due_at": FieldChange(previous=None, current="2030-01-01T09:00:00Z"),
    }


def test_diff_of_equal_tasks_is_empty() -> None:
    task = make_task(priority=Priority.HIGH)
    assert diff(task, next_version(task), MUTABLE_FIELDS) == {}


@pytest.mark.parametrize("build", [created_event, deleted_event], ids=["created", "deleted"])
def test_snapshot_events_round_trip_through_json(build: Callable[[Task], Event]) -> None:
    event = build(make_task(assignee="ana@example.com"))
    parsed = parse_event(event.model_dump_json())
    assert type(parsed) is type(event)
    assert parsed == event
    assert parse_event(event.model_dump(mode="json")) == event


def test_an_update_event_round_trips_with_its_changes() -> None:
    before = make_task()
    event = updated_event(before, next_version(before, title="renamed"))
    parsed = parse_event(event.model_dump_json())
    assert isinstance(parsed, TaskUpdated)
    assert parsed.changes == {"title": FieldChange(previous=before.title, current="renamed")}
    assert parsed.task_id == before.task_id


def test_every_event_names_the_workspace_of_its_task() -> None:
    task = make_task(workspace_id=uuid4())

    for event in (created_event(task), deleted_event(task)):
        assert event.workspace_id == task.workspace_id
        assert event.model_dump(mode="json")["workspace_id"] == str(task.workspace_id)
        assert event.schema_version == SCHEMA_VERSION == 2


def test_the_writer_refuses_an_event_whose_workspace_is_not_its_tasks() -> None:
    data = created_event(make_task()).model_dump(mode="json") | {"workspace_id": str(uuid4())}

    with pytest.raises(ValidationError, match="workspace_id"):
        parse_event(data)


def test_the_writer_refuses_an_event_without_a_workspace() -> None:
    data = created_event(make_task()).model_dump(mode="json")
    del data["workspace_id"]

    with pytest.raises(ValidationError, match="workspace_id"):
        parse_event(data)


def test_an_unknown_event_type_is_refused() -> None:
    data = created_event(make_task()).model_dump(mode="json") | {"event_type": "TaskArchived"}
    with pytest.raises(ValidationError):
        parse_event(data)
