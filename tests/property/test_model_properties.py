"""Properties of the task model: JSON round-trips, timestamps and title trimming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from taskapi.domain.model import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TITLE_LENGTH,
    Priority,
    Status,
    Task,
)
from taskapi.service.commands import CreateTask

# Characters a person types into a title. Control characters are left out on purpose:
# Pydantic's strip (Rust ``trim``) and ``str.strip`` disagree on U+001C..U+001F.
printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
# Whitespace that is trimmed; tab, line breaks and the other control characters are refused
# anywhere in a title, surrounding ones included (a title is one line).
padding = st.text(alphabet=" \xa0\u2028\u3000", max_size=5)
control_padding = st.text(alphabet="\t\n\r\x0b\x0c\x1f\x85", min_size=1, max_size=3)
titles = st.text(printable, min_size=1, max_size=MAX_TITLE_LENGTH).filter(lambda t: t.strip())
# Timestamps whose UTC equivalent exists for any offset (year 1 at +05:00 does not).
instants = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.timezones()
)


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    task_id = draw(st.uuids())
    dependencies = draw(st.lists(st.uuids(), unique=True, max_size=5))
    assume(task_id not in dependencies)
    created_at = draw(instants)
    return Task(
        task_id=task_id,
        workspace_id=draw(st.uuids()),
        title=draw(titles),
        description=draw(st.none() | st.text(max_size=MAX_DESCRIPTION_LENGTH)),
        status=draw(st.sampled_from(Status)),
        priority=draw(st.sampled_from(Priority)),
        dependencies=tuple(dependencies),
        due_at=draw(st.none() | instants),
        assignee=draw(st.none() | st.sampled_from(["ana@example.com", "bo.li+tasks@example.org"])),
        created_at=created_at,
        updated_at=created_at
        + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=1))),
        version=draw(st.integers(min_value=1, max_value=2**53)),
    )


@given(tasks())
def test_a_task_survives_a_json_round_trip(task: Task) -> None:
    assert Task.model_validate_json(task.model_dump_json()) == task
    assert Task.model_validate(task.model_dump(mode="json")) == task


@given(tasks())
def test_every_timestamp_is_stored_in_utc(task: Task) -> None:
    stamps = [task.created_at, task.updated_at, *([task.due_at] if task.due_at else [])]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)


# Random draws seldom reach the two edges where the conversion overflows; pin them.
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
@example(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))))
@given(st.datetimes(timezones=st.timezones()))
def test_any_offset_timestamp_is_the_same_instant_in_utc_or_a_validation_error(
    due_at: datetime,
) -> None:
    # Near year 1 and 9999 an offset can push the instant out of range: that must be a
    # validation error (a 400), never an OverflowError escaping as a 500.
    try:
        command = CreateTask(title="t", due_at=due_at)
    except ValidationError:
        assert due_at.year in (1, 9999)
        return
    assert command.due_at is not None
    assert command.due_at.tzinfo is UTC
    # Compare instants, not datetimes: Python never calls a time in a DST fold or gap equal to
    # a time in another zone (PEP 495).
    assert command.due_at.timestamp() == due_at.timestamp()


@given(padding, titles, padding)
def test_a_title_is_stored_trimmed(before: str, title: str, after: str) -> None:
    assert CreateTask(title=before + title + after).title == title.strip()


@given(padding)
def test_a_blank_title_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError):
        CreateTask(title=blank)


@given(control_padding, titles)
def test_a_title_with_a_control_character_is_refused_even_at_the_edge(
    control: str, title: str
) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        CreateTask(title=title + control)
