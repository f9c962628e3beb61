"""Reading bug exports (JSON, CSV), git churn from a real repository, Cobertura coverage."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from taskrisk.errors import InputError
from taskrisk.model import FileChurn, FileCoverage, Severity
from taskrisk.settings import RiskMapSettings
from taskrisk.sources import (
    InputFormat,
    load_bugs,
    load_settings,
    parse_numstat,
    read_coverage,
    read_git_churn,
)

RECORDS = [
    {
        "id": "B-1",
        "title": "Lost event after PutEvents failure",
        "severity": "critical",
        "component": "events",
        "file": "src/taskapi/service/tasks.py",
        "category": "data_integrity",
        "testing_gap": "no failure injection, anywhere",
        "opened_at": "2025-02-02",
    },
    {
        "id": "B-2",
        "title": 'Pagination token "next" not validated',
        "severity": "high",
        "component": "api",
        "file": "src/taskapi/entrypoints/api.py",
        "category": "validation",
    },
]


def write_json(tmp_path: Path, document: object, name: str = "bugs.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def write_csv(tmp_path: Path, rows: list[dict[str, str]], name: str = "bugs.csv") -> Path:
    path = tmp_path / name
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("document", [RECORDS, {"bugs": RECORDS, "exported_at": "today"}])
def test_json_input_is_a_list_or_an_object_with_bugs(tmp_path: Path, document: object) -> None:
    loaded = load_bugs(str(write_json(tmp_path, document)))
    assert [bug.id for bug in loaded.bugs] == ["B-1", "B-2"]
    assert loaded.skipped == 0


def test_csv_input_gives_the_same_records_as_json(tmp_path: Path) -> None:
    from_json = load_bugs(str(write_json(tmp_path, RECORDS))).bugs
    from_csv = load_bugs(str(write_csv(tmp_path, RECORDS))).bugs
    assert from_csv == from_json
    assert from_csv[1].testing_gap is None  # an empty cell is "not given"
    assert from_csv[0].testing_gap == "no failure injection, anywhere"  # quoted comma survives


def test_the_input_format_option_beats_the_extension(tmp_path: Path) -> None:
    path = write_csv(tmp_path, RECORDS, name="export.txt")
    loaded = load_bugs(str(path), input_format=InputFormat.CSV)
    assert len(loaded.bugs) == 2


def test_csv_with_a_byte_order_mark_and_title_case_headers(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(
        "\ufeffID,Title,Severity,Component,File,Category,Testing Gap\n"
        "7,Throttling surfaced as 500,High,store,src/taskapi/adapters/dynamodb.py,"
        "Error Handling,no throttling test\n",
        encoding="utf-8",
    )
    bug = load_bugs(str(path)).bugs[0]
    assert (bug.id, bug.severity, bug.category) == ("7", Severity.HIGH, "error_handling")
    assert bug.testing_gap == "no throttling test"


def test_a_spreadsheet_csv_with_bom_crlf_and_multi_line_cells(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfid,title,severity,component,file,category,description\r\n"
        b'1,Lost event,High,events,src\\tasks.py,Data Integrity,"first line\r\nsecond line"\r\n'
        b"\r\n"
        b"2,Slow list,low,api,api.py,performance,\r\n"
    )

    first, second = load_bugs(str(path)).bugs

    assert (first.id, first.file, first.category) == ("1", "src/tasks.py", "data_integrity")
    assert first.description == "first line\nsecond line"  # line endings read as "\n"
    assert (second.id, second.severity) == ("2", Severity.LOW)


def test_a_csv_error_names_the_first_line_of_a_record_spanning_several(tmp_path: Path) -> None:
    path = tmp_path / "bugs.csv"
    path.write_text(
        "id,title,severity,component,file,category,description\n"
        '1,Lost event,high,events,a.py,data,"three\nline\ndescription"\n'
        '2,Slow list,urgent,api,b.py,performance,"two\nlines"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"^record\[1\] \(line 5, id '2'\): field 'severity'"):
        load_bugs(str(path))


def test_a_csv_without_a_required_column_is_one_error(tmp_path: Path) -> None:
    rows = [{k: v for k, v in row.items() if k not in {"file", "category"}} for row in RECORDS]
    with pytest.raises(InputError, match=r"CSV header lacks the columns file, category \(found: "):
        load_bugs(str(write_csv(tmp_path, rows)))


def test_a_csv_row_with_too_many_cells_names_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path, RECORDS)
    with path.open("a", encoding="utf-8") as stream:
        stream.write("B-3,t,low,api,x.py,validation,,,extra\n")
    with pytest.raises(
        InputError, match=r"^record\[2\] \(line 4\): has more cells than the header"
    ):
        load_bugs(str(path))


def test_unreadable_csv_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bugs.csv"
    huge_cell = "x" * (csv.field_size_limit() + 1)
    path.write_text(f"id,title,severity,component,file,category\n1,{huge_cell},low,c,f,k\n")
    with pytest.raises(
        InputError, match=r"bugs\.csv: not valid CSV: field larger than field limit"
    ):
        load_bugs(str(path))


def test_a_jira_export_is_read_through_column_and_severity_mappings(tmp_path: Path) -> None:
    path = tmp_path / "jira.csv"
    # Jira repeats "Component/s" once per component; the first non-empty cell is used.
    path.write_text(
        "Issue key,Summary,Priority,Component/s,Component/s,Custom field (File),Labels,Created\n"
        "TASK-12,Lost update on concurrent edits,Blocker,task-store,storage,"
        "src/taskapi/adapters/dynamodb.py,concurrency,2025-04-01T09:30:00+02:00\n"
        "\n"
        "TASK-13,Token not validated,Major,,api,src/taskapi/entrypoints/api.py,validation,\n",
        encoding="utf-8",
    )
    settings = RiskMapSettings.model_validate(
        {
            "columns": {
                "Issue key": "id",
                "Summary": "title",
                "Priority": "severity",
                "Component/s": "component",
                "Custom field (File)": "file",
                "Labels": "category",
                "Created": "opened_at",
            },
            "severity_aliases": {"Blocker": "critical", "major": "high"},
        }
    )
    first, second = load_bugs(str(path), settings=settings).bugs
    assert (first.id, first.severity, first.component) == (
        "TASK-12",
        Severity.CRITICAL,
        "task-store",
    )
    assert first.opened_at == date(2025, 4, 1)  # the tracker's local date, not converted to UTC
    assert (second.id, second.severity, second.component) == ("TASK-13", Severity.HIGH, "api")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", r"not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        ('{"issues": []}', r'expected a JSON list of bugs or an object with a "bugs" list'),
        ('"bugs"', r"expected a JSON list of bugs"),
    ],
)
def test_unusable_json_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bugs.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_bugs(str(path))


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.json: no such file"):
        load_bugs(str(tmp_path / "absent.json"))


def test_lenient_loading_reports_how_many_records_were_skipped(tmp_path: Path) -> None:
    document = [*RECORDS, {"id": "B-3"}, RECORDS[0] | {"id": "B-4", "severity": "sev1"}]
    loaded = load_bugs(str(write_json(tmp_path, document)), lenient=True)
    assert [bug.id for bug in loaded.bugs] == ["B-1", "B-2"]
    assert loaded.skipped == 2
    assert str(loaded.errors[1]).startswith("record[3] (id 'B-4'): field 'severity'")


# -- git churn -------------------------------------------------------------------------------


def git(repository: Path, *args: str, when: datetime | None = None) -> None:
    stamp = (when or datetime.now(UTC)).isoformat()
    environment = os.environ | {
        "GIT_AUTHOR_NAME": "Risk Map Test",
        "GIT_AUTHOR_EMAIL": "riskmap@example.invalid",
        "GIT_COMMITTER_NAME": "Risk Map Test",
        "GIT_COMMITTER_EMAIL": "riskmap@example.invalid",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
        "GIT_CONFIG_GLOBAL": os.devnull,  # no signing or hooks from the developer's config
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(
        ["git", "-C", str(repository), *args], check=True, capture_output=True, env=environment
    )


def lines(count: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {number}\n" for number in range(count))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """Four commits with known line counts; the first is 200 days old."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet")
    old = datetime.now(UTC) - timedelta(days=200)

    (root / "old.py").write_text(lines(7), encoding="utf-8")
    git(root, "add", "old.py", when=old)
    git(root, "commit", "--quiet", "-m", "old work", when=old)

    (root / "src").mkdir()
    (root / "src" / "tasks.py").write_text(lines(10), encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "add tasks")

    # Rewrite 3 of the 10 lines (3 added, 3 deleted) and add a second file of 5 lines.
    unchanged = "".join(lines(10).splitlines(keepends=True)[3:])
    (root / "src" / "tasks.py").write_text(lines(3, "changed") + unchanged, encoding="utf-8")
    (root / "src" / "api.py").write_text(lines(5), encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "change tasks, add api")

    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "binary")
    return root


def test_churn_counts_commits_and_lines_within_the_window(repository: Path) -> None:
    assert (repository / "src" / "tasks.py").read_text().count("\n") == 10
    churn = read_git_churn(repository, since_days=90)

    assert churn.since_days == 90
    assert churn.files == {
        "src/tasks.py": FileChurn(commits=2, lines_added=13, lines_deleted=3),
        "src/api.py": FileChurn(commits=1, lines_added=5, lines_deleted=0),
        "logo.png": FileChurn(commits=1, lines_added=0, lines_deleted=0),
    }


def test_a_wider_window_includes_older_commits(repository: Path) -> None:
    churn = read_git_churn(repository, since_days=365)
    assert churn.files["old.py"] == FileChurn(commits=1, lines_added=7, lines_deleted=0)


def test_a_window_longer_than_the_git_era_takes_the_whole_history(repository: Path) -> None:
    churn = read_git_churn(repository, since_days=1_000_000)
    assert churn.files["old.py"] == FileChurn(commits=1, lines_added=7, lines_deleted=0)


def test_churn_from_a_directory_that_is_not_a_repository_is_an_input_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match=r"git log failed: fatal: not a git repository"):
        read_git_churn(tmp_path, since_days=90)


def test_numstat_parsing_handles_binary_files_and_blank_lines() -> None:
    output = "\x1ecommit aaa\n\n3\t1\tsrc/a.py\n-\t-\timg.png\n\x1ecommit bbb\n\n2\t0\tsrc/a.py\n"
    assert parse_numstat(output) == {
        "src/a.py": FileChurn(commits=2, lines_added=5, lines_deleted=1),
        "img.png": FileChurn(commits=1, lines_added=0, lines_deleted=0),
    }


# -- coverage --------------------------------------------------------------------------------

COBERTURA = """<?xml version="1.0" ?>
<coverage version="7.10.6" line-rate="0.5">
  <sources><source>/ci/src</source></sources>
  <packages><package name="app"><classes>
    <class name="a.py" filename="app/a.py" line-rate="0.5">
      <lines><line number="1" hits="1"/><line number="2" hits="0"/></lines>
    </class>
    <class name="A2" filename="app/a.py" line-rate="1">
      <lines><line number="2" hits="3"/><line number="3" hits="0"/></lines>
    </class>
    <class name="b.py" filename="app/b.py" line-rate="0">
      <lines><line number="1" hits="0"/><line number="2" hits="0"/></lines>
    </class>
  </classes></package></packages>
</coverage>
"""


def test_coverage_merges_classes_of_one_file_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "coverage.xml"
    path.write_text(COBERTURA, encoding="utf-8")

    coverage = read_coverage(path)

    # Lines 1, 2, 3 of a.py: 1 and 2 hit (2 by the second class), 3 not.
    assert coverage.files == {
        "app/a.py": FileCoverage(lines_valid=3, lines_covered=2),
        "app/b.py": FileCoverage(lines_valid=2, lines_covered=0),
    }
    assert coverage.files["app/a.py"].line_rate == pytest.approx(2 / 3)


def test_the_committed_coverage_fixture_parses(coverage_fixture: Path) -> None:
    coverage = read_coverage(coverage_fixture)
    assert coverage.files["taskapi/service/tasks.py"] == FileCoverage(
        lines_valid=120, lines_covered=78
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<coverage><packages>", "not valid XML"),
        ("<report/>", r"not a Cobertura coverage report \(root element <report>\)"),
        ('<coverage><class name="x"/></coverage>', "a <class> element has no filename"),
        (
            '<coverage><class filename="x.py"><line number="a" hits="1"/></class></coverage>',
            "x.py: a <line> lacks number or hits",
        ),
    ],
)
def test_unusable_coverage_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "coverage.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_coverage(path)


@pytest.mark.parametrize(
    "read",
    [
        lambda path: load_bugs(str(path)),
        load_settings,
        read_coverage,
    ],
    ids=["bugs", "settings", "coverage"],
)
def test_every_reader_reports_a_directory_in_one_line(
    tmp_path: Path, read: Callable[[Path], object]
) -> None:
    with pytest.raises(InputError, match=r"^.+: cannot be read: Is a directory$"):
        read(tmp_path)
