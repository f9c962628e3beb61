"""Validation of the task model: what a stored task can and cannot be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from taskapi.domain.model import (
    FROM_STORE,
    MAX_DEPENDENCIES,
    MAX_DESCRIPTION_LENGTH,
    MAX_TITLE_LENGTH,
    Priority,
    Status,
    Task,
)
from tests.fakes.builders import make_task


def error_fields(raised: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in raised.value.errors()}


def test_defaults_are_a_pending_medium_task_without_extras() -> None:
    task = make_task()
    assert (task.status, task.priority) == (Status.PENDING, Priority.MEDIUM)
    assert (task.description, task.due_at, task.assignee, task.dependencies) == (
        None,
        None,
        None,
        (),
    )


def test_the_title_is_trimmed() -> None:
    assert make_task(title="  \tBuy milk \n").title == "Buy milk"


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_a_blank_title_is_refused(title: str) -> None:
    with pytest.raises(ValidationError) as raised:
        make_task(title=title)
    assert error_fields(raised) == {"title"}


def test_the_title_length_limit_counts_after_trimming() -> None:
    longest = "x" * MAX_TITLE_LENGTH
    assert make_task(title=f"  {longest}  ").title == longest
    with pytest.raises(ValidationError) as raised:
        make_task(title=longest + "x")
    assert error_fields(raised) == {"title"}


def test_the_description_length_limit() -> None:
    assert make_task(description="é" * MAX_DESCRIPTION_LENGTH).description is not None
    with pytest.raises(ValidationError) as raised:
        make_task(description="é" * (MAX_DESCRIPTION_LENGTH + 1))
    assert error_fields(raised) == {"description"}


def test_dependencies_must_be_unique_and_the_repeated_ones_are_named() -> None:
    repeated, other = uuid4(), uuid4()
    with pytest.raises(ValidationError, match=str(repeated)) as raised:
        make_task(dependencies=(repeated, other, repeated))
    assert error_fields(raised) == {"dependencies"}
    assert str(other) not in str(raised.value)


def test_at_most_max_dependencies() -> None:
    assert len(make_task(dependencies=[uuid4() for _ in range(MAX_DEPENDENCIES)]).dependencies) == (
        MAX_DEPENDENCIES
    )
    with pytest.raises(ValidationError) as raised:
        make_task(dependencies=[uuid4() for _ in range(MAX_DEPENDENCIES + 1)])
    assert error_fields(raised) == {"dependencies"}


def test_a_task_cannot_depend_on_itself() -> None:
    task_id = uuid4()
    with pytest.raises(ValidationError, match="cannot depend on itself"):
        make_task(task_id=task_id, dependencies=(uuid4(), task_id))


def test_an_aware_due_at_is_converted_to_the_same_instant_in_utc() -> None:
    local = datetime(2030, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    due_at = make_task(due_at=local).due_at
    assert due_at == local
    assert due_at is not None
    assert due_at.tzinfo is UTC
    assert (due_at.hour, due_at.minute) == (3, 30)


def test_a_naive_timestamp_is_taken_as_utc() -> None:
    task = make_task(due_at=datetime(2030, 6, 1, 9, 0), created_at=datetime(2025, 1, 1))
    assert task.due_at == datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
    assert task.created_at.tzinfo is UTC


def test_timestamps_in_iso_strings_are_parsed_and_normalised() -> None:
    task = make_task(due_at="2030-06-01T09:00:00-07:00")
    assert task.due_at == datetime(2030, 6, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("assignee", ["ana@example.com", "ana.silva+tasks@sub.example.org"])
def test_a_valid_assignee_email_is_accepted(assignee: str) -> None:
    assert make_task(assignee=assignee).assignee == assignee


@pytest.mark.parametrize(
    "assignee",
    ["ana", "ana@", "@example.com", "ana@@example.com", "", "Mallory <ana@example.com>"],
)
def test_an_invalid_assignee_email_is_refused(assignee: str) -> None:
    # A display name too: Pydantic would keep only the address, storing something not sent.
    with pytest.raises(ValidationError) as raised:
        make_task(assignee=assignee)
    assert error_fields(raised) == {"assignee"}


def test_a_stored_task_keeps_its_address_as_written_while_input_is_checked() -> None:
    # e.g. an address an older release accepted and a newer email-validator refuses
    values = {**make_task().model_dump(), "assignee": "ana@localhost"}

    with pytest.raises(ValidationError) as raised:
        Task.model_validate(values)
    assert error_fields(raised) == {"assignee"}
    assert Task.model_validate(values, context=FROM_STORE).assignee == "ana@localhost"
    stored = Task.model_validate(values, context=FROM_STORE).model_dump_json()
    assert Task.model_validate_json(stored, context=FROM_STORE).assignee == "ana@localhost"


@pytest.mark.parametrize("context", [None, {}, {"from_store": "yes"}, {"from_store": 1}])
def test_only_the_stores_context_skips_the_address_check(context: object) -> None:
    values = {**make_task().model_dump(), "assignee": "not an address"}
    with pytest.raises(ValidationError):
        Task.model_validate(values, context=context)


def test_a_stored_assignee_must_still_be_text() -> None:
    values = {**make_task().model_dump(), "assignee": 42}
    with pytest.raises(ValidationError) as raised:
        Task.model_validate(values, context=FROM_STORE)
    assert error_fields(raised) == {"assignee"}


def test_the_version_starts_at_one() -> None:
    with pytest.raises(ValidationError) as raised:
        make_task(version=0)
    assert error_fields(raised) == {"version"}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        make_task(owner="ana")
    assert error_fields(raised) == {"owner"}


def test_a_task_is_immutable() -> None:
    task = make_task()
    with pytest.raises(ValidationError):
        task.title = "changed"  # type: ignore[misc]


def test_the_etag_is_the_quoted_version() -> None:
    assert make_task(version=7).etag == '"7"'


def test_json_round_trip_is_lossless() -> None:
    task = make_task(
        description="ü",
        dependencies=(uuid4(),),
        due_at=datetime(2030, 1, 1, tzinfo=UTC),
        assignee="ana@example.com",
    )
    assert Task.model_validate_json(task.model_dump_json()) == task
