"""Properties of the task events across versions: whatever the task, the tolerant reader reads
a version-2 event as it was written (in its workspace), the same event as version 1 wrote it
(without one), and the same event with fields a later minor revision adds."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from taskapi.domain.event_readers import read_event
from taskapi.domain.events import TaskEvent
from taskapi.domain.model import Task
from tests.fakes.builders import created_event, deleted_event, next_version, updated_event
from tests.property.test_model_properties import tasks


@st.composite
def events(draw: st.DrawFn) -> TaskEvent:
    task: Task = draw(tasks())
    kind = draw(st.sampled_from(["created", "updated", "deleted"]))
    if kind == "created":
        return created_event(task)
    if kind == "deleted":
        return deleted_event(task)
    after = next_version(task, title=draw(st.sampled_from(["Renamed", task.title + " (2)"])))
    return updated_event(task, after)


def _as_version_1(written: dict[str, Any]) -> dict[str, Any]:
    task = {k: v for k, v in written["task"].items() if k != "workspace_id"}
    top = {k: v for k, v in written.items() if k != "workspace_id"}
    return {**top, "schema_version": 1, "task": task}


def _reader_view(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(read_event(data).model_dump_json())  # type: ignore[no-any-return]


@given(events())
def test_a_version_2_event_is_read_in_its_workspace_as_written(event: TaskEvent) -> None:
    written = json.loads(event.model_dump_json())

    received = read_event(written)

    assert received.workspace_id == received.task.workspace_id == event.task.workspace_id
    assert json.loads(received.model_dump_json()) == written


@given(events())
def test_the_same_event_as_version_1_is_read_without_a_workspace_and_otherwise_equal(
    event: TaskEvent,
) -> None:
    written = json.loads(event.model_dump_json())

    received = read_event(_as_version_1(written))

    assert (received.workspace_id, received.task.workspace_id) == (None, None)
    view = json.loads(received.model_dump_json())
    assert view["workspace_id"] is None
    assert view["task"].pop("workspace_id") is None
    assert {k: v for k, v in view.items() if k != "workspace_id"} == _as_version_1(written)


@given(events(), st.dictionaries(st.text(min_size=1).map(lambda k: "x_" + k), st.integers()))
def test_fields_a_later_minor_revision_adds_change_nothing_read(
    event: TaskEvent, added: dict[str, int]
) -> None:
    written = json.loads(event.model_dump_json())
    later = {**added, **written, "task": {**added, **written["task"]}}

    assert _reader_view(later) == _reader_view(written)


@given(events())
def test_a_version_2_event_in_another_workspace_than_its_task_is_refused(event: TaskEvent) -> None:
    written = json.loads(event.model_dump_json())

    with pytest.raises(ValidationError, match="workspace_id"):
        read_event({**written, "workspace_id": str(uuid4())})
