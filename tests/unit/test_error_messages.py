"""The messages clients read: every domain error and validation failure says what went wrong,
naming the ids involved, in words that stay the same from release to release."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from taskapi.domain import rules
from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    HasDependents,
    IdempotencyKeyReused,
    InvalidTransition,
)
from taskapi.domain.event_readers import read_event
from taskapi.domain.model import Status
from taskapi.domain.text import ELLIPSIS, clip
from taskapi.service.commands import CreateTask, UpdateTask
from tests.fakes.builders import created_event, make_task

A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


def test_a_refused_transition_lists_every_allowed_status() -> None:
    error = InvalidTransition(Status.COMPLETED, Status.IN_PROGRESS, (Status.PENDING,))
    many = InvalidTransition(
        Status.IN_PROGRESS, Status.PENDING, (Status.COMPLETED, Status.IN_PROGRESS)
    )

    assert error.message == ("cannot move a task from completed to in_progress; allowed: pending")
    assert error.details == {"from": "completed", "to": "in_progress", "allowed": ["pending"]}
    assert many.message.endswith("; allowed: completed, in_progress")


def test_a_status_with_no_way_out_says_none_is_allowed() -> None:
    error = InvalidTransition(Status.COMPLETED, Status.PENDING, ())

    assert error.message == "cannot move a task from completed to pending; allowed: none"
    assert error.details["allowed"] == []


def test_completing_with_open_dependencies_names_them_all() -> None:
    with pytest.raises(DependenciesNotCompleted) as raised:
        rules.check_can_complete({A: Status.PENDING, B: Status.IN_PROGRESS})

    assert raised.value.message == (
        f"cannot complete the task while dependencies are not completed: {A}, {B}"
    )
    assert raised.value.details == {"blocking_dependencies": [str(A), str(B)]}


def test_changing_the_dependencies_of_a_completed_task_says_how_to_proceed() -> None:
    with pytest.raises(DependenciesNotCompleted) as raised:
        rules.check_can_complete({A: Status.PENDING}, stays_completed=True)

    assert raised.value.message == (
        "cannot change the dependencies of a completed task while ones it keeps are not "
        "completed (complete them, or reopen it: status pending in this update): " + str(A)
    )


def test_missing_dependencies_and_dependents_are_listed_comma_separated() -> None:
    missing = DependenciesNotFound([A, B])
    dependents = HasDependents(A, [B, A])

    assert missing.message == f"dependencies do not exist: {A}, {B}"
    assert dependents.message == (f"task {A} cannot be deleted: other tasks depend on it: {B}, {A}")


def test_a_reused_idempotency_key_says_to_use_a_new_one() -> None:
    assert IdempotencyKeyReused().message == (
        "this Idempotency-Key was already used with a different request body; use a new key "
        "for a new request"
    )


def messages(error: ValidationError) -> list[str]:
    return [str(e["msg"]) for e in error.errors()]


def test_repeated_dependencies_are_each_named_once() -> None:
    with pytest.raises(ValidationError) as raised:
        CreateTask.model_validate({"title": "t", "dependencies": [str(B), str(A), str(B), str(A)]})

    assert messages(raised.value) == [
        f"Value error, dependencies must be unique; repeated: {A}, {B}"
    ]


def test_a_timestamp_without_a_utc_equivalent_is_a_validation_error() -> None:
    east = timezone(timedelta(hours=5))

    with pytest.raises(ValidationError) as raised:
        make_task(due_at=datetime(1, 1, 1, 0, 0, tzinfo=east))

    assert messages(raised.value) == [
        "Value error, the timestamp is out of range once converted to UTC"
    ]


def test_a_badly_spelled_id_is_refused_with_an_example_of_the_right_spelling() -> None:
    with pytest.raises(ValidationError) as raised:
        CreateTask.model_validate({"title": "t", "dependencies": ["{" + str(A) + "}"]})

    assert messages(raised.value) == [
        "Value error, must be a UUID written as 8-4-4-4-12 hexadecimal digits, "
        "e.g. 0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21"
    ]


def test_a_control_character_is_named_with_its_position() -> None:
    with pytest.raises(ValidationError) as title:
        CreateTask.model_validate({"title": "ab\tc"})
    with pytest.raises(ValidationError) as description:
        CreateTask.model_validate({"title": "t", "description": "ok\n\x1b[31m"})

    assert messages(title.value) == [
        "Value error, must not contain control characters; found U+0009 at position 2"
    ]
    assert messages(description.value) == [
        "Value error, must not contain control characters other than tab, line feed, "
        "carriage return; found U+001B at position 3"
    ]


def test_the_version_of_an_update_is_not_one_of_its_changes() -> None:
    command = UpdateTask.model_validate({"title": "new", "assignee": None, "version": 3})

    assert command.changes() == {"title": "new", "assignee": None}
    assert command.version == 3


def test_an_event_of_another_major_version_is_refused_saying_which_this_release_reads() -> None:
    data = created_event(make_task()).model_dump(mode="json") | {"schema_version": 3}

    with pytest.raises(ValidationError) as raised:
        read_event(data)

    assert messages(raised.value) == [
        "Value error, schema_version 3 is not 2 (or 1, from before workspaces), the major "
        "versions this release reads"
    ]


@pytest.mark.parametrize("length", [9, 10])
def test_text_within_the_limit_is_kept_whole(length: int) -> None:
    text = "x" * length

    assert clip(text, 10) == text


@pytest.mark.parametrize("length", [11, 500])
def test_text_over_the_limit_is_cut_to_the_limit_with_an_ellipsis(length: int) -> None:
    text = "".join(str(i % 10) for i in range(length))

    clipped = clip(text, 10)

    assert clipped == "012345678" + ELLIPSIS
    assert len(clipped) == 10
    assert re.fullmatch(r"[0-9]{9}…", clipped)
