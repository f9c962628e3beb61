"""docs/events.md shows real events: every example is checked against the recorded events
(the EventBridge fixtures, produced by the task service) and against the models."""

from __future__ import annotations

from typing import Any

import pytest

from taskapi.domain.events import EVENT_TYPES, parse_event
from tests.contract.event_docs import fixture, marked_blocks

EXAMPLES = marked_blocks("example")


def test_every_event_type_has_an_example() -> None:
    documented = {example.get("detail", example)["event_type"] for example in EXAMPLES.values()}

    assert documented == {cls.__name__ for cls in EVENT_TYPES}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_is_a_recorded_event(name: str) -> None:
    fixture_name, _, part = name.partition(".")
    expected: dict[str, Any] = fixture(fixture_name)
    if part == "detail":
        expected = expected["detail"]

    assert EXAMPLES[name] == expected


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_is_a_valid_event(name: str) -> None:
    example = EXAMPLES[name]
    detail = example.get("detail", example)

    assert parse_event(detail).model_dump(mode="json") == detail


def test_the_documented_patterns_are_valid_json_objects() -> None:
    patterns = marked_blocks("pattern")

    assert patterns, "docs/events.md documents no event pattern"
    for pattern in patterns.values():
        assert isinstance(pattern, dict)
        assert pattern.get("source") == ["taskapi.tasks"]
