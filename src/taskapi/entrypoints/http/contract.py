"""The published HTTP contract: the OpenAPI document the API serves, committed as
``schemas/openapi.json``, and the review of a new document against it.

The review walks paths, operations, parameters, request bodies, statuses, headers and media
types, and compares each schema with ``domain/schema_compat`` in the direction it is read: a
request by the API, a response by clients. A breaking change needs a new version in
``info.version`` (the package version). The rules: docs/api.md#versioning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from taskapi.domain.event_schemas import render
from taskapi.domain.schema_compat import ChangeKind, compare_schemas
from taskapi.entrypoints import api  # noqa: F401 - registers every route on the resolver
from taskapi.entrypoints.http.routes import openapi_json

Document = Mapping[str, Any]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def current_document() -> dict[str, Any]:
    """The OpenAPI document exactly as ``GET /openapi.json`` serves it."""
    document: dict[str, Any] = json.loads(openapi_json())
    return document


def render_document(document: Document) -> str:
    """The committed text: the same stable form as the event schemas."""
    return render(dict(document))


class ApiChangeKind(StrEnum):
    PATH_REMOVED = "path removed"
    OPERATION_REMOVED = "operation removed"
    STATUS_REMOVED = "documented status removed"
    MEDIA_TYPE_REMOVED = "media type removed"
    HEADER_REMOVED = "response header removed"
    PARAMETER_REMOVED = "parameter removed"
    REQUIRED_PARAMETER_ADDED = "required parameter added"
    PARAMETER_NOW_REQUIRED = "parameter became required"
    REQUEST_BODY_REMOVED = "request body removed"
    REQUIRED_REQUEST_BODY_ADDED = "required request body added"
    REQUEST_BODY_NOW_REQUIRED = "request body became required"
    PATH_ADDED = "path added"
    OPERATION_ADDED = "operation added"
    STATUS_ADDED = "status added"
    MEDIA_TYPE_ADDED = "media type added"
    HEADER_ADDED = "response header added"
    PARAMETER_ADDED = "optional parameter added"
    PARAMETER_NO_LONGER_REQUIRED = "parameter became optional"
    REQUEST_BODY_ADDED = "optional request body added"
    REQUEST_BODY_NO_LONGER_REQUIRED = "request body became optional"


_BREAKING_API_KINDS = frozenset(
    {
        ApiChangeKind.PATH_REMOVED,
        ApiChangeKind.OPERATION_REMOVED,
        ApiChangeKind.STATUS_REMOVED,
        ApiChangeKind.MEDIA_TYPE_REMOVED,
        ApiChangeKind.HEADER_REMOVED,
        ApiChangeKind.PARAMETER_REMOVED,
        ApiChangeKind.REQUIRED_PARAMETER_ADDED,
        ApiChangeKind.PARAMETER_NOW_REQUIRED,
        ApiChangeKind.REQUEST_BODY_REMOVED,
        ApiChangeKind.REQUIRED_REQUEST_BODY_ADDED,
        ApiChangeKind.REQUEST_BODY_NOW_REQUIRED,
    }
)


class Direction(StrEnum):
    REQUEST = "request"  # clients write it, the API reads it
    RESPONSE = "response"  # the API writes it, clients read it


# schema_compat looks both ways (an event is read by older and newer code alike); an HTTP
# schema is read one way, so a change that only its writer notices is harmless.
_HARMLESS: dict[Direction, frozenset[ChangeKind]] = {
    Direction.REQUEST: frozenset({ChangeKind.FIELD_NO_LONGER_REQUIRED}),
    Direction.RESPONSE: frozenset({ChangeKind.REQUIRED_FIELD_ADDED, ChangeKind.FIELD_NOW_REQUIRED}),
}


@dataclass(frozen=True, slots=True)
class ApiChange:
    kind: ApiChangeKind | ChangeKind
    where: str  # "PUT /tasks/{task_id} request body (application/json) field title"
    detail: str
    breaking: bool

    def __str__(self) -> str:
        label = "breaking" if self.breaking else "compatible"
        return f"[{label}] {self.where}: {self.kind}" + (f" ({self.detail})" if self.detail else "")


def compare_documents(old: Document, new: Document) -> list[ApiChange]:
    """Every difference between the published document ``old`` and ``new``, classified."""
    return list(_DocumentComparison(old, new).paths())


def _api_change(kind: ApiChangeKind, where: str, detail: str = "") -> ApiChange:
    return ApiChange(kind, where, detail, kind in _BREAKING_API_KINDS)


class _DocumentComparison:
    def __init__(self, old: Document, new: Document) -> None:
        self.old, self.new = old, new

    def paths(self) -> Iterator[ApiChange]:
        old_paths, new_paths = self.old.get("paths", {}), self.new.get("paths", {})
        for path in sorted(old_paths.keys() | new_paths.keys()):
            if path not in new_paths:
                yield _api_change(ApiChangeKind.PATH_REMOVED, path)
            elif path not in old_paths:
                yield _api_change(ApiChangeKind.PATH_ADDED, path)
            else:
                yield from self._operations(path, old_paths[path], new_paths[path])

    def _operations(self, path: str, old_item: Document, new_item: Document) -> Iterator[ApiChange]:
        for method in HTTP_METHODS:
            where = f"{method.upper()} {path}"
            old_op, new_op = old_item.get(method), new_item.get(method)
            if old_op is not None and new_op is None:
                yield _api_change(ApiChangeKind.OPERATION_REMOVED, where)
            elif old_op is None and new_op is not None:
                yield _api_change(ApiChangeKind.OPERATION_ADDED, where)
            elif old_op is not None and new_op is not None:
                yield from self._parameters(
                    where,
                    _parameters(old_item, old_op, self.old),
                    _parameters(new_item, new_op, self.new),
                )
                yield from self._request_body(where, old_op, new_op)
                yield from self._responses(where, old_op, new_op)

    def _parameters(
        self, where: str, old: dict[tuple[str, str], Document], new: dict[tuple[str, str], Document]
    ) -> Iterator[ApiChange]:
        for key in sorted(old.keys() | new.keys()):
            location, name = key
            at = f"{where} {location} parameter {name}"
            if key not in new:
                yield _api_change(ApiChangeKind.PARAMETER_REMOVED, at)
            elif key not in old:
                required = bool(new[key].get("required"))
                kind = (
                    ApiChangeKind.REQUIRED_PARAMETER_ADDED
                    if required
                    else ApiChangeKind.PARAMETER_ADDED
                )
                yield _api_change(kind, at)
            else:
                yield from _flag(
                    old[key],
                    new[key],
                    at,
                    ApiChangeKind.PARAMETER_NOW_REQUIRED,
                    ApiChangeKind.PARAMETER_NO_LONGER_REQUIRED,
                )
                yield from self._schema(old[key], new[key], at, Direction.REQUEST)

    def _request_body(self, where: str, old_op: Document, new_op: Document) -> Iterator[ApiChange]:
        old_body = _follow(old_op.get("requestBody"), self.old)
        new_body = _follow(new_op.get("requestBody"), self.new)
        at = f"{where} request body"
        if old_body is not None and new_body is None:
            yield _api_change(ApiChangeKind.REQUEST_BODY_REMOVED, at)
        elif old_body is None and new_body is not None:
            required = bool(new_body.get("required"))
            kind = (
                ApiChangeKind.REQUIRED_REQUEST_BODY_ADDED
                if required
                else ApiChangeKind.REQUEST_BODY_ADDED
            )
            yield _api_change(kind, at)
        elif old_body is not None and new_body is not None:
            yield from _flag(
                old_body,
                new_body,
                at,
                ApiChangeKind.REQUEST_BODY_NOW_REQUIRED,
                ApiChangeKind.REQUEST_BODY_NO_LONGER_REQUIRED,
            )
            yield from self._content(at, old_body, new_body, Direction.REQUEST)

    def _responses(self, where: str, old_op: Document, new_op: Document) -> Iterator[ApiChange]:
        old_responses, new_responses = old_op.get("responses", {}), new_op.get("responses", {})
        for status in sorted(old_responses.keys() | new_responses.keys()):
            at = f"{where} response {status}"
            if status not in new_responses:
                yield _api_change(ApiChangeKind.STATUS_REMOVED, at)
            elif status not in old_responses:
                yield _api_change(ApiChangeKind.STATUS_ADDED, at)
            else:
                old_response = _follow(old_responses[status], self.old) or {}
                new_response = _follow(new_responses[status], self.new) or {}
                yield from self._headers(at, old_response, new_response)
                yield from self._content(at, old_response, new_response, Direction.RESPONSE)

    def _headers(self, where: str, old: Document, new: Document) -> Iterator[ApiChange]:
        old_headers = {name.lower(): h for name, h in old.get("headers", {}).items()}
        new_headers = {name.lower(): h for name, h in new.get("headers", {}).items()}
        for name in sorted(old_headers.keys() | new_headers.keys()):
            at = f"{where} header {name}"
            if name not in new_headers:
                yield _api_change(ApiChangeKind.HEADER_REMOVED, at)
            elif name not in old_headers:
                yield _api_change(ApiChangeKind.HEADER_ADDED, at)
            else:
                yield from self._schema(
                    old_headers[name], new_headers[name], at, Direction.RESPONSE
                )

    def _content(
        self, where: str, old: Document, new: Document, direction: Direction
    ) -> Iterator[ApiChange]:
        old_content, new_content = old.get("content", {}), new.get("content", {})
        for media_type in sorted(old_content.keys() | new_content.keys()):
            at = f"{where} ({media_type})"
            if media_type not in new_content:
                yield _api_change(ApiChangeKind.MEDIA_TYPE_REMOVED, at)
            elif media_type not in old_content:
                yield _api_change(ApiChangeKind.MEDIA_TYPE_ADDED, at)
            else:
                yield from self._schema(
                    old_content[media_type], new_content[media_type], at, direction
                )

    def _schema(
        self, old_holder: Document, new_holder: Document, where: str, direction: Direction
    ) -> Iterator[ApiChange]:
        """Compare the ``schema`` of two parameters, headers or media types."""
        old_schema, new_schema = old_holder.get("schema", {}), new_holder.get("schema", {})
        changes = compare_schemas(old_schema, new_schema, old_root=self.old, new_root=self.new)
        for change in changes:
            field = "" if change.path == "(root)" else f" field {change.path}"
            breaking = change.breaking and change.kind not in _HARMLESS[direction]
            yield ApiChange(change.kind, f"{where}{field}", change.detail, breaking)


def _parameters(
    item: Document, operation: Document, root: Document
) -> dict[tuple[str, str], Document]:
    """An operation's parameters by (location, name), the path item's overridden by its own;
    header names are case-insensitive."""
    found: dict[tuple[str, str], Document] = {}
    for raw in [*item.get("parameters", ()), *operation.get("parameters", ())]:
        parameter = _follow(raw, root) or {}
        location, name = str(parameter.get("in")), str(parameter.get("name"))
        found[(location, name.lower() if location == "header" else name)] = parameter
    return found


def _flag(
    old: Document, new: Document, where: str, now: ApiChangeKind, no_longer: ApiChangeKind
) -> Iterator[ApiChange]:
    was, becomes = bool(old.get("required")), bool(new.get("required"))
    if becomes and not was:
        yield _api_change(now, where)
    elif was and not becomes:
        yield _api_change(no_longer, where)


def _follow(node: Document | None, root: Document) -> Document | None:
    """A Reference Object (``{"$ref": "#/components/..."}``) replaced by what it names."""
    while node is not None and "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


# -- the version rule ------------------------------------------------------------------------

_RELEASE = re.compile(r"^(\d+)\.(\d+)")


def compatibility_series(version: str) -> tuple[int, int] | None:
    """What a breaking change must increase: the major version, or the minor one before 1.0
    (``1.4.2`` -> ``(1, 0)``, ``0.3.1`` -> ``(0, 3)``). ``None``: not ``MAJOR.MINOR...``."""
    match = _RELEASE.match(version)
    if match is None:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    return (major, 0) if major else (0, minor)


def next_breaking_version(version: str) -> str:
    series = compatibility_series(version)
    if series is None or series[0] == 0:
        return f"0.{series[1] + 1 if series else 1}.0"
    return f"{series[0] + 1}.0.0"


class ReviewStatus(StrEnum):
    UP_TO_DATE = "up to date"
    NEW = "no committed document, not exported yet"
    COMPATIBLE = "changed compatibly, not exported yet"
    BUMPED = "changed with a new version, not exported yet"
    BREAKING = "breaking change without a new version"


@dataclass(frozen=True, slots=True)
class DocumentReview:
    """The verdict on the current document against the committed one."""

    status: ReviewStatus
    committed_version: str | None
    current_version: str
    changes: tuple[ApiChange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is ReviewStatus.UP_TO_DATE

    @property
    def breaking(self) -> list[ApiChange]:
        return [change for change in self.changes if change.breaking]

    def explain(self) -> str:
        versions = f"{self.committed_version} -> {self.current_version}"
        lines = [f"OpenAPI document: {self.status} (version {versions})."]
        ordered = self.breaking + [change for change in self.changes if not change.breaking]
        lines += [f"  - {change}" for change in ordered]
        if self.status is ReviewStatus.BREAKING:
            target = next_breaking_version(self.committed_version or self.current_version)
            lines.append(
                "  Clients coded against the published API would break. Undo the change, or "
                f"release it as a new version: set `version` in pyproject.toml to {target} "
                "(a breaking change takes the next major version, the next minor before 1.0), "
                "say what changed in docs/api.md, run `uv lock` and `make setup` (the lock and "
                "the installed package carry the version) and `taskapi openapi export`."
            )
        elif not self.ok:
            lines.append("  Run `taskapi openapi export` and commit schemas/openapi.json.")
        return "\n".join(lines)


def review(committed: Document | None, current: Document) -> DocumentReview:
    current_version = str(current.get("info", {}).get("version", ""))
    if committed is None:
        return DocumentReview(ReviewStatus.NEW, None, current_version)
    committed_version = str(committed.get("info", {}).get("version", ""))
    if committed == current:
        return DocumentReview(ReviewStatus.UP_TO_DATE, committed_version, current_version)
    changes = tuple(compare_documents(committed, current))
    if not any(change.breaking for change in changes):
        status = ReviewStatus.COMPATIBLE
    elif _newer_series(committed_version, current_version):
        status = ReviewStatus.BUMPED
    else:
        status = ReviewStatus.BREAKING
    return DocumentReview(status, committed_version, current_version, changes)


def _newer_series(old: str, new: str) -> bool:
    old_series, new_series = compatibility_series(old), compatibility_series(new)
    return old_series is not None and new_series is not None and new_series > old_series
