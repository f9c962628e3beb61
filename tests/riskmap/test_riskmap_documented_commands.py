"""Every `taskapi risk` / `taskrisk` command the project shows runs as written.

The commands are read from README.md, docs/operations.md (console and bash blocks), the
command's --help epilog and the Makefile, and run in-process through `taskrisk.cli.main`
from the repository root, on the files the repository ships. Only where a command writes is
changed: `--out`/`-o` and `>` go to a temporary directory. A pipeline's `jq` stage runs for
real; a `gh` stage, which needs GitHub, is replaced by `examples/github-issues.json`, which
must carry exactly the fields the command asks for. Output shown under a console command
must be what the command prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskrisk.analysis import analyse
from taskrisk.cli import main
from taskrisk.sources import load_bugs

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/operations.md")
MENTION = re.compile(r"\btaskapi risk\b|\btaskrisk\b")
# The command where a shell would run it: at the start of a line or after a pipe.
INVOKED = re.compile(r"(^\s*|\|\s*)(\$ )?(\S*/)?(taskapi risk|taskrisk)(\s|$)")
FENCE = re.compile(r"^```(\w*)\s*$")
EXIT_INPUT_ERROR = 2


@dataclass(frozen=True)
class DocumentedCommand:
    where: str  # file:line
    text: str  # continuation lines joined
    output: tuple[str, ...] = ()  # what a console block shows it printing


def _join(lines: list[str]) -> str:
    return " ".join(line.removesuffix("\\").strip() for line in lines)


def _fenced_blocks(path: str) -> list[tuple[str, int, list[str]]]:
    """(language, line number of the first content line, lines) of every fenced block."""
    blocks: list[tuple[str, int, list[str]]] = []
    language: str | None = None
    for number, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(line)
        if language is None and fence:
            language, start, content = fence.group(1), number + 1, []
        elif language is not None and line.startswith("```"):
            blocks.append((language, start, content))
            language = None
        elif language is not None:
            content.append(line)
    return blocks


def _shell_commands(
    lines: list[str], start: int, path: str, *, prompt: bool
) -> list[DocumentedCommand]:
    """Console blocks: `$ ` starts a command, the lines after it are its output. Bash blocks:
    every line is a command. A trailing backslash continues a command on the next line."""
    commands: list[DocumentedCommand] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if prompt and not line.startswith("$ "):
            index += 1
            continue
        first = index
        parts = [line.removeprefix("$ ")]
        while parts[-1].endswith("\\"):
            index += 1
            parts.append(lines[index])
        index += 1
        output: list[str] = []
        while prompt and index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        text = re.sub(r"\s+#\s.*$", "", _join(parts))  # a trailing comment
        if MENTION.search(text):
            commands.append(
                DocumentedCommand(f"{path}:{start + first}", text, tuple(filter(None, output)))
            )
    return commands


def documented_in_markdown(path: str) -> list[DocumentedCommand]:
    commands = []
    for language, start, lines in _fenced_blocks(path):
        if language in {"console", "bash"}:
            commands += _shell_commands(lines, start, path, prompt=language == "console")
    return commands


def help_epilog() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--help"])
    return out.getvalue()


def documented_in_help() -> list[DocumentedCommand]:
    text = help_epilog()
    lines = text[text.index("\nexamples") :].splitlines()[2:]
    lines = lines[: lines.index("")]
    commands, index = [], 0
    while index < len(lines):
        parts = [lines[index]]
        while parts[-1].endswith("\\"):
            index += 1
            parts.append(lines[index])
        commands.append(DocumentedCommand(f"--help:{len(commands) + 1}", _join(parts)))
        index += 1
    return commands


def documented_in_makefile() -> list[DocumentedCommand]:
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    return [
        DocumentedCommand(f"Makefile:{number}", line.strip().replace("$(RUN) ", ""))
        for number, line in enumerate(lines, 1)
        if line.startswith("\t") and MENTION.search(line)
    ]


COMMANDS = [
    *(command for path in DOCUMENTS for command in documented_in_markdown(path)),
    *documented_in_help(),
    *documented_in_makefile(),
]


def test_the_commands_are_found_everywhere_they_are_shown() -> None:
    sources = {command.where.partition(":")[0] for command in COMMANDS}
    assert sources == {*DOCUMENTS, "--help", "Makefile"}
    assert len(COMMANDS) >= 18
    # An invocation in any other block can only be the synopsis of the command line reference.
    for path in DOCUMENTS:
        for language, _, lines in _fenced_blocks(path):
            if language not in {"console", "bash"}:
                assert not [line for line in lines if INVOKED.search(line)] or (
                    language == "text" and lines[0].startswith("taskapi risk [BUGS] ")
                ), (path, lines)


def _risk_arguments(stage: list[str]) -> list[str] | None:
    program = Path(stage[0]).name
    if program == "taskrisk":
        return stage[1:]
    if program == "taskapi" and stage[1:2] == ["risk"]:
        return stage[2:]
    return None


def _run_producer(stage: list[str], data: bytes | None) -> bytes:
    if stage[0] == "gh":
        sample = ROOT / "examples" / "github-issues.json"
        fields = stage[stage.index("--json") + 1].split(",")
        issues = json.loads(sample.read_text(encoding="utf-8"))
        assert issues
        assert all(sorted(issue) == sorted(fields) for issue in issues), sample
        return sample.read_bytes()
    assert stage[0] == "jq", f"no rule to run {stage[0]!r} in a documented pipeline"
    jq = shutil.which("jq")
    assert jq is not None, "jq is needed to check the documented pipelines: install it"
    completed = subprocess.run(
        [jq, *stage[1:]], input=data, cwd=ROOT, capture_output=True, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode()
    return completed.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=[command.where for command in COMMANDS])
def test_a_documented_command_runs_as_written(
    command: DocumentedCommand,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tokens = shlex.split(command.text)
    redirect = None
    if ">" in tokens:
        redirect = tmp_path / tokens[tokens.index(">") + 1]
        tokens = tokens[: tokens.index(">")]
    *producers, risk_stage = [list(stage) for stage in _split(tokens, "|")]
    arguments = _risk_arguments(risk_stage)
    assert arguments is not None, f"the last stage is not the risk command: {risk_stage}"
    data = None
    for stage in producers:
        data = _run_producer(stage, data)
    written = []
    for option in ("--out", "-o"):
        if option in arguments:
            position = arguments.index(option) + 1
            arguments[position] = str(tmp_path / arguments[position])
            written.append(Path(arguments[position]))
    monkeypatch.chdir(ROOT)
    if data is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    exit_code = main(arguments)

    out, err = capsys.readouterr()
    shown = [line.replace("taskapi risk", "taskrisk") for line in command.output]
    failing = any(": error: " in line for line in shown)
    assert exit_code == (EXIT_INPUT_ERROR if failing else 0), err
    printed = out.splitlines() + err.splitlines()
    for line in shown:
        assert line in printed
    if failing:
        return
    if redirect is not None:
        redirect.write_text(out, encoding="utf-8")
        written.append(redirect)
    elif not written:
        assert "Bug risk report" in out
    for path in written:
        assert path.stat().st_size > 1_000


def _split(tokens: list[str], separator: str) -> list[list[str]]:
    stages: list[list[str]] = [[]]
    for token in tokens:
        if token == separator:
            stages.append([])
        else:
            stages[-1].append(token)
    return stages


@pytest.mark.parametrize("path", DOCUMENTS)
def test_files_shown_in_the_docs_are_the_files_in_examples(path: str) -> None:
    shown = 0
    for _, _, lines in _fenced_blocks(path):
        named = re.match(r"# (examples/[\w.-]+)", lines[0]) if lines else None
        if named:
            example = ROOT / named.group(1)
            assert "\n".join(lines) + "\n" == example.read_text(encoding="utf-8"), example
            shown += 1
    assert shown == (3 if path == "docs/operations.md" else 0)


def test_the_csv_example_holds_the_same_bugs_as_the_json_example() -> None:
    as_json = load_bugs(str(ROOT / "examples" / "bugs.json")).bugs
    as_csv = load_bugs(str(ROOT / "examples" / "bugs.csv")).bugs
    assert as_csv == as_json
    assert analyse(as_csv) == analyse(as_json)
