"""Edge cases of the schema comparison that the real event schemas do not exercise."""

from __future__ import annotations

from typing import Any

import pytest

from taskapi.domain.schema_compat import ChangeKind, breaking_changes, compare_schemas


def kinds(old: dict[str, Any], new: dict[str, Any]) -> set[ChangeKind]:
    return {change.kind for change in compare_schemas(old, new)}


def test_identical_schemas_have_no_changes() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}

    assert compare_schemas(schema, schema) == []


@pytest.mark.parametrize(
    "reference",
    [
        {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        # What Pydantic emits for ``parent: Node | None``: the reference sits inside an anyOf.
        {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
    ],
    ids=["through-items", "through-a-union"],
)
def test_recursive_definitions_terminate_and_are_compared(reference: dict[str, Any]) -> None:
    def node(value_type: str) -> dict[str, Any]:
        properties = {"value": {"type": value_type}, "link": reference}
        return {
            "$defs": {"Node": {"type": "object", "properties": properties}},
            "$ref": "#/$defs/Node",
        }

    assert compare_schemas(node("string"), node("string")) == []
    [change] = compare_schemas(node("string"), node("integer"))
    assert (change.kind, change.path) == (ChangeKind.TYPE_CHANGED, "value")


def test_a_field_no_longer_required_is_breaking() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    new = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}

    assert kinds(old, new) == {ChangeKind.FIELD_NO_LONGER_REQUIRED}


def test_a_nullable_field_becoming_non_null_is_breaking() -> None:
    old = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    new = {"type": "string"}

    changes = compare_schemas(old, new)

    assert [c.detail for c in breaking_changes(changes)] == ["no longer accepts null"]


def test_type_lists_compare_as_sets() -> None:
    assert compare_schemas({"type": ["string", "null"]}, {"type": ["null", "string"]}) == []
    assert kinds({"type": ["string", "null"]}, {"type": "string"}) == {ChangeKind.TYPE_CHANGED}


def test_closing_an_open_map_is_breaking_and_its_values_are_compared() -> None:
    open_map = {"type": "object", "additionalProperties": {"type": "string"}}
    closed = {"type": "object", "additionalProperties": False}
    integers = {"type": "object", "additionalProperties": {"type": "integer"}}

    assert kinds(open_map, closed) == {ChangeKind.CONSTRAINT_CHANGED}
    [change] = compare_schemas(open_map, integers)
    assert (change.kind, change.path) == (ChangeKind.TYPE_CHANGED, "(root).*")


def test_an_absent_additional_properties_equals_true() -> None:
    assert (
        compare_schemas({"type": "object"}, {"type": "object", "additionalProperties": True}) == []
    )


def test_restricting_a_free_value_to_an_enum_is_breaking() -> None:
    assert kinds({"type": "string"}, {"type": "string", "enum": ["a"]}) == {
        ChangeKind.CONSTRAINT_CHANGED
    }


def test_unknown_keywords_are_treated_as_constraints_and_x_keywords_as_annotations() -> None:
    assert kinds({"type": "string"}, {"type": "string", "contentEncoding": "base64"}) == {
        ChangeKind.CONSTRAINT_CHANGED
    }
    assert kinds({"type": "string"}, {"type": "string", "x-owner": "tasks team"}) == {
        ChangeKind.ANNOTATION_CHANGED
    }


def test_changes_render_with_kind_path_and_detail() -> None:
    old = {"type": "object", "properties": {"task": {"type": "object", "properties": {}}}}
    new = {
        "type": "object",
        "properties": {"task": {"type": "object", "properties": {"x": {"type": "string"}}}},
    }

    [change] = compare_schemas(old, new)

    assert str(change) == "optional field added at task.x: new and optional"
    assert change.breaking is False


def obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


STRING, INTEGER, NULL = {"type": "string"}, {"type": "integer"}, {"type": "null"}
NODE_DEFS = {"Node": obj({"value": STRING})}
NODE_DEFS_INT = {"Node": obj({"value": INTEGER})}

# Every kind of change, reported where it happens (the dotted path a subscriber's reader
# follows) and with the detail a reviewer needs: the messages the contract test prints.
REPORTS = {
    "field removed": (
        obj({"task": obj({"a": STRING})}),
        obj({"task": obj({})}),
        ["field removed at task.a: no longer published"],
    ),
    "required field added": (
        obj({"task": obj({})}),
        obj({"task": obj({"b": STRING}, required=("b",))}),
        ["required field added at task.b: new and required"],
    ),
    "field became optional": (
        obj({"task": obj({"a": STRING}, required=("a",))}),
        obj({"task": obj({"a": STRING})}),
        ["field became optional at task.a: may now be absent"],
    ),
    "field became required": (
        obj({"a": STRING}),
        obj({"a": STRING}, required=("a",)),
        ["field became required at a: now required"],
    ),
    "type of a nested field": (
        obj({"task": obj({"a": STRING})}),
        obj({"task": obj({"a": INTEGER})}),
        ["type changed at task.a: string -> integer"],
    ),
    "type of the items": (
        obj({"ids": {"type": "array", "items": STRING}}),
        obj({"ids": {"type": "array", "items": INTEGER}}),
        ["type changed at ids[]: string -> integer"],
    ),
    "items dropped": (
        {"type": "array", "items": STRING},
        {"type": "array"},
        ["constraint changed at (root)[]: items: {'type': 'string'} -> (absent)"],
    ),
    "map closed": (
        obj({"m": {"type": "object"}}),
        obj({"m": {"type": "object", "additionalProperties": False}}),
        ["constraint changed at m.*: additionalProperties: (absent) -> False"],
    ),
    "enum values": (
        obj({"s": {"enum": ["a", "b"]}}),
        obj({"s": {"enum": ["b", "c"]}}),
        ["enum value removed at s: 'a'", "enum value added at s: 'c'"],
    ),
    "enum lifted": (
        obj({"s": {"type": "string", "enum": ["a"]}}),
        obj({"s": STRING}),
        ["constraint changed at s: now unrestricted"],
    ),
    "keywords": (
        obj({"s": {"type": "string", "maxLength": 5}}),
        obj({"s": {"type": "string", "maxLength": 3, "description": "d"}}),
        [
            "annotation changed at s: description: (absent) -> 'd'",
            "constraint changed at s: maxLength: 5 -> 3",
        ],
    ),
    "union narrowed": (
        obj({"a": {"anyOf": [STRING, INTEGER, NULL]}}),
        obj({"a": NULL}),
        [
            "type changed at a: no longer accepts string",
            "type changed at a: no longer accepts integer",
        ],
    ),
    "union widened": (
        obj({"a": STRING}),
        obj({"a": {"anyOf": [STRING, {"const": "none"}]}}),
        ["type changed at a: now also accepts values ['none']"],
    ),
    "inside a referenced alternative": (
        {**obj({"p": {"anyOf": [{"$ref": "#/$defs/Node"}, NULL]}}), "$defs": NODE_DEFS},
        {**obj({"p": {"anyOf": [{"$ref": "#/$defs/Node"}, NULL]}}), "$defs": NODE_DEFS_INT},
        ["type changed at p.value: string -> integer"],
    ),
    # Two fields referring to one definition: the change shows under each of them.
    "in a definition used twice": (
        {**obj({"a": {"$ref": "#/$defs/Node"}, "b": {"$ref": "#/$defs/Node"}}), "$defs": NODE_DEFS},
        {
            **obj({"a": {"$ref": "#/$defs/Node"}, "b": {"$ref": "#/$defs/Node"}}),
            "$defs": NODE_DEFS_INT,
        },
        [
            "type changed at a.value: string -> integer",
            "type changed at b.value: string -> integer",
        ],
    ),
}


@pytest.mark.parametrize(("old", "new", "expected"), REPORTS.values(), ids=REPORTS.keys())
def test_each_change_is_reported_with_its_path_and_detail(
    old: dict[str, Any], new: dict[str, Any], expected: list[str]
) -> None:
    assert [str(change) for change in compare_schemas(old, new)] == expected


def test_a_schema_inside_a_document_follows_references_into_that_document() -> None:
    # An OpenAPI operation's schema refers to #/components/schemas/...: the roots given.
    def document(status_values: list[str]) -> dict[str, Any]:
        return {"components": {"schemas": {"Status": {"type": "string", "enum": status_values}}}}

    body = {"type": "object", "properties": {"status": {"$ref": "#/components/schemas/Status"}}}
    old, new = document(["open", "done"]), document(["open"])

    [change] = compare_schemas(body, body, old_root=old, new_root=new)

    assert (change.kind, change.path) == (ChangeKind.ENUM_VALUE_REMOVED, "status")
    assert compare_schemas(body, body, old_root=old, new_root=old) == []
