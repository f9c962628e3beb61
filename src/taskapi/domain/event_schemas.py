"""The published JSON Schemas of the domain events, generated from the Pydantic models and
committed under ``schemas/events/``.

They differ from ``model_json_schema()`` in three ways: ``x-schema-version`` records
``SCHEMA_VERSION``; the ``Task`` definition is described for subscribers; and there is no
``additionalProperties: false``, so that an optional field can be added without a new
version. See docs/events.md#versioning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from taskapi.domain.events import EVENT_TYPES, SCHEMA_VERSION, TaskEvent
from taskapi.domain.schema_compat import SchemaChange, breaking_changes, compare_schemas

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_VERSION_KEY = "x-schema-version"


def published_schema(event_class: type[TaskEvent]) -> dict[str, Any]:
    """The JSON Schema of one event type, exactly as it is published."""
    schema = _open_objects(event_class.model_json_schema())
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        SCHEMA_VERSION_KEY: SCHEMA_VERSION,
        **schema,
    }


def published_schemas() -> dict[str, dict[str, Any]]:
    """Every event type's published schema, keyed by event type (the EventBridge detail-type)."""
    return {cls.__name__: published_schema(cls) for cls in EVENT_TYPES}


def render(schema: dict[str, Any]) -> str:
    """The committed text form: stable key order, two-space indent, trailing newline, so a
    re-export without changes is byte-identical and a real change is a readable diff."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _open_objects(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _open_objects(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_open_objects(item) for item in node]
    return node


class ReviewStatus(StrEnum):
    UP_TO_DATE = "up to date"
    NEW = "new event type, not exported yet"
    COMPATIBLE = "changed compatibly, not exported yet"
    BUMPED = "changed with a version bump, not exported yet"
    BREAKING = "breaking change without a version bump"
    REMOVED = "event type removed"


@dataclass(frozen=True, slots=True)
class SchemaReview:
    """The verdict on one event type: its committed schema against the current models."""

    event_type: str
    status: ReviewStatus
    changes: tuple[SchemaChange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is ReviewStatus.UP_TO_DATE

    def explain(self) -> str:
        """What the developer should do, with the changes that led here."""
        lines = [f"{self.event_type}: {self.status}."]
        lines += [f"  - {change}" for change in self.changes]
        if self.status in (ReviewStatus.BREAKING, ReviewStatus.REMOVED):
            lines.append(
                "  Subscribers coded against the published schema would break. Undo the change, "
                "or bump SCHEMA_VERSION in taskapi/domain/events.py (the version of every task "
                "event), document the migration in docs/events.md and run "
                "`taskapi events export`."
            )
        elif self.status is not ReviewStatus.UP_TO_DATE:
            lines.append("  Run `taskapi events export` and commit schemas/events/.")
        return "\n".join(lines)


def review(
    committed: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[SchemaReview]:
    """Judge every event type, committed or current, sorted by name."""
    reviews: list[SchemaReview] = []
    for name in sorted(committed.keys() | current.keys()):
        old, new = committed.get(name), current.get(name)
        if new is None:
            reviews.append(SchemaReview(name, ReviewStatus.REMOVED))
        elif old is None:
            reviews.append(SchemaReview(name, ReviewStatus.NEW))
        elif old == new:
            reviews.append(SchemaReview(name, ReviewStatus.UP_TO_DATE))
        else:
            changes = compare_schemas(old, new)
            reviews.append(SchemaReview(name, _status(old, new, changes), tuple(changes)))
    return reviews


def _status(
    old: Mapping[str, Any], new: Mapping[str, Any], changes: list[SchemaChange]
) -> ReviewStatus:
    if not breaking_changes(changes):
        return ReviewStatus.COMPATIBLE
    bumped = int(new.get(SCHEMA_VERSION_KEY, 0)) > int(old.get(SCHEMA_VERSION_KEY, 0))
    return ReviewStatus.BUMPED if bumped else ReviewStatus.BREAKING
