"""`taskapi risk` end to end, through the real `taskapi` entry point."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from taskapi.local.cli import main

EXIT_INPUT_ERROR = 2


def bug(**fields: str) -> dict[str, str]:
    return {
        "id": "B-1",
        "title": "Throttling surfaced as 500",
        "severity": "high",
        "component": "task-store",
        "file": "src/taskapi/adapters/dynamodb.py",
        "category": "error_handling",
    } | fields


def write_bugs(tmp_path: Path, records: list[dict[str, str]]) -> Path:
    path = tmp_path / "bugs.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def stdin_of(data: bytes) -> io.TextIOWrapper:
    """Standard input as a process gets it: bytes under a text layer."""
    return io.TextIOWrapper(io.BytesIO(data))


def assert_one_line_error(stderr: str, fragment: str) -> None:
    assert stderr.startswith("taskapi risk: error: ")
    assert stderr.count("\n") == 1
    assert fragment in stderr
    assert "Traceback" not in stderr


def test_markdown_report_of_the_example_data(
    examples_bugs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", str(examples_bugs), "--format", "markdown", "--top", "3"]) == 0

    out, err = capsys.readouterr()
    assert out.startswith("# Bug risk report\n\n26 bugs, severity-weighted score 100")
    assert "| 1 | `src/taskapi/service/tasks.py` | dependency-graph | service |" in out
    assert err == ""


def test_text_is_the_default_format(
    examples_bugs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", str(examples_bugs)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Bug risk report\n")
    assert "src/taskapi/adapters/dynamodb.py" in out


def test_json_report_with_custom_weights(
    examples_bugs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(
        ["risk", str(examples_bugs), "--format", "json", "--weights", "critical=20,low=0"]
    )

    assert exit_code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total_bugs"] == 26
    assert report["weights"] == {"critical": 20, "high": 5, "medium": 2, "low": 0}
    assert report["total_score"] == 3 * 20 + 9 * 5 + 11 * 2


@pytest.mark.parametrize("output_format", ["html", "png", "markdown"])
def test_out_writes_the_file(
    examples_bugs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    target = tmp_path / f"risk.{output_format}"

    assert main(["risk", str(examples_bugs), "--format", output_format, "--out", str(target)]) == 0

    assert target.stat().st_size > 1_000
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"taskapi risk: wrote {target}\n"


def test_png_needs_an_output_file(examples_bugs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", str(examples_bugs), "--format", "png"]) == EXIT_INPUT_ERROR
    assert_one_line_error(capsys.readouterr().err, "--format png writes an image: add --out PATH")


def test_a_malformed_record_exits_2_naming_index_id_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_bugs(tmp_path, [bug(), bug(id="B-2", severity="blocker")])

    assert main(["risk", str(path)]) == EXIT_INPUT_ERROR

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err, "record[1] (id 'B-2'): field 'severity': Input should be")


def test_lenient_skips_bad_records_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [bug(), bug(id="B-2", severity="blocker"), bug(id="B-3", file="")]
    path = write_bugs(tmp_path, records)

    assert main(["risk", str(path), "--lenient", "--format", "markdown"]) == 0

    out, err = capsys.readouterr()
    assert err.splitlines()[0] == "taskapi risk: skipped 2 invalid records:"
    assert "  record[2] (id 'B-3'): field 'file'" in err
    assert "1 bug, severity-weighted score 5" in out
    assert "Skipped 2 invalid records (--lenient)." in out


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["missing.json"], "missing.json: no such file"),
        (["{bugs}", "--weights", "high=much"], "--weights: bad weight 'high=much'"),
        (["{bugs}", "--weights", "low=9"], "weights: weight of low (9) must not exceed"),
        (["{bugs}", "--since-days", "30"], "--since-days sets the churn window of --git"),
        (["{bugs}", "--coverage", "{bugs}"], "not valid XML"),
        (["{bugs}", "--layers", "{bugs}"], "not valid TOML"),
        (["{bugs}", "--git", "{tmp}"], "git log failed"),
        (["{bugs}", "--format", "html", "--out", "{tmp}/no/such/dir/r.html"], "cannot be written"),
    ],
)
def test_input_problems_exit_2_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    fragment: str,
) -> None:
    bugs = write_bugs(tmp_path, [bug()])
    argv = [arg.format(bugs=bugs, tmp=tmp_path) for arg in arguments]
    monkeypatch.chdir(tmp_path)  # "missing.json" is relative

    assert main(["risk", *argv]) == EXIT_INPUT_ERROR
    assert_one_line_error(capsys.readouterr().err, fragment)


def test_argument_errors_are_argparse_usage_errors(
    examples_bugs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["risk", str(examples_bugs), "--top", "0"])
    assert exited.value.code == EXIT_INPUT_ERROR
    assert "--top: 0 must be greater than zero" in capsys.readouterr().err


def test_csv_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_text = "id,title,severity,component,file,category\n7,Lost event,critical,events,a.py,data\n"
    monkeypatch.setattr("sys.stdin", stdin_of(csv_text.encode()))

    assert main(["risk", "-", "--input-format", "csv", "--format", "json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["hotspots"][0]["bug_ids"] == ["7"]


def test_layers_file_overrides_the_layer_of_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bugs = write_bugs(tmp_path, [bug(file="src/jobs/nightly.py")])
    layers = tmp_path / "layers.toml"
    layers.write_text('[layers]\n"src/jobs/*" = "service"\n', encoding="utf-8")

    assert main(["risk", str(bugs), "--layers", str(layers), "--format", "json"]) == 0

    assert json.loads(capsys.readouterr().out)["by_layer"][0]["name"] == "service"


def test_git_churn_and_coverage_enrich_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = tmp_path / "repo"
    (repository / "src" / "app").mkdir(parents=True)
    (repository / "src" / "app" / "store.py").write_text("a = 1\nb = 2\n", encoding="utf-8")
    identity = ["-c", "user.name=Risk Map Test", "-c", "user.email=riskmap@example.invalid"]
    environment = os.environ | {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (["init", "--quiet"], ["add", "."], ["commit", "--quiet", "-m", "store"]):
        subprocess.run(
            ["git", *identity, "-C", str(repository), *command],
            check=True,
            capture_output=True,
            env=environment,
        )
    coverage = tmp_path / "coverage.xml"
    coverage.write_text(
        '<coverage><class filename="app/store.py"><lines>'
        '<line number="1" hits="1"/><line number="2" hits="0"/>'
        "</lines></class></coverage>",
        encoding="utf-8",
    )
    bugs = write_bugs(tmp_path, [bug(file="src/app/store.py")])

    exit_code = main(
        [
            "risk",
            str(bugs),
            "--git",
            str(repository),
            "--since-days",
            "30",
            "--coverage",
            str(coverage),
            "--format",
            "json",
        ]
    )

    assert exit_code == 0
    report = json.loads(capsys.readouterr().out)
    hotspot = report["hotspots"][0]
    assert hotspot["churn"] == {"commits": 1, "lines_added": 2, "lines_deleted": 0}
    assert hotspot["coverage"] == {"lines_valid": 2, "lines_covered": 1}
    assert hotspot["risk_score"] == 5 * 2 * 1.5  # the only churned file, half covered
    assert report["enrichment"]["churn_since_days"] == 30


def test_stdin_is_utf8_with_or_without_a_byte_order_mark(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.dumps([bug(component="Zahlungsdienst-äöü")], ensure_ascii=False)
    monkeypatch.setattr("sys.stdin", stdin_of(b"\xef\xbb\xbf" + document.encode()))

    assert main(["risk", "-", "--format", "json"]) == 0

    assert json.loads(capsys.readouterr().out)["by_component"][0]["name"] == "Zahlungsdienst-äöü"


def test_a_github_issues_export_with_extra_fields_is_read_as_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `gh issue list --json ...` gives, plus the fields a team adds with labels or a form:
    # the tracker's own keys (nested labels, author, url) are ignored, camelCase keys are read.
    issue = {
        "number": 4711,
        "id": "I_kwDOAbc123",
        "title": "Überfällige Aufgaben werden nicht gemeldet 🐛",
        "labels": [{"name": "bug", "color": "d73a4a"}, {"name": "severity:critical"}],
        "author": {"login": "octocat"},
        "url": "https://github.invalid/o/r/issues/4711",
        "state": "OPEN",
        "severity": "Critical",
        "component": "Benachrichtigungen",
        "file": "src\\notify\\handler.py",
        "category": "Error Handling",
        "testingGap": "kein Test für SES-Drosselung",
        "createdAt": "2025-03-04T10:15:00Z",
        "closedAt": None,
    }
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([issue], ensure_ascii=False), encoding="utf-8")

    assert main(["risk", str(path), "--format", "json"]) == 0

    hotspot = json.loads(capsys.readouterr().out)["hotspots"][0]
    assert hotspot["file"] == "src/notify/handler.py"
    assert (hotspot["component"], hotspot["layer"]) == ("Benachrichtigungen", "entrypoint")
    assert hotspot["severities"]["critical"] == 1
    assert hotspot["categories"][0]["name"] == "error_handling"
    assert hotspot["testing_gaps"] == ["kein Test für SES-Drosselung"]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("deep.json", b"[" * 100_000, "deep.json: not usable JSON: nested too deeply"),
        ("long.json", b'[{"id": ' + b"9" * 5_000 + b"}]", "long.json: not usable JSON: Exceeds"),
        ("latin1.json", '[{"title": "Größe"}]'.encode("latin-1"), "latin1.json: not UTF-8 text"),
        ("latin1.csv", "id,title\n1,Größe\n".encode("latin-1"), "latin1.csv: not UTF-8 text"),
        ("empty.csv", b"", "CSV header lacks the columns id, title, severity"),
    ],
)
def test_unusable_bug_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    assert main(["risk", str(path)]) == EXIT_INPUT_ERROR
    assert_one_line_error(capsys.readouterr().err, fragment)


def test_a_settings_file_that_is_not_utf8_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bugs = write_bugs(tmp_path, [bug()])
    layers = tmp_path / "layers.toml"
    layers.write_bytes('[severity_aliases]\n"sévère" = "high"\n'.encode("latin-1"))

    assert main(["risk", str(bugs), "--layers", str(layers)]) == EXIT_INPUT_ERROR
    assert_one_line_error(capsys.readouterr().err, "layers.toml: not UTF-8 text")


@pytest.mark.parametrize("lenient", [False, True])
def test_a_file_where_every_record_is_bad_exits_2_with_or_without_lenient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lenient: bool
) -> None:
    path = write_bugs(tmp_path, [bug(severity="P1"), bug(id="B-2", file="")])

    exit_code = main(["risk", str(path), *(["--lenient"] if lenient else [])])

    assert exit_code == EXIT_INPUT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err, "record[0] (id 'B-1'): field 'severity'")
    if lenient:
        assert "all 2 records are invalid, nothing to analyse; the first: record[0]" in err


def test_an_empty_export_is_an_empty_report_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", str(write_bugs(tmp_path, [])), "--format", "markdown"]) == 0
    assert "0 bugs, severity-weighted score 0" in capsys.readouterr().out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_colour_on_a_terminal_unless_no_color_is_set_and_not_empty(
    examples_bugs: Path, monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)  # no-color.org: an empty value does not count

    assert main(["risk", str(examples_bugs)]) == 0
    assert ("\x1b[" in terminal.getvalue()) is coloured
