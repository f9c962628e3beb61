"""What a newcomer expects of the repository keeps being true: the license is the one
pyproject.toml declares, the Python version files agree, the pre-commit hooks run the project's
own tools, and every command says what it does."""

from __future__ import annotations

import argparse
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from taskapi.local.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_license_file_is_the_license_pyproject_declares() -> None:
    assert PYPROJECT["project"]["license"] == {"text": "MIT-0"}
    text = " ".join((REPO / "LICENSE").read_text(encoding="utf-8").split())

    assert text.startswith("MIT No Attribution Copyright ")
    assert "to permit persons to whom the Software is furnished to do so. THE SOFTWARE" in text
    # MIT-0 is MIT without the attribution condition.
    assert "subject to the following conditions" not in text
    assert "above copyright notice and this permission notice shall be included" not in text


def test_python_version_is_the_oldest_python_the_project_supports() -> None:
    pinned = (REPO / ".python-version").read_text(encoding="utf-8").strip()

    assert PYPROJECT["project"]["requires-python"] == f">={pinned}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == pinned
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{pinned.replace('.', '')}"


def hooks() -> list[dict[str, object]]:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    found: list[dict[str, object]] = config["repos"][0]["hooks"]
    return found


def test_pre_commit_runs_the_project_tools_and_fetches_nothing() -> None:
    ids = [hook["id"] for hook in hooks()]

    assert ids == ["ruff", "ruff-format", "mypy", "mypy-build-tools", "event-schemas",
                   "import-linter"]  # fmt: skip
    for hook in hooks():
        assert hook["language"] == "system", hook["id"]
        executable = shlex.split(str(hook["entry"]))[0]
        assert executable.startswith(".venv/bin/"), hook["id"]
        assert (REPO / executable).is_file(), f"{hook['id']}: no {executable}"


def test_the_mypy_hooks_check_what_make_lint_checks() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    build_tools = re.search(r"^BUILD_TOOLS := (.+)$", makefile, re.M)
    entries = {str(hook["id"]): str(hook["entry"]) for hook in hooks()}

    assert build_tools is not None
    assert entries["mypy"] == ".venv/bin/mypy"  # [tool.mypy] packages
    assert entries["mypy-build-tools"] == f".venv/bin/mypy --strict {build_tools[1]}"


def test_pytest_keeps_its_cache_and_git_ignores_it() -> None:
    assert "no:cacheprovider" not in PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"]
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {".pytest_cache/", "/htmlcov/", "/coverage.xml", "/.coverage"} <= set(ignored)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"taskapi {PYPROJECT['project']['version']}"


def subcommands(parser: argparse.ArgumentParser, path: str = "taskapi") -> dict[str, str | None]:
    """Every subcommand, nested ones included, with the help its parent lists for it."""
    found: dict[str, str | None] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                found[f"{path} {name}"] = listed.get(name)
                found |= subcommands(subparser, f"{path} {name}")
    return found


def test_every_subcommand_says_what_it_does() -> None:
    commands = subcommands(build_parser())

    assert {"taskapi serve", "taskapi invoke", "taskapi events export"} <= commands.keys()
    assert {name: text for name, text in commands.items() if not text} == {}
