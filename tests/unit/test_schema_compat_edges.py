"""More edges of the schema comparison and of the export review: what a developer reads when
the compatibility gate stops a change (the kind, the path and the detail of each change)."""

from __future__ import annotations

from typing import Any

import pytest

from taskapi.domain.event_schemas import (
    SCHEMA_VERSION_KEY,
    ReviewStatus,
    SchemaReview,
    render,
    review,
)
from taskapi.domain.schema_compat import ChangeKind, SchemaChange, compare_schemas


def described(changes: list[SchemaChange]) -> list[tuple[ChangeKind, str, str]]:
    return [(c.kind, c.path, c.detail) for c in changes]


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


NULL = {"type": "null"}


def test_a_removed_constraint_shows_it_as_absent() -> None:
    old = obj(title={"type": "string", "maxLength": 200})
    new = obj(title={"type": "string"})

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.CONSTRAINT_CHANGED, "title", "maxLength: 200 -> (absent)")
    ]


def test_an_enum_gained_or_lost_says_which_way() -> None:
    free = obj(status={"type": "string"})
    closed = obj(status={"type": "string", "enum": ["pending", "completed"]})

    assert described(compare_schemas(free, closed)) == [
        (ChangeKind.CONSTRAINT_CHANGED, "status", "now restricted to a set of values")
    ]
    assert described(compare_schemas(closed, free)) == [
        (ChangeKind.CONSTRAINT_CHANGED, "status", "now unrestricted")
    ]


def test_type_names_in_details() -> None:
    listed = {"type": ["string", "integer"]}

    assert described(compare_schemas(obj(v=listed), obj(v={"type": "string"}))) == [
        (ChangeKind.TYPE_CHANGED, "v", "integer | string -> string")
    ]
    assert described(compare_schemas(obj(v={}), obj(v={"type": "string"}))) == [
        (ChangeKind.TYPE_CHANGED, "v", "any type -> string")
    ]


def test_one_of_is_a_union_like_any_of() -> None:
    old = obj(due={"oneOf": [{"type": "string"}, NULL]})
    new = obj(due={"type": "string"})

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.TYPE_CHANGED, "due", "no longer accepts null")
    ]
    assert compare_schemas(old, old) == []


def test_a_field_becoming_nullable_only_gains_null() -> None:
    # The constraints of the plain field belong to its one alternative, not to the union.
    old = obj(title={"type": "string", "maxLength": 5, "description": "Short."})
    new = obj(title={"anyOf": [{"type": "string", "maxLength": 5}, NULL], "description": "Short."})

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.TYPE_CHANGED, "title", "now also accepts null")
    ]


def test_an_annotation_of_a_union_is_reported_at_the_fields_path() -> None:
    old = obj(due={"anyOf": [{"type": "string"}, NULL], "description": "When."})
    new = obj(due={"anyOf": [{"type": "string"}, NULL], "description": "Deadline."})

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.ANNOTATION_CHANGED, "due", "description: 'When.' -> 'Deadline.'")
    ]


def test_an_enum_with_a_type_inside_a_union_is_matched_by_its_type() -> None:
    old = obj(status={"anyOf": [{"type": "string", "enum": ["a"]}, NULL]})
    new = obj(status={"anyOf": [{"type": "string", "enum": ["a", "b"]}, NULL]})

    assert described(compare_schemas(old, new)) == [(ChangeKind.ENUM_VALUE_ADDED, "status", "'b'")]


def test_an_untyped_alternative_is_named_any_type() -> None:
    old = obj(value={"anyOf": [{}, NULL]})
    new = obj(value=NULL)

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.TYPE_CHANGED, "value", "no longer accepts any type")
    ]


def test_nested_unions_are_flattened_and_their_references_followed() -> None:
    defs = {"$defs": {"Id": {"type": "string", "format": "uuid"}}}
    nested = {**defs, **obj(id={"anyOf": [{"anyOf": [{"$ref": "#/$defs/Id"}, NULL]}]})}
    flat = {**defs, **obj(id={"anyOf": [{"$ref": "#/$defs/Id"}, NULL]})}

    assert compare_schemas(nested, flat) == []
    assert compare_schemas(flat, nested) == []


def test_a_union_gaining_a_referenced_alternative_names_its_type() -> None:
    defs = {"$defs": {"Count": {"type": "integer"}}}
    old = {**defs, **obj(v={"anyOf": [{"type": "string"}, NULL]})}
    new = {**defs, **obj(v={"anyOf": [{"type": "string"}, {"$ref": "#/$defs/Count"}, NULL]})}

    assert described(compare_schemas(old, new)) == [
        (ChangeKind.TYPE_CHANGED, "v", "now also accepts integer")
    ]


@pytest.mark.parametrize("recursive_side", ["old", "new"])
def test_a_recursive_definition_against_a_fixed_depth_one_is_compared_level_by_level(
    recursive_side: str,
) -> None:
    # The recursion guard is keyed by the pair of references: the same definition on one
    # side, met against another one on the other side, is a new comparison.
    recursive = {
        "$defs": {"Node": obj(child={"$ref": "#/$defs/Node"})},
        "$ref": "#/$defs/Node",
    }
    fixed = {
        "$defs": {"Top": obj(child={"$ref": "#/$defs/Leaf"}), "Leaf": obj(v={"type": "string"})},
        "$ref": "#/$defs/Top",
    }
    old, new = (recursive, fixed) if recursive_side == "old" else (fixed, recursive)

    changes = described(compare_schemas(old, new))

    removed, added = (
        ("child.child", "child.v") if recursive_side == "old" else ("child.v", "child.child")
    )
    assert (ChangeKind.FIELD_REMOVED, removed, "no longer published") in changes
    assert (ChangeKind.FIELD_ADDED, added, "new and optional") in changes


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "other.json#/Task"},
        {"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"},
    ],
    ids=["not-local", "a-loop"],
)
def test_a_reference_that_cannot_be_resolved_is_an_error_naming_it(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"cannot resolve \$ref '(other\.json#/Task|#/\$defs/A)'"):
        compare_schemas(schema, schema)


# -- the export review -------------------------------------------------------------------

REQUIRED_TITLE = {**obj(title={"type": "string"}), "required": ["title"]}
OPTIONAL_TITLE = obj(title={"type": "string"})


def versioned(schema: dict[str, Any], version: int | None) -> dict[str, Any]:
    return schema if version is None else {**schema, SCHEMA_VERSION_KEY: version}


@pytest.mark.parametrize(
    ("old_version", "new_version", "status"),
    [
        (None, None, ReviewStatus.BREAKING),
        (None, 1, ReviewStatus.BUMPED),
        (1, None, ReviewStatus.BREAKING),
        (1, 1, ReviewStatus.BREAKING),
        (1, 2, ReviewStatus.BUMPED),
    ],
)
def test_a_breaking_change_is_bumped_only_by_a_higher_version(
    old_version: int | None, new_version: int | None, status: ReviewStatus
) -> None:
    # A schema without the key (one written before versions were recorded) is version 0.
    old = versioned(REQUIRED_TITLE, old_version)
    new = versioned(OPTIONAL_TITLE, new_version)

    [verdict] = review({"TaskCreated": old}, {"TaskCreated": new})

    assert verdict.status is status


def test_a_review_names_its_event_type_and_keeps_the_changes() -> None:
    same = review({"TaskCreated": OPTIONAL_TITLE}, {"TaskCreated": OPTIONAL_TITLE})
    [changed] = review({"TaskUpdated": REQUIRED_TITLE}, {"TaskUpdated": OPTIONAL_TITLE})

    assert [(v.event_type, v.status, v.changes) for v in same] == [
        ("TaskCreated", ReviewStatus.UP_TO_DATE, ())
    ]
    assert changed.event_type == "TaskUpdated"
    assert changed.changes == tuple(compare_schemas(REQUIRED_TITLE, OPTIONAL_TITLE))


def test_the_explanation_of_a_breaking_change_lists_it_and_says_what_to_do() -> None:
    change = SchemaChange(ChangeKind.FIELD_NO_LONGER_REQUIRED, "title", "may now be absent")
    verdict = SchemaReview("TaskCreated", ReviewStatus.BREAKING, (change,))

    assert verdict.explain().splitlines() == [
        "TaskCreated: breaking change without a version bump.",
        "  - field became optional at title: may now be absent",
        "  Subscribers coded against the published schema would break. Undo the change, or bump "
        "SCHEMA_VERSION in taskapi/domain/events.py (the version of every task event), document "
        "the migration in docs/events.md and run `taskapi events export`.",
    ]


def test_the_explanation_of_a_compatible_change_says_to_export() -> None:
    change = SchemaChange(ChangeKind.FIELD_ADDED, "task.tags", "new and optional")
    verdict = SchemaReview("TaskUpdated", ReviewStatus.COMPATIBLE, (change,))

    assert verdict.explain() == (
        "TaskUpdated: changed compatibly, not exported yet.\n"
        "  - optional field added at task.tags: new and optional\n"
        "  Run `taskapi events export` and commit schemas/events/."
    )
    assert SchemaReview("TaskDeleted", ReviewStatus.UP_TO_DATE).explain() == (
        "TaskDeleted: up to date."
    )


def test_the_committed_form_keeps_non_ascii_text_readable() -> None:
    assert render({"description": "Fällig … bald", "a": 1}) == (
        '{\n  "a": 1,\n  "description": "Fällig … bald"\n}\n'
    )
