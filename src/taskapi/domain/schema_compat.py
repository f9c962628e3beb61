"""Backward-compatibility check between two versions of a published JSON Schema.

Pure JSON comparison: the contract tests feed it the committed schema and a freshly generated
one and fail when a change would break subscribers without a ``schema_version`` bump. ``$ref``
targets are compared by structure; unknown keywords count as constraints (breaking when they
change). The policy, with its reasons: docs/events.md#versioning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Schema = Mapping[str, Any]


class ChangeKind(StrEnum):
    FIELD_REMOVED = "field removed"
    REQUIRED_FIELD_ADDED = "required field added"
    FIELD_NOW_REQUIRED = "field became required"
    FIELD_NO_LONGER_REQUIRED = "field became optional"
    TYPE_CHANGED = "type changed"
    ENUM_VALUE_REMOVED = "enum value removed"
    CONSTRAINT_CHANGED = "constraint changed"
    FIELD_ADDED = "optional field added"
    ENUM_VALUE_ADDED = "enum value added"
    ANNOTATION_CHANGED = "annotation changed"


BREAKING_KINDS = frozenset(
    {
        ChangeKind.FIELD_REMOVED,
        ChangeKind.REQUIRED_FIELD_ADDED,
        ChangeKind.FIELD_NOW_REQUIRED,
        ChangeKind.FIELD_NO_LONGER_REQUIRED,
        ChangeKind.TYPE_CHANGED,
        ChangeKind.ENUM_VALUE_REMOVED,
        ChangeKind.CONSTRAINT_CHANGED,
    }
)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    kind: ChangeKind
    path: str  # dotted field path: "task.assignee", "changes.*.current", "task.dependencies[]"
    detail: str

    @property
    def breaking(self) -> bool:
        return self.kind in BREAKING_KINDS

    def __str__(self) -> str:
        return f"{self.kind} at {self.path}: {self.detail}"


def compare_schemas(
    old: Schema, new: Schema, *, old_root: Schema | None = None, new_root: Schema | None = None
) -> list[SchemaChange]:
    """Every difference between ``old`` (published) and ``new`` (candidate), classified.

    ``old_root`` and ``new_root`` are the documents their ``$ref``s point into when the
    schemas are parts of one (an OpenAPI document's ``#/components/schemas/...``); by default
    each schema is its own root.
    """
    comparison = _Comparison(
        old if old_root is None else old_root, new if new_root is None else new_root
    )
    return list(comparison.compare(old, new))


def breaking_changes(changes: Sequence[SchemaChange]) -> list[SchemaChange]:
    return [change for change in changes if change.breaking]


# Keywords that only document: changing them cannot break a subscriber.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "$comment",
        "readOnly",
        "writeOnly",
        "$schema",
    }
)
# Keywords compared structurally below; every other keyword is a constraint.
_STRUCTURAL = frozenset(
    {
        "type",
        "anyOf",
        "oneOf",
        "enum",
        "const",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "$ref",
        "$defs",
    }
)
_MISSING = object()


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root
        # Reference pairs being compared on the current path: guards recursive definitions.
        self._in_progress: set[tuple[str | None, str | None]] = set()

    def compare(self, old: Schema, new: Schema) -> Iterator[SchemaChange]:
        yield from self._compare(old, new, "(root)")

    def _compare(self, old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
        refs = (old.get("$ref"), new.get("$ref"))
        if refs != (None, None):
            if refs in self._in_progress:
                return
            self._in_progress.add(refs)
        try:
            old_node = _resolve(old, self._old_root)
            new_node = _resolve(new, self._new_root)
            if _is_union(old_node) or _is_union(new_node):
                # A field that gained or lost alternatives (e.g. became nullable): annotations
                # belong to the field, everything else to its alternatives.
                yield from _compare_keywords(_union_level(old_node), _union_level(new_node), path)
                yield from self._compare_union(old_node, new_node, path)
            else:
                yield from _compare_keywords(old_node, new_node, path)
                yield from self._compare_single(old_node, new_node, path)
        finally:
            self._in_progress.discard(refs)

    def _compare_union(self, old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
        unmatched_new = _variants(new, self._new_root)
        for old_variant in _variants(old, self._old_root):
            key = _variant_key(old_variant, self._old_root)
            match = next((v for v in unmatched_new if _variant_key(v, self._new_root) == key), None)
            if match is None:
                yield SchemaChange(ChangeKind.TYPE_CHANGED, path, f"no longer accepts {key}")
                continue
            unmatched_new.remove(match)
            yield from self._compare(old_variant, match, path)
        for new_variant in unmatched_new:
            key = _variant_key(new_variant, self._new_root)
            yield SchemaChange(ChangeKind.TYPE_CHANGED, path, f"now also accepts {key}")

    def _compare_single(self, old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
        old_type, new_type = _type_name(old), _type_name(new)
        if old_type != new_type:
            yield SchemaChange(ChangeKind.TYPE_CHANGED, path, f"{old_type} -> {new_type}")
            return  # the rest of the comparison is meaningless across types
        yield from _compare_enums(old, new, path)
        yield from self._compare_properties(old, new, path)
        yield from self._compare_subschema(old, new, "items", f"{path}[]")
        yield from self._compare_subschema(old, new, "additionalProperties", f"{path}.*")

    def _compare_properties(self, old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        prefix = "" if path == "(root)" else f"{path}."
        for name in sorted(old_props.keys() | new_props.keys()):
            field_path = f"{prefix}{name}"
            if name not in new_props:
                yield SchemaChange(ChangeKind.FIELD_REMOVED, field_path, "no longer published")
            elif name not in old_props:
                if name in new_required:
                    yield SchemaChange(
                        ChangeKind.REQUIRED_FIELD_ADDED, field_path, "new and required"
                    )
                else:
                    yield SchemaChange(ChangeKind.FIELD_ADDED, field_path, "new and optional")
            else:
                if name in old_required and name not in new_required:
                    yield SchemaChange(
                        ChangeKind.FIELD_NO_LONGER_REQUIRED, field_path, "may now be absent"
                    )
                elif name in new_required and name not in old_required:
                    yield SchemaChange(ChangeKind.FIELD_NOW_REQUIRED, field_path, "now required")
                yield from self._compare(old_props[name], new_props[name], field_path)

    def _compare_subschema(
        self, old: Schema, new: Schema, keyword: str, path: str
    ) -> Iterator[SchemaChange]:
        old_value, new_value = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
        if isinstance(old_value, Mapping) and isinstance(new_value, Mapping):
            yield from self._compare(old_value, new_value, path)
        elif _normalise_open(keyword, old_value) != _normalise_open(keyword, new_value):
            yield SchemaChange(
                ChangeKind.CONSTRAINT_CHANGED,
                path,
                f"{keyword}: {_show(old_value)} -> {_show(new_value)}",
            )


def _compare_keywords(old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
    for keyword in sorted((old.keys() | new.keys()) - _STRUCTURAL):
        old_value, new_value = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
        if old_value == new_value:
            continue
        is_annotation = keyword in _ANNOTATIONS or keyword.startswith("x-")
        kind = ChangeKind.ANNOTATION_CHANGED if is_annotation else ChangeKind.CONSTRAINT_CHANGED
        yield SchemaChange(kind, path, f"{keyword}: {_show(old_value)} -> {_show(new_value)}")


def _compare_enums(old: Schema, new: Schema, path: str) -> Iterator[SchemaChange]:
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if old_values is None and new_values is None:
        return
    if old_values is None or new_values is None:
        detail = "now restricted to a set of values" if old_values is None else "now unrestricted"
        yield SchemaChange(ChangeKind.CONSTRAINT_CHANGED, path, detail)
        return
    for value in old_values:
        if value not in new_values:
            yield SchemaChange(ChangeKind.ENUM_VALUE_REMOVED, path, repr(value))
    for value in new_values:
        if value not in old_values:
            yield SchemaChange(ChangeKind.ENUM_VALUE_ADDED, path, repr(value))


def _allowed_values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _resolve(node: Schema, root: Schema) -> Schema:
    """Follow a local ``$ref`` (``#/$defs/Name``, ``#/components/schemas/Name``); keywords
    beside the ``$ref`` win."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = str(node["$ref"])
        if ref in seen or not ref.startswith("#/"):
            raise ValueError(f"cannot resolve $ref {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings}
    return node


def _is_union(node: Schema) -> bool:
    return "anyOf" in node or "oneOf" in node


def _union_level(node: Schema) -> Schema:
    """The keywords compared at the level of a union: all of a union's own, and only the
    annotations of a plain node (its constraints are compared as its only alternative)."""
    if _is_union(node):
        return node
    return {k: v for k, v in node.items() if k in _ANNOTATIONS}


def _variants(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives of a union, nested unions flattened; a plain node is its own only
    alternative, without its annotations (they were compared at the union level). A ``$ref``
    alternative stays a reference, so that ``_compare`` follows it under its recursion guard
    (``parent: Node | None`` refers back to ``Node`` through a union)."""
    if not _is_union(node):
        return [{k: v for k, v in node.items() if k not in _ANNOTATIONS}]
    variants: list[Schema] = []
    for option in node.get("anyOf", node.get("oneOf", ())):
        resolved = _resolve(option, root)
        if "$ref" in option and not _is_union(resolved):
            variants.append(option)
        else:
            variants.extend(_variants(resolved, root))
    return variants


def _variant_key(node: Schema, root: Schema) -> str:
    node = _resolve(node, root)
    values = _allowed_values(node)
    if values is not None and "type" not in node:
        return f"values {values!r}"
    return _type_name(node)


def _type_name(node: Schema) -> str:
    declared = node.get("type")
    if declared is None:
        return "any type"
    if isinstance(declared, list):
        return " | ".join(sorted(str(t) for t in declared))
    return str(declared)


def _normalise_open(keyword: str, value: object) -> object:
    # An absent additionalProperties means "anything allowed", the same as true.
    if keyword == "additionalProperties" and value is _MISSING:
        return True
    return value


def _show(value: object) -> str:
    return "(absent)" if value is _MISSING else repr(value)
