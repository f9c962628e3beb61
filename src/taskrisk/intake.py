"""From raw rows (JSON objects, CSV rows) to validated bug records, with one error per bad record
naming its position, its id when it has one, and the field at fault.

Pure: `sources` reads the files and hands the rows over. See docs/operations.md ("Input data").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from taskrisk.errors import InputError, error_location, error_message
from taskrisk.model import BugRecord, to_snake_case
from taskrisk.settings import RiskMapSettings

_MAX_SHOWN_INPUT = 60


@dataclass(frozen=True, slots=True)
class RawRow:
    """One record as read. `line` is the CSV line it starts on; JSON records have none."""

    index: int
    content: object
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RecordError:
    index: int
    record_id: str | None
    field: str | None
    problem: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"record[{self.index}]"
        details = [f"line {self.line}"] if self.line is not None else []
        if self.record_id is not None:
            details.append(f"id {self.record_id!r}")
        if details:
            where += f" ({', '.join(details)})"
        at = f"field {self.field!r}: " if self.field else ""
        return f"{where}: {at}{self.problem}"


@dataclass(slots=True)
class LoadedBugs:
    bugs: list[BugRecord] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)


def validate_rows(
    rows: Iterable[RawRow], settings: RiskMapSettings, *, lenient: bool = False
) -> LoadedBugs:
    """Validate every row. Strict mode stops at the first bad record with an `InputError`;
    lenient mode keeps going and returns the errors alongside the good records."""
    loaded = LoadedBugs()
    field_names = FieldNames(settings.columns)
    for row in rows:
        outcome = _validate_row(row, field_names, settings)
        if isinstance(outcome, BugRecord):
            loaded.bugs.append(outcome)
        elif lenient:
            loaded.errors.append(outcome)
        else:
            raise InputError(str(outcome))
    return loaded


class FieldNames:
    """Which record field an export's key or column header feeds.

    A `[columns]` mapping matches the header as spelled or in snake_case ("Issue key" or
    "issue_key"); any other header is snake-cased, so "Testing Gap" and "testingGap" both
    feed `testing_gap`.
    """

    def __init__(self, columns: Mapping[str, str]) -> None:
        self._mapped = {to_snake_case(source): target for source, target in columns.items()}
        self._mapped.update(columns)
        # Every record repeats the same dozen keys: resolve each spelling once.
        self._resolved: dict[str, tuple[str, bool]] = {}

    def resolve(self, key: str) -> tuple[str, bool]:
        """The field `key` feeds, and whether a `[columns]` mapping said so explicitly."""
        resolved = self._resolved.get(key)
        if resolved is None:
            snake = to_snake_case(key)
            target = self._mapped.get(key) or self._mapped.get(snake)
            resolved = (target, True) if target is not None else (snake, False)
            self._resolved[key] = resolved
        return resolved

    def field_for(self, key: str) -> str:
        return self.resolve(key)[0]


def _validate_row(
    row: RawRow, field_names: FieldNames, settings: RiskMapSettings
) -> BugRecord | RecordError:
    if not isinstance(row.content, Mapping):
        problem = f"expected an object with bug fields, got {type(row.content).__name__}"
        return RecordError(row.index, None, None, problem, row.line)
    if None in row.content:  # csv.DictReader's key for cells beyond the header
        problem = "has more cells than the header has columns"
        return RecordError(row.index, None, None, problem, row.line)
    prepared = _rename_keys(row.content, field_names)
    severity = prepared.get("severity")
    if isinstance(severity, str):
        prepared["severity"] = settings.severity_aliases.get(severity.strip().lower(), severity)
    try:
        return BugRecord.model_validate(prepared)
    except ValidationError as exc:
        return _record_error(row, prepared.get("id"), exc)


def _rename_keys(content: Mapping[Any, Any], field_names: FieldNames) -> dict[str, Any]:
    renamed: dict[str, Any] = {}
    for key, value in content.items():
        target, explicit = field_names.resolve(str(key))
        if explicit:
            renamed[target] = value  # an explicit mapping beats a column that happens to match
        else:
            renamed.setdefault(target, value)
    return renamed


def _record_error(row: RawRow, raw_id: object, exc: ValidationError) -> RecordError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    problem = _describe(first)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    record_id = _shorten(str(raw_id).strip()) if isinstance(raw_id, str | int) else ""
    return RecordError(
        row.index, record_id or None, error_location(first) or None, problem, row.line
    )


def _describe(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "is required"
    described = f"{error_message(error)} (got {_shorten(repr(error['input']))})"
    if error["loc"] == ("severity",) and isinstance(error["input"], str):
        # A tracker's own severity names ("Blocker", "P1") are the usual cause.
        described += "; map other names to these in the settings file's [severity_aliases]"
    return described


def _shorten(text: str) -> str:
    """Bug data quoted in an error stays short enough for the error to stay one readable line."""
    return text if len(text) <= _MAX_SHOWN_INPUT else text[: _MAX_SHOWN_INPUT - 3] + "..."
