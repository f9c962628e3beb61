"""The published event schemas are a contract with every subscriber.

``schemas/events/<EventType>.json`` is what subscribers code against. These tests regenerate
the schemas from the models and compare them with the committed files:

* a breaking change fails unless ``SCHEMA_VERSION`` (domain/events.py) was bumped;
* any other difference (a compatible addition, a new description) fails until the files are
  re-exported with ``taskapi events export``, so the committed schemas never go stale.

The second half proves the checker itself catches what it must, on copies of the real schemas.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from taskapi.domain.event_readers import read_event
from taskapi.domain.event_schemas import (
    SCHEMA_VERSION_KEY,
    ReviewStatus,
    published_schemas,
    render,
    review,
)
from taskapi.domain.events import (
    EVENT_TYPES,
    PREVIOUS_SCHEMA_VERSION,
    SCHEMA_VERSION,
    parse_event,
)
from taskapi.domain.model import Status, Task
from taskapi.domain.schema_compat import ChangeKind, breaking_changes, compare_schemas
from tests.fakes.builders import created_event, deleted_event, make_task, next_version
from tests.fakes.builders import updated_event as make_updated_event

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"

Schema = dict[str, Any]
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def committed_schemas() -> dict[str, Schema]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    }


# -- the committed files against the models ---------------------------------------------


def test_every_event_type_has_a_committed_schema() -> None:
    assert sorted(committed_schemas()) == sorted(cls.__name__ for cls in EVENT_TYPES), (
        "schemas/events/ does not match the event types: run `taskapi events export`"
    )


def test_the_models_make_no_unpublished_or_breaking_change() -> None:
    problems = [v for v in review(committed_schemas(), published_schemas()) if not v.ok]

    assert not problems, "\n\n".join(v.explain() for v in problems)


def test_the_committed_files_are_byte_identical_to_a_fresh_export() -> None:
    # Catches hand edits and formatting drift that compare equal as JSON.
    for name, schema in published_schemas().items():
        committed = (SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8")
        assert committed == render(schema), f"{name}.json: run `taskapi events export`"


REAL_EVENTS = pytest.mark.parametrize(
    "event",
    [
        created_event(make_task(assignee="ana@example.com", dependencies=())),
        make_updated_event(
            before := make_task(status=Status.IN_PROGRESS),
            next_version(before, status=Status.COMPLETED),
        ),
        deleted_event(make_task(description="gone")),
    ],
    ids=["TaskCreated", "TaskUpdated", "TaskDeleted"],
)


@REAL_EVENTS
def test_each_schema_records_the_version_its_events_carry(event: Any) -> None:
    # The version a bump changes is the one events are built with: a schema cannot announce a
    # new major version while the events on the bus still say the old one.
    assert committed_schemas()[event.event_type][SCHEMA_VERSION_KEY] == event.schema_version
    assert event.schema_version == SCHEMA_VERSION


def test_the_task_definition_is_described_as_the_api_describes_it() -> None:
    # One public description of a task, in the events and the OpenAPI document alike.
    for schema in committed_schemas().values():
        assert schema["$defs"]["Task"]["description"] == Task.model_json_schema()["description"]
        assert "snapshot" in schema["$defs"]["Task"]["description"]


@REAL_EVENTS
def test_real_events_use_only_published_fields(event: Any) -> None:
    """Every key of a real event's JSON is declared by the committed schema (recursively), so
    the producer cannot emit something the contract does not describe."""
    schema = committed_schemas()[event.event_type]
    undeclared = _undeclared_keys(event.model_dump(mode="json"), schema, schema, "")

    assert undeclared == []
    assert parse_event(event.model_dump_json()) == event


def _undeclared_keys(value: Any, node: Schema, root: Schema, path: str) -> list[str]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in node:
        return min(
            (_undeclared_keys(value, option, root, path) for option in node["anyOf"]), key=len
        )
    if isinstance(value, dict):
        properties: Schema = node.get("properties", {})
        extra = node.get("additionalProperties")
        found: list[str] = []
        for key, item in value.items():
            if key in properties:
                found += _undeclared_keys(item, properties[key], root, f"{path}.{key}")
            elif isinstance(extra, dict):
                found += _undeclared_keys(item, extra, root, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}")
        return found
    return []


# -- the checker catches what it must ---------------------------------------------------

Mutation = Callable[[Schema], None]


def _mutated(event_type: str, mutate: Mutation) -> tuple[Schema, Schema]:
    published = published_schemas()[event_type]
    candidate = copy.deepcopy(published)
    mutate(candidate)
    return published, candidate


def _task(schema: Schema) -> Schema:
    task: Schema = schema["$defs"]["Task"]
    return task


BREAKING: dict[str, tuple[str, Mutation, ChangeKind]] = {
    "field removed": (
        "TaskCreated",
        lambda s: _task(s)["properties"].pop("assignee"),
        ChangeKind.FIELD_REMOVED,
    ),
    "top-level field removed": (
        "TaskUpdated",
        lambda s: (s["properties"].pop("changes"), s["required"].remove("changes")),
        ChangeKind.FIELD_REMOVED,
    ),
    "type changed": (
        "TaskCreated",
        lambda s: _task(s)["properties"]["version"].update(type="string"),
        ChangeKind.TYPE_CHANGED,
    ),
    "field made nullable": (
        "TaskCreated",
        lambda s: _task(s)["properties"].update(
            title={"anyOf": [_task(s)["properties"]["title"], {"type": "null"}]}
        ),
        ChangeKind.TYPE_CHANGED,
    ),
    "required field added": (
        "TaskDeleted",
        lambda s: (
            s["properties"].update(reason={"type": "string"}),
            s["required"].append("reason"),
        ),
        ChangeKind.REQUIRED_FIELD_ADDED,
    ),
    "optional field made required": (
        "TaskCreated",
        lambda s: _task(s)["required"].append("due_at"),
        ChangeKind.FIELD_NOW_REQUIRED,
    ),
    "enum value removed": (
        "TaskUpdated",
        lambda s: s["$defs"]["Status"]["enum"].remove("in_progress"),
        ChangeKind.ENUM_VALUE_REMOVED,
    ),
    "const changed": (
        "TaskCreated",
        lambda s: s["properties"]["event_type"].update(const="TaskAdded"),
        ChangeKind.ENUM_VALUE_REMOVED,
    ),
    "constraint tightened": (
        "TaskCreated",
        lambda s: _task(s)["properties"]["title"].update(maxLength=100),
        ChangeKind.CONSTRAINT_CHANGED,
    ),
    "$ref target changed to another shape": (
        "TaskUpdated",
        lambda s: _task(s)["properties"]["priority"].update({"$ref": "#/$defs/Status"}),
        ChangeKind.ENUM_VALUE_REMOVED,
    ),
}

COMPATIBLE: dict[str, tuple[str, Mutation, ChangeKind]] = {
    "optional field added": (
        "TaskCreated",
        lambda s: _task(s)["properties"].update(labels={"type": "array", "items": {}}),
        ChangeKind.FIELD_ADDED,
    ),
    "enum value added": (
        "TaskUpdated",
        lambda s: s["$defs"]["Status"]["enum"].append("blocked"),
        ChangeKind.ENUM_VALUE_ADDED,
    ),
    "description changed": (
        "TaskDeleted",
        lambda s: s["properties"]["event_id"].update(description="Reworded."),
        ChangeKind.ANNOTATION_CHANGED,
    ),
}


@pytest.mark.parametrize(("event_type", "mutate", "kind"), BREAKING.values(), ids=BREAKING.keys())
def test_a_breaking_change_is_caught(event_type: str, mutate: Mutation, kind: ChangeKind) -> None:
    published, candidate = _mutated(event_type, mutate)

    changes = compare_schemas(published, candidate)

    assert kind in {change.kind for change in breaking_changes(changes)}
    [verdict] = review({event_type: published}, {event_type: candidate})
    assert verdict.status is ReviewStatus.BREAKING
    assert "bump SCHEMA_VERSION" in verdict.explain()


@pytest.mark.parametrize(
    ("event_type", "mutate", "kind"), COMPATIBLE.values(), ids=COMPATIBLE.keys()
)
def test_a_compatible_change_is_classified_compatible(
    event_type: str, mutate: Mutation, kind: ChangeKind
) -> None:
    published, candidate = _mutated(event_type, mutate)

    changes = compare_schemas(published, candidate)

    assert kind in {change.kind for change in changes}
    assert breaking_changes(changes) == []
    [verdict] = review({event_type: published}, {event_type: candidate})
    assert verdict.status is ReviewStatus.COMPATIBLE
    assert "taskapi events export" in verdict.explain()
    assert "SCHEMA_VERSION" not in verdict.explain()


def test_a_renamed_definition_with_the_same_shape_is_no_change_to_subscribers() -> None:
    def rename_task_definition(schema: Schema) -> None:
        schema["$defs"]["TaskSnapshot"] = schema["$defs"].pop("Task")
        schema["properties"]["task"]["$ref"] = "#/$defs/TaskSnapshot"

    published, candidate = _mutated("TaskCreated", rename_task_definition)

    assert compare_schemas(published, candidate) == []
    [verdict] = review({"TaskCreated": published}, {"TaskCreated": candidate})
    assert verdict.status is ReviewStatus.COMPATIBLE  # the files differ: re-export


def test_a_breaking_change_with_a_version_bump_only_asks_for_a_re_export() -> None:
    def remove_field_and_bump(schema: Schema) -> None:
        _task(schema)["properties"].pop("assignee")
        schema[SCHEMA_VERSION_KEY] += 1

    published, candidate = _mutated("TaskCreated", remove_field_and_bump)

    [verdict] = review({"TaskCreated": published}, {"TaskCreated": candidate})

    assert verdict.status is ReviewStatus.BUMPED
    assert "taskapi events export" in verdict.explain()


def test_removing_an_event_type_is_breaking_and_adding_one_needs_an_export() -> None:
    schemas = published_schemas()

    removed = review(schemas, {k: v for k, v in schemas.items() if k != "TaskDeleted"})
    added = review({k: v for k, v in schemas.items() if k != "TaskDeleted"}, schemas)

    assert [v.status for v in removed if v.event_type == "TaskDeleted"] == [ReviewStatus.REMOVED]
    assert [v.status for v in added if v.event_type == "TaskDeleted"] == [ReviewStatus.NEW]


# -- the previous major version (1, before workspaces) ----------------------------------

PREVIOUS_DIR = SCHEMA_DIR / f"v{PREVIOUS_SCHEMA_VERSION}"
FIXTURES = Path(__file__).parent / "fixtures"


def previous_schemas() -> dict[str, Schema]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(PREVIOUS_DIR.glob("*.json"))
    }


def _detail(directory: str, name: str) -> dict[str, Any]:
    envelope = json.loads((FIXTURES / directory / f"{name}.json").read_text(encoding="utf-8"))
    detail: dict[str, Any] = envelope["detail"]
    return detail


EVENTBRIDGE_FIXTURES = sorted(path.stem for path in (FIXTURES / "previous_major").glob("*.json"))


def test_the_previous_major_versions_schemas_are_kept_for_every_event_type() -> None:
    previous = previous_schemas()

    assert sorted(previous) == sorted(cls.__name__ for cls in EVENT_TYPES)
    assert {schema[SCHEMA_VERSION_KEY] for schema in previous.values()} == {1}
    assert PREVIOUS_SCHEMA_VERSION == SCHEMA_VERSION - 1


def test_version_2_is_a_bump_whose_only_breaking_change_is_the_workspace() -> None:
    verdicts = review(previous_schemas(), published_schemas())

    assert {v.status for v in verdicts} == {ReviewStatus.BUMPED}
    for verdict in verdicts:
        breaking = {(c.kind, c.path) for c in verdict.changes if c.breaking}
        assert breaking == {
            (ChangeKind.REQUIRED_FIELD_ADDED, "workspace_id"),
            (ChangeKind.REQUIRED_FIELD_ADDED, "task.workspace_id"),
        }, verdict.explain()


@pytest.mark.parametrize("name", EVENTBRIDGE_FIXTURES)
def test_each_v1_fixture_is_a_v1_event_that_todays_reader_still_reads(name: str) -> None:
    detail = _detail("previous_major", name)
    schema = previous_schemas()[detail["event_type"]]

    jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).validate(detail)
    event = read_event(detail)

    assert (event.schema_version, event.workspace_id) == (1, None)
    with pytest.raises(ValidationError):
        parse_event(detail)  # the writer's models know version 2 only


@pytest.mark.parametrize("name", EVENTBRIDGE_FIXTURES)
def test_a_v2_event_is_still_valid_under_the_v1_schema(name: str) -> None:
    # Why a subscriber can widen its pin to [1, 2] before reading workspace_id: version 2
    # only adds fields, which a tolerant reader of version 1 ignores.
    detail = _detail("eventbridge", name)
    schema = previous_schemas()[detail["event_type"]]

    jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).validate(detail)
    assert detail["schema_version"] == 2


@pytest.mark.parametrize("name", EVENTBRIDGE_FIXTURES)
def test_a_v1_fixture_and_its_v2_copy_differ_only_by_the_workspace(name: str) -> None:
    v1, v2 = _detail("previous_major", name), _detail("eventbridge", name)

    # correlation_id came later, in a minor revision of version 2.
    without = {k: v for k, v in v2.items() if k not in ("workspace_id", "correlation_id")}
    without["task"] = {k: v for k, v in v2["task"].items() if k != "workspace_id"}
    assert {**without, "schema_version": 1} == v1
    assert v2["workspace_id"] == v2["task"]["workspace_id"]


def test_the_correlation_id_is_a_compatible_addition_to_version_2() -> None:
    # The gate's rule for an optional field: no bump, a re-export; events without it (every
    # one committed before it) still valid, to the writer and the readers alike.
    for name, schema in committed_schemas().items():
        assert "correlation_id" in schema["properties"], name
        assert "correlation_id" not in schema.get("required", []), name
        assert schema[SCHEMA_VERSION_KEY] == SCHEMA_VERSION == 2
    detail = _detail("eventbridge", "task_created")
    without = {k: v for k, v in detail.items() if k != "correlation_id"}
    assert parse_event(without).correlation_id is None
    assert read_event(without).correlation_id is None
    assert read_event(detail).correlation_id == detail["correlation_id"]
