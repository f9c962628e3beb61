"""The logs source: what a Powertools line becomes, every shape it is exported in, every way a
line can be malformed, and that the committed logs are still what the service logs.

The fixtures in examples/logs/ come from tests/local/fault_run.py (make risk-logs);
tests/local/test_fault_run.py runs it again, over real sockets, and compares the failure groups,
so they cannot drift from the service's real lines.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.local import fault_run

from taskrisk.analysis import BUG_REPORTS, LOG_FINDINGS, analyse
from taskrisk.cli import main
from taskrisk.errors import InputError
from taskrisk.logs import (
    MAX_LINE_CHARACTERS,
    NO_CODE_LOCATION,
    OWN_PACKAGES,
    Failure,
    LogLine,
    group_failures,
    parse_line,
    source_path,
)
from taskrisk.model import Layer, Severity
from taskrisk.sources import load_bugs, load_logs

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "examples" / "logs"
SHAPES = ("app.log", "sam.log", "insights.csv", "insights.json")
EXIT_INPUT_ERROR = 2

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/taskapi/adapters/sqlite/unit_of_work.py", line 280, in _begin\n'
    '    connection.execute("BEGIN IMMEDIATE")\n'
    "sqlite3.OperationalError: database is locked\n"
    "\n"
    "The above exception was the direct cause of the following exception:\n"
    "\n"
    "Traceback (most recent call last):\n"
    '  File "/var/task/taskapi/service/tasks.py", line 130, in create\n'
    "    with self._open(access, Permission.WRITE) as uow:\n"
    '  File "/var/lang/lib/python3.13/contextlib.py", line 158, in __exit__\n'
    "    self.gen.throw(value)\n"
    '  File "/var/task/taskapi/adapters/sqlite/database.py", line 67, in store_errors\n'
    "    raise _translate(exc) from exc\n"
    "taskapi.service.ports.StoreUnavailable: the local database is busy"
)


def record(**fields: Any) -> dict[str, Any]:
    """A Powertools line of the API's 503, with fields replaced (None: left out)."""
    line = {
        "level": "WARNING",
        "location": "handle_error:88",
        "message": "store unavailable",
        "timestamp": "2025-03-04 10:15:00,123+0000",
        "service": "taskapi",
        "correlation_id": "req-1",
        "route": "POST /workspaces/{workspace_id}/tasks",
        "status": 503,
        "error": "service_unavailable",
        "exception": TRACEBACK,
        "exception_name": "StoreUnavailable",
    } | fields
    return {key: value for key, value in line.items() if value is not None}


def parsed(document: dict[str, Any]) -> object:
    return parse_line(LogLine(1, json.dumps(document)))


# -- the fixtures are what the service logs ----------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_every_exported_shape_gives_the_same_failures(shape: str) -> None:
    logs = load_logs(str(LOGS / shape))
    assert (logs.errors, logs.lines, logs.records) == ([], 10, 10)
    assert logs.failures == load_logs(str(LOGS / "app.log")).failures


def test_the_derived_shapes_are_the_fault_runs_own() -> None:
    lines = (LOGS / "app.log").read_text(encoding="utf-8").splitlines()
    assert (LOGS / "sam.log").read_text(encoding="utf-8").splitlines() == (
        fault_run.sam_lines(lines)
    )
    rows = list(csv.DictReader(io.StringIO((LOGS / "insights.csv").read_text(encoding="utf-8"))))
    assert rows == fault_run.insights_rows(lines)
    assert json.loads((LOGS / "insights.json").read_text(encoding="utf-8")) == rows
    assert (LOGS / "damaged.log").read_bytes().split(b"\n")[:-1] == (fault_run.damaged_lines(lines))


def test_the_fixture_groups_as_documented() -> None:
    report = analyse([], logs=load_logs(str(LOGS / "app.log")))
    rows = [(f.id, f.severity, f.count, f.status, f.layer) for f in report.log_findings]
    assert rows == [
        ("LOG-1", Severity.CRITICAL, 2, 500, Layer.ADAPTER),
        ("LOG-2", Severity.CRITICAL, 1, 500, Layer.ADAPTER),
        ("LOG-3", Severity.CRITICAL, 1, 500, Layer.ADAPTER),
        ("LOG-4", Severity.HIGH, 1, None, Layer.UNKNOWN),
        ("LOG-5", Severity.MEDIUM, 3, 503, Layer.ADAPTER),
        ("LOG-6", Severity.MEDIUM, 1, 503, Layer.ADAPTER),
        ("LOG-7", Severity.LOW, 1, None, Layer.UNKNOWN),
    ]
    locked = report.log_findings[4]
    assert locked.location == "src/taskapi/adapters/sqlite/unit_of_work.py:_begin"
    assert (locked.correlation_id, locked.error_code) == ("fault-run-07", "service_unavailable")
    assert report.log_findings[3].exception_type == "ConnectionError"


# -- what a record becomes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "severity", "category"),
    [
        ({}, Severity.MEDIUM, "availability"),
        ({"status": 504}, Severity.MEDIUM, "availability"),
        ({"level": "ERROR", "status": 500, "error": "internal_error"}, Severity.CRITICAL, "error"),
        ({"level": "INFO", "status": 501}, Severity.CRITICAL, "error"),  # the status decides
        ({"level": "ERROR", "status": None, "route": None}, Severity.HIGH, "error"),
        ({"level": "CRITICAL", "status": None}, Severity.CRITICAL, "error"),
        (
            {"status": None, "exception": None, "error": "ConnectionError: no"},
            Severity.LOW,
            "error",
        ),
    ],
)
def test_severity_follows_status_then_level(
    fields: dict[str, Any], severity: Severity, category: str
) -> None:
    failure = parsed(record(**fields))
    assert isinstance(failure, Failure)
    assert failure.severity is severity
    assert failure.category == ("availability" if category == "availability" else "error_handling")


@pytest.mark.parametrize(
    "fields",
    [
        {"level": "ERROR", "status": 404, "error": "not_found"},  # the caller's mistake
        {"level": "INFO", "status": None},
        {"status": None, "exception": None, "error": None},  # a warning naming no failure
    ],
)
def test_records_that_are_no_failure_of_the_service(fields: dict[str, Any]) -> None:
    outcome = parsed(record(**fields))
    assert not isinstance(outcome, Failure | str)


@pytest.mark.parametrize(
    "line",
    [
        "START RequestId: 8f5c Version: $LATEST",
        "REPORT RequestId: 8f5c\tDuration: 3.2 ms\tBilled Duration: 4 ms",
        f"{fault_run.LOG_STREAM} 2025-03-04T10:15:00.123000 END RequestId: 8f5c",
        '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "RouteLatency": [3.1]}',
        '{"time": "2025-03-04T10:15:00Z", "type": "platform.report", "record": {}}',
    ],
)
def test_lambda_platform_and_metric_lines_are_ignored(tmp_path: Path, line: str) -> None:
    log = tmp_path / "lambda.log"
    log.write_text(line + "\n", encoding="utf-8")
    logs = load_logs(str(log))
    assert (logs.ignored, logs.records, logs.errors) == (1, 0, [])


def test_the_code_location_is_the_first_causes_deepest_frame_of_own_code() -> None:
    failure = parsed(record())
    assert isinstance(failure, Failure)
    assert failure.file == "taskapi/adapters/sqlite/unit_of_work.py"  # Lambda's task root
    assert failure.location == "taskapi/adapters/sqlite/unit_of_work.py:_begin"


def test_libraries_beside_the_code_in_lambdas_task_root_are_not_own_code() -> None:
    # An artifact holds its wheels in /var/task too: a failure raised inside botocore is
    # located at the service's own frame that called it.
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/var/task/taskapi/adapters/dynamodb/client.py", line 91, in get\n'
        '  File "/var/task/botocore/client.py", line 601, in _api_call\n'
        '  File "/var/task/botocore/client.py", line 1074, in _make_api_call\n'
        '  File "/opt/python/urllib3/connectionpool.py", line 10, in urlopen\n'
        "botocore.exceptions.ReadTimeoutError: Read timeout on endpoint URL"
    )
    only_libraries = "\n".join(line for line in traceback.splitlines() if "taskapi/" not in line)
    located = parsed(record(exception=traceback))
    unlocated = parsed(record(exception=only_libraries))
    assert isinstance(located, Failure)
    assert isinstance(unlocated, Failure)
    assert located.location == "taskapi/adapters/dynamodb/client.py:get"
    assert (unlocated.file, unlocated.location) == (None, "handle_error:88")


def test_own_packages_are_the_packages_in_src() -> None:
    in_src = {path.parent.name for path in (ROOT / "src").glob("*/__init__.py")}
    assert in_src == OWN_PACKAGES


def test_without_a_traceback_the_stack_trace_then_powertools_location_is_used() -> None:
    frames = [
        {"file": "/app/src/taskapi/service/tasks.py", "function": "create"},
        {"file": "/usr/lib/python3.12/site-packages/pydantic/main.py", "function": "validate"},
    ]
    from_stack = parsed(record(exception=None, stack_trace={"type": "X", "frames": frames}))
    from_location = parsed(record(exception=None))
    assert isinstance(from_stack, Failure)
    assert isinstance(from_location, Failure)
    assert from_stack.location == "src/taskapi/service/tasks.py:create"
    assert (from_location.file, from_location.location) == (None, "handle_error:88")


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        ("/var/task/taskapi/x.py", "taskapi/x.py"),
        ("/opt/python/shared/y.py", "shared/y.py"),
        ("/home/ci/work/src/taskapi/x.py", "src/taskapi/x.py"),
        ("src/taskapi/x.py", "src/taskapi/x.py"),
        ("C:\\work\\src\\app\\x.py", "src/app/x.py"),
        ("/srv/app/x.py", "/srv/app/x.py"),
    ],
)
def test_logged_paths_are_shown_as_the_repository_spells_them(logged: str, shown: str) -> None:
    assert source_path(logged) == shown


def test_identical_failures_group_with_count_first_and_last_seen_and_an_example() -> None:
    lines = [
        record(timestamp="2025-03-04 10:17:00,000+0000", correlation_id="late"),
        record(timestamp="2025-03-04 10:15:00,000+0000", correlation_id="early"),
        record(route="PUT /workspaces/{workspace_id}/tasks/{task_id}"),
    ]
    failures = [parsed(line) for line in lines]
    assert all(isinstance(failure, Failure) for failure in failures)
    groups = group_failures(failures)  # type: ignore[arg-type]
    assert [len(group.failures) for group in groups] == [2, 1]
    assert groups[0].correlation_id == "early"
    assert (groups[0].last_seen - groups[0].first_seen).seconds == 120


# -- malformed lines -------------------------------------------------------------------------


MALFORMED: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"taskapi listening on http://127.0.0.1:8000", "not JSON: 'taskapi listening"),
    "cut short": (
        b'{"level": "ERROR", "mess',
        "not JSON: Unterminated string starting at column 20",  # one "at" (json's ends in it)
    ),
    "a JSON list after a prefix": (b'stream {"level"} ["x"]', "not JSON:"),
    "a JSON number": (b"7", "JSON that is not an object (int)"),
    "a JSON list": (b'["ERROR", "boom"]', "JSON that is not an object (list)"),
    "a JSON string after a prefix": (b'stream 2025-03-04T10:15:00 {"a"}', "not JSON:"),
    "no level": (json.dumps(record(level=None)).encode(), "missing field 'level'"),
    "no level, no message": (
        json.dumps(record(level=None, message=None)).encode(),
        "missing fields 'level', 'message'",
    ),
    "no timestamp": (json.dumps(record(timestamp=None)).encode(), "missing field 'timestamp'"),
    "a bad timestamp": (
        json.dumps(record(timestamp="yesterday")).encode(),
        "field 'timestamp': not a timestamp (got 'yesterday')",
    ),
    "a bad status": (
        json.dumps(record(status="503")).encode(),
        "field 'status': not an HTTP status (got '503')",
    ),
    "a level that is no name": (json.dumps(record(level=40)).encode(), "field 'level'"),
    "a huge line": (
        b'{"level": "ERROR", "message": "' + b"x" * MAX_LINE_CHARACTERS + b'"}',
        f"longer than {MAX_LINE_CHARACTERS:,} characters",
    ),
    "a control character": (b'{"level": "ERROR"\x1b[2J}', "control character '\\x1b' at column 18"),
    "a NUL": (b"\x00" + json.dumps(record()).encode(), "control character '\\x00' at column 1"),
    "a byte that is not UTF-8": (b'{"level": "\xff"}', "not UTF-8: byte 0xff at column 12"),
    "nested too deeply": (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not usable JSON"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_line_is_one_error_naming_the_file_and_line(tmp_path: Path, case: str) -> None:
    content, problem = MALFORMED[case]
    log = tmp_path / "app.log"
    log.write_bytes(json.dumps(record()).encode() + b"\n\n" + content + b"\n")

    with pytest.raises(InputError) as raised:
        load_logs(str(log))
    assert str(raised.value).startswith(f"{log}: line 3: {problem}")
    lenient = load_logs(str(log), lenient=True)
    assert [(error.line, error.problem.startswith(problem)) for error in lenient.errors] == [
        (3, True)
    ]
    assert (len(lenient.failures), lenient.lines) == (1, 2)


def test_a_malformed_row_of_an_insights_export_is_named_by_its_place(tmp_path: Path) -> None:
    rows = fault_run.insights_rows([json.dumps(record())])
    as_csv = tmp_path / "export.csv"
    with as_csv.open("w", encoding="utf-8", newline="") as export:
        writer = csv.writer(export, lineterminator="\n")
        writer.writerow(["@timestamp", "@message"])
        writer.writerow([rows[0]["@timestamp"], json.dumps({"level": 1, "message": "m"})])
        writer.writerow([rows[0]["@timestamp"], "not, JSON"])
    as_json = tmp_path / "export.json"
    as_json.write_text(json.dumps([*rows, 7, {"@message": "[]"}]), encoding="utf-8")

    csv_errors = load_logs(str(as_csv), lenient=True).errors
    json_errors = load_logs(str(as_json), lenient=True).errors
    assert [str(error) for error in csv_errors] == [
        f"{as_csv}: line 2: field 'level': not a level name (got 1)",
        f"{as_csv}: line 3: not JSON: 'not, JSON'",
    ]
    assert [str(error) for error in json_errors] == [
        f"{as_json}: record[1]: JSON that is not an object (int)",
        f"{as_json}: record[2]: JSON that is not an object (list)",
    ]


def test_an_insights_csv_without_the_message_column_is_one_error(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("@timestamp,level\n2025-03-04 10:15:00.000,ERROR\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs the @message column"):
        load_logs(str(export))


@given(st.text(max_size=300))
def test_the_parser_never_raises_on_any_line(text: str) -> None:
    outcome = parse_line(LogLine(1, text))
    assert outcome is not None


@given(
    level=st.sampled_from(["ERROR", "WARNING", "CRITICAL", "INFO"]),
    status=st.none() | st.integers(min_value=100, max_value=599),
    message=st.text(min_size=1, max_size=40).filter(str.strip),
    route=st.none() | st.text(min_size=1, max_size=30).filter(str.strip),
)
def test_a_record_reads_the_same_in_every_shape(
    level: str, status: int | None, message: str, route: str | None
) -> None:
    line = json.dumps(record(level=level, status=status, message=message, route=route))
    raw = parse_line(LogLine(1, line))
    [sam] = fault_run.sam_lines([line])
    [row] = fault_run.insights_rows([line])
    assert parse_line(LogLine(1, sam)) == raw
    assert parse_line(LogLine(2, row["@message"], row["@timestamp"])) == raw
    # A status decides when there is one; else the level.
    failure_expected = level != "INFO" if status is None else status >= 500
    assert isinstance(raw, Failure) == failure_expected


# -- the command -----------------------------------------------------------------------------


def test_logs_and_bugs_make_one_report_with_the_sources_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bugs = ROOT / "examples" / "bugs.json"
    assert main([str(bugs), "--logs", str(LOGS / "sam.log"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)

    bug_count = len(load_bugs(str(bugs)).bugs)
    assert report["total_bugs"] == bug_count + 7
    sources = {row["name"]: row["bugs"] for row in report["by_source"]}
    assert sources == {BUG_REPORTS: bug_count, LOG_FINDINGS: 7}
    assert report["logs"]["failures"] == 10
    hotspot_ids = {i for spot in report["hotspots"] for i in spot["bug_ids"]}
    assert {"LOG-1", "BUG-104"} <= hotspot_ids


def test_a_lambda_path_meets_the_bug_exports_spelling_of_the_same_file(
    tmp_path: Path, make_bug: Any
) -> None:
    log = tmp_path / "lambda.log"
    log.write_text(json.dumps(record()) + "\n", encoding="utf-8")
    bug = make_bug(file="src/taskapi/adapters/sqlite/unit_of_work.py")
    report = analyse([bug], logs=load_logs(str(log)))
    [hotspot] = report.hotspots
    assert sorted(hotspot.bug_ids) == [bug.id, "LOG-1"]


def test_logs_alone_and_lenient_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = LOGS / "damaged.log"
    assert main(["--logs", str(damaged)]) == EXIT_INPUT_ERROR
    assert capsys.readouterr().err.startswith(f"taskrisk: error: {damaged}: line 4: not JSON")

    assert main(["--logs", str(damaged), "--lenient", "--format", "markdown"]) == 0
    out, err = capsys.readouterr()
    assert "taskrisk: skipped 3 malformed log lines:" in err
    assert f"{damaged}: line 6: not UTF-8: byte 0xe9 at column 6" in err
    assert "Skipped 3 malformed log lines (--lenient)." in out
    assert "## Failures in the logs" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "nothing to analyse: give a bug export (BUGS), --logs FILE, or both"),
        (["-", "--logs", "-"], "standard input ('-') can be read only once"),
        (
            ["--input-format", "csv", "--logs", "x.log"],
            "--input-format is the format of BUGS: add the bug export",
        ),
        (["--logs", "no-such.log"], "no-such.log: no such file"),
    ],
)
def test_unusable_options_are_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == EXIT_INPUT_ERROR
    assert capsys.readouterr().err == f"taskrisk: error: {message}\n"


def test_every_line_malformed_is_an_error_even_when_lenient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "banner.log"
    log.write_text("taskapi listening\n", encoding="utf-8")
    assert main(["--logs", str(log), "--lenient"]) == EXIT_INPUT_ERROR
    err = capsys.readouterr().err
    assert "the only line is malformed, nothing to analyse in the logs" in err


def test_logs_without_failures_give_an_empty_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "quiet.log"
    log.write_text(json.dumps(record(level="INFO", status=201)) + "\n", encoding="utf-8")
    assert main(["--logs", str(log), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "The input holds no valid bug records and the logs no failures." in out


def test_a_finding_without_a_code_location_is_in_the_unknown_layer(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(json.dumps(record(exception=None)) + "\n", encoding="utf-8")
    report = analyse([], logs=load_logs(str(log)))
    [finding] = report.log_findings
    assert (finding.file, finding.layer) == (NO_CODE_LOCATION, Layer.UNKNOWN)
