"""The tolerant reader models (``domain/event_readers.py``) against the writer's models."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from taskapi.domain.event_readers import (
    ReceivedTask,
    ReceivedTaskUpdated,
    read_envelope,
    read_event,
)
from taskapi.domain.model import Priority, Status, Task
from tests.fakes.builders import created_event, make_task, next_version, updated_event


def test_the_received_task_has_exactly_the_fields_of_the_task() -> None:
    # A field added to Task must be added to the reader too, or our consumers never see it.
    assert list(ReceivedTask.model_fields) == list(Task.model_fields)
    for name, field in Task.model_fields.items():
        assert ReceivedTask.model_fields[name].is_required() == field.is_required(), name


def test_known_enum_values_are_read_as_the_enum_members() -> None:
    task = make_task(status=Status.IN_PROGRESS, priority=Priority.HIGH)
    event = read_event(
        updated_event(task, next_version(task, status=Status.COMPLETED)).model_dump_json()
    )

    assert isinstance(event, ReceivedTaskUpdated)
    assert event.task.status is Status.COMPLETED
    assert event.task.priority is Priority.HIGH


def test_a_value_added_later_is_kept_as_its_string_and_a_wrong_type_is_refused() -> None:
    written = json.loads(created_event(make_task()).model_dump_json())

    later = read_event({**written, "task": {**written["task"], "status": "blocked"}})
    assert later.task.status == "blocked"
    with pytest.raises(ValidationError):
        read_event({**written, "task": {**written["task"], "status": ["blocked"]}})


def test_todays_rules_still_hold_for_what_the_reader_accepts() -> None:
    written = json.loads(created_event(make_task()).model_dump_json())

    with pytest.raises(ValidationError):
        read_event({**written, "task": {**written["task"], "title": ""}})
    with pytest.raises(ValidationError):
        read_event({key: value for key, value in written.items() if key != "occurred_at"})


def test_the_envelope_writes_back_every_field_it_does_not_interpret() -> None:
    written = json.loads(created_event(make_task()).model_dump_json())
    later = {**written, "event_type": "TaskArchived", "schema_version": 2, "actor": {"id": 7}}

    envelope = read_envelope(json.dumps(later))

    assert envelope.event_type == "TaskArchived"
    assert json.loads(envelope.model_dump_json()) == later


def test_the_envelope_refuses_json_without_an_event_id() -> None:
    with pytest.raises(ValueError, match="event_id"):
        read_envelope('{"event_type": "TaskCreated", "schema_version": 1}')
