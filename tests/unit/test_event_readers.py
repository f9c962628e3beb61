"""The tolerant reader models (``domain/event_readers.py``) against the writer's models."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

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

OTHER_WORKSPACE = UUID("9e4d2b71-0c3a-4f58-b6e1-2a7d8c9f0e13")


def test_the_received_task_has_exactly_the_fields_of_the_task() -> None:
    # A field added to Task must be added to the reader too, or our consumers never see it.
    # The one exception: a version-1 snapshot has no workspace_id (the event requires it of
    # a version-2 one, tested below).
    assert list(ReceivedTask.model_fields) == list(Task.model_fields)
    for name, field in Task.model_fields.items():
        expected = field.is_required() and name != "workspace_id"
        assert ReceivedTask.model_fields[name].is_required() == expected, name


def as_version_1(written: dict[str, Any]) -> dict[str, Any]:
    """A version-2 event's JSON as the release before workspaces wrote it."""
    task = {key: value for key, value in written["task"].items() if key != "workspace_id"}
    top = {key: value for key, value in written.items() if key != "workspace_id"}
    return {**top, "schema_version": 1, "task": task}


def test_an_event_names_its_workspace_at_the_top_and_in_the_task() -> None:
    task = make_task(workspace_id=OTHER_WORKSPACE)

    event = read_event(created_event(task).model_dump_json())

    assert event.workspace_id == event.task.workspace_id == OTHER_WORKSPACE
    assert not event.before_workspaces


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("workspace_id"),
        lambda d: d["task"].pop("workspace_id"),
        lambda d: d.update(workspace_id=str(OTHER_WORKSPACE)),
        lambda d: d.update(workspace_id=None),
        lambda d: d.update(workspace_id="team-a"),
    ],
    ids=["absent", "absent from the task", "not the task's", "null", "not a uuid"],
)
def test_a_version_2_event_without_its_workspace_is_refused(breakage: Any) -> None:
    written = json.loads(created_event(make_task()).model_dump_json())
    breakage(written)

    with pytest.raises(ValidationError, match="workspace_id"):
        read_event(written)


def test_a_version_1_event_is_read_without_a_workspace() -> None:
    task = make_task(status=Status.IN_PROGRESS, assignee="ana@example.com")
    written = json.loads(
        updated_event(task, next_version(task, status=Status.COMPLETED)).model_dump_json()
    )

    event = read_event(as_version_1(written))

    assert isinstance(event, ReceivedTaskUpdated)
    assert (event.schema_version, event.workspace_id, event.task.workspace_id) == (1, None, None)
    assert event.before_workspaces
    assert event.task.task_id == task.task_id
    assert event.changes["status"].current == "completed"


def test_a_version_1_event_never_gets_a_workspace_from_what_it_carries() -> None:
    # Version 1 knew no workspaces: a field of that name is not ours to interpret.
    written = json.loads(created_event(make_task()).model_dump_json())
    smuggled = {**written, "schema_version": 1}

    event = read_event(smuggled)

    assert (event.workspace_id, event.task.workspace_id) == (None, None)


@pytest.mark.parametrize("version", [0, 3, 99])
def test_any_other_major_version_is_refused(version: int) -> None:
    written = json.loads(created_event(make_task()).model_dump_json())

    with pytest.raises(ValidationError, match="schema_version"):
        read_event({**written, "schema_version": version})
    with pytest.raises(ValidationError, match="schema_version"):
        read_event({**as_version_1(written), "schema_version": version})


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
    later = {**written, "event_type": "TaskArchived", "schema_version": 3, "actor": {"id": 7}}

    envelope = read_envelope(json.dumps(later))

    assert envelope.event_type == "TaskArchived"
    assert json.loads(envelope.model_dump_json()) == later
    assert json.loads(envelope.model_dump_json())["workspace_id"] == written["workspace_id"]


def test_the_envelope_forwards_a_version_1_event_as_it_came() -> None:
    written = as_version_1(json.loads(created_event(make_task()).model_dump_json()))

    envelope = read_envelope(json.dumps(written))

    assert json.loads(envelope.model_dump_json()) == written


def test_the_envelope_refuses_json_without_an_event_id() -> None:
    with pytest.raises(ValueError, match="event_id"):
        read_envelope('{"event_type": "TaskCreated", "schema_version": 1}')
