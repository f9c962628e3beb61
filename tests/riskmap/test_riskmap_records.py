"""Bug record validation: normalisation, one clear error per bad record, lenient mode."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from taskrisk.errors import InputError
from taskrisk.intake import RawRow, validate_rows
from taskrisk.model import BugRecord, Layer, Severity, to_snake_case
from taskrisk.settings import RiskMapSettings

VALID: dict[str, Any] = {
    "id": "B-1",
    "title": "Cycle check blows the recursion limit",
    "severity": "high",
    "component": "dependency-graph",
    "file": "src/taskapi/domain/rules.py",
    "category": "performance",
}


def validate(*records: object, lenient: bool = False) -> Any:
    rows = [RawRow(index, record) for index, record in enumerate(records)]
    return validate_rows(rows, RiskMapSettings(), lenient=lenient)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Data Integrity", "data_integrity"),
        ("data-integrity", "data_integrity"),
        ("dataIntegrity", "data_integrity"),
        ("  ERROR_HANDLING ", "error_handling"),
        ("error handling / retries", "error_handling_retries"),
        ("HTTP2Errors", "http2_errors"),
    ],
)
def test_categories_are_normalised_to_lower_snake_case(text: str, expected: str) -> None:
    assert to_snake_case(text) == expected
    assert BugRecord.model_validate(VALID | {"category": text}).category == expected


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("id", 42, "42"),
        ("severity", " CRITICAL ", Severity.CRITICAL),
        ("file", ".\\src\\taskapi\\api.py", "src/taskapi/api.py"),
        ("layer", "handler", Layer.ENTRYPOINT),
        ("layer", "Integration", Layer.ADAPTER),
        ("layer", "infra", Layer.INFRASTRUCTURE),
        ("status", "In Progress", "in_progress"),
        ("opened_at", "2025-03-04T23:15:00Z", date(2025, 3, 4)),
        ("opened_at", "2025-03-04", date(2025, 3, 4)),
        ("description", "   ", None),
        ("layer", " ", None),
        ("closed_at", "", None),
    ],
)
def test_fields_accept_common_spellings(field: str, raw: object, expected: object) -> None:
    record = BugRecord.model_validate(VALID | {field: raw})
    assert getattr(record, field) == expected


def test_unknown_keys_from_tracker_exports_are_ignored() -> None:
    record = BugRecord.model_validate(VALID | {"assignee": "sam", "labels": ["bug"]})
    assert record.model_dump(exclude_none=True) == VALID | {"severity": Severity.HIGH}


MALFORMED: list[tuple[str, str, object, str]] = [
    # (case, field, value or REMOVE, expected fragment of the problem)
    ("id missing", "id", "REMOVE", "is required"),
    ("id empty", "id", "", "at least 1 character"),
    ("id a list", "id", ["B-1"], "valid string"),
    ("title missing", "title", "REMOVE", "is required"),
    ("title blank", "title", "   ", "at least 1 character"),
    ("severity unknown", "severity", "urgent", "'critical', 'high', 'medium' or 'low'"),
    ("severity missing", "severity", "REMOVE", "is required"),
    ("severity a number", "severity", 1, "'critical', 'high', 'medium' or 'low'"),
    ("component missing", "component", "REMOVE", "is required"),
    ("component empty", "component", "", "at least 1 character"),
    ("file missing", "file", "REMOVE", "is required"),
    ("file empty", "file", " ", "at least 1 character"),
    ("category missing", "category", "REMOVE", "is required"),
    ("category only punctuation", "category", "--", "at least one letter or digit"),
    ("description not text", "description", ["a", "b"], "valid string"),
    ("root_cause not text", "root_cause", 12, "valid string"),
    ("testing_gap not text", "testing_gap", {"gap": "x"}, "valid string"),
    ("layer unknown", "layer", "frontend", "unknown layer 'frontend'"),
    ("status not text", "status", 5, "valid string"),
    ("opened_at not a date", "opened_at", "yesterday", "valid date"),
    ("closed_at impossible date", "closed_at", "2025-13-01", "valid date"),
]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_malformed_field_gives_one_error_naming_index_id_and_field(
    field: str, value: object, problem: str
) -> None:
    bad = dict(VALID)
    if value == "REMOVE":
        del bad[field]
    else:
        bad[field] = value

    with pytest.raises(InputError) as raised:
        validate(VALID | {"id": "B-0"}, bad)

    message = str(raised.value)
    assert message.startswith("record[1]")
    assert f"field {field!r}" in message
    assert problem in message
    assert "\n" not in message
    if field != "id":
        assert "id 'B-1'" in message


def test_closing_before_opening_is_reported_on_closed_at() -> None:
    bad = VALID | {"opened_at": "2025-03-10", "closed_at": "2025-03-01"}
    with pytest.raises(InputError, match=r"field 'closed_at': closed on 2025-03-01 before"):
        validate(bad)


def test_a_record_that_is_not_an_object_is_reported_with_its_index() -> None:
    with pytest.raises(
        InputError, match=r"^record\[0\]: expected an object with bug fields, got str"
    ):
        validate("BUG-1 broke")


def test_several_problems_in_one_record_are_counted_not_listed() -> None:
    with pytest.raises(InputError, match=r"field 'title': is required \(and 2 more problems\)$"):
        validate({"id": "B-9", "severity": "high", "file": "x.py"})


def test_strict_mode_stops_at_the_first_bad_record() -> None:
    with pytest.raises(InputError, match=r"^record\[1\] \(id 'B-2'\)"):
        validate(VALID, VALID | {"id": "B-2", "severity": "?"}, VALID | {"id": "B-3", "file": ""})


def test_lenient_mode_keeps_the_good_records_and_counts_the_bad() -> None:
    loaded = validate(
        VALID,
        VALID | {"id": "B-2", "severity": "?"},
        VALID | {"id": "B-3"},
        ["not", "an", "object"],
        lenient=True,
    )

    assert [bug.id for bug in loaded.bugs] == ["B-1", "B-3"]
    assert loaded.skipped == 2
    assert [error.index for error in loaded.errors] == [1, 3]
    assert loaded.errors[0].field == "severity"


def test_columns_and_severity_aliases_from_settings_are_applied() -> None:
    settings = RiskMapSettings.model_validate(
        {
            "columns": {"Issue key": "id", "Summary": "title", "Priority": "severity"},
            "severity_aliases": {"Blocker": "critical", "Minor": "low"},
        }
    )
    row = {
        "Issue key": "TASK-7",
        "Summary": "Lost event",
        "Priority": "Blocker",
        "Component": "events",
        "File": "src/taskapi/service/tasks.py",
        "Category": "Data Integrity",
        "Testing Gap": "no failure injection",
    }

    loaded = validate_rows([RawRow(0, row)], settings)

    bug = loaded.bugs[0]
    assert (bug.id, bug.title, bug.severity) == ("TASK-7", "Lost event", Severity.CRITICAL)
    assert (bug.category, bug.testing_gap) == ("data_integrity", "no failure injection")


@pytest.mark.parametrize("severity", ["P1", "Blocker", "sev-1"])
def test_an_unknown_severity_is_quoted_as_written_and_points_to_the_aliases(
    severity: str,
) -> None:
    with pytest.raises(InputError) as raised:
        validate(VALID | {"severity": severity})
    assert str(raised.value) == (
        "record[0] (id 'B-1'): field 'severity': Input should be 'critical', 'high', 'medium' "
        f"or 'low' (got {severity!r}); map other names to these in the settings file's "
        "[severity_aliases]"
    )


def test_severity_names_and_alias_targets_are_read_in_any_case() -> None:
    settings = RiskMapSettings.model_validate({"severity_aliases": {"P1": "CRITICAL"}})
    rows = [RawRow(0, VALID | {"severity": " p1 "}), RawRow(1, VALID | {"severity": "Low"})]

    bugs = validate_rows(rows, settings).bugs

    assert [bug.severity for bug in bugs] == [Severity.CRITICAL, Severity.LOW]
    assert Severity("Medium") is Severity.MEDIUM


def test_a_huge_id_is_shortened_in_the_error() -> None:
    with pytest.raises(InputError) as raised:
        validate(VALID | {"id": "X" * 5_000, "file": ""})
    message = str(raised.value)
    assert message.startswith("record[0] (id 'XXX")
    assert "XXX...'): field 'file'" in message
    assert len(message) < 200
