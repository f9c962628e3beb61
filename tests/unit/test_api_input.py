"""Hostile and sloppy input: every bad request is a 4xx with the ``{error, message, details}``
body, changes nothing, and is never a 500 (docs/api.md#errors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.local.proxy import HttpReply
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import call, create, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def validation_problems(reply: HttpReply) -> dict[str, str]:
    """The ``{field: message}`` of a 400 ``validation_error``."""
    assert reply.status == 400, reply.body
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    assert body["message"]
    return {problem["field"]: problem["message"] for problem in body["details"]}


# -- control characters in text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "a\x00b"}, "body.title"),
        ({"title": "two\nlines"}, "body.title"),
        ({"title": "tab\there"}, "body.title"),
        ({"title": "bell\x07"}, "body.title"),
        ({"title": "t", "description": "NUL\x00inside"}, "body.description"),
        ({"title": "t", "description": "escape \x1b[31m red"}, "body.description"),
        ({"title": "t", "description": "delete\x7f"}, "body.description"),
        ({"title": "t", "description": "C1 next line\x85"}, "body.description"),
    ],
)
def test_control_characters_in_text_are_refused(
    harness: ServiceHarness, fields: dict[str, Any], field: str
) -> None:
    problems = validation_problems(call("POST", "/tasks", fields))

    assert "control character" in problems[field]
    assert harness.store.tasks == {}


def test_an_update_with_a_control_character_changes_nothing(harness: ServiceHarness) -> None:
    task = create(title="clean")

    problems = validation_problems(
        call("PUT", f"/tasks/{task['task_id']}", {"title": "dirty\x00", "version": 1})
    )

    assert "control character" in problems["body.title"]
    assert call("GET", f"/tasks/{task['task_id']}").json() == task


def test_a_description_keeps_tabs_and_line_breaks(harness: ServiceHarness) -> None:
    text = "Steps:\r\n\t1. measure\n\t2. cut"

    task = create(description=text)

    assert task["description"] == text
