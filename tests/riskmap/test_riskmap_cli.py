"""`taskapi risk` end to end, through the real `taskapi` entry point."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from taskapi.cli import main

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
    monkeypatch.setattr("sys.stdin", io.StringIO(csv_text))

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
