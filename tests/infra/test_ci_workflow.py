"""The GitHub Actions workflow (.github/workflows/ci.yml) runs the project's own make targets,
with the settings those targets and the e2e suite actually read. It cannot run here, so these
tests check it against the Makefile, samconfig.toml, the template and the suites."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.bus_harness import QUEUE_URL_VARIABLE
from tests.e2e.http_client import API_URL_VARIABLE
from tests.infra.cfn import source_template

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# Targets the workflow calls before the Makefile has them (none today). Once a target is in the
# Makefile, test_pending_targets_are_still_pending asks to drop it from here.
PENDING_TARGETS: set[str] = set()


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def jobs() -> dict[str, Any]:
    found: dict[str, Any] = workflow()["jobs"]
    return found


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):", text, flags=re.MULTILINE))


def make_calls(job: dict[str, Any]) -> list[list[str]]:
    """Every ``make ...`` command line of a job's run steps, as words."""
    calls = []
    for step in job["steps"]:
        for line in str(step.get("run", "")).splitlines():
            if line.strip().split(" ", 1)[0] == "make":
                calls.append(shlex.split(line)[1:])
    return calls


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    return step


def test_the_jobs_a_fork_gets() -> None:
    assert set(jobs()) == {"lint", "test", "package-check", "mutation", "e2e-aws"}
    triggers = workflow().get("on", workflow().get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    assert workflow()["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("job_name", sorted(jobs()))
def test_every_make_call_names_a_real_target(job_name: str) -> None:
    targets = {call[0] for call in make_calls(jobs()[job_name]) if call}

    assert targets, f"{job_name} runs no make target"
    assert targets - makefile_targets() - PENDING_TARGETS == set()


def test_pending_targets_are_still_pending() -> None:
    assert PENDING_TARGETS & makefile_targets() == set(), "the target exists now: drop it here"


def test_the_make_variables_the_workflow_sets_are_ones_the_makefile_reads() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = {
        word.split("=", 1)[0]
        for job in jobs().values()
        for call in make_calls(job)
        for word in call
        if "=" in word
    } | {name for job in jobs().values() for name in job.get("env", {}) if name == "IAC_PYTHON"}

    assert variables == {"SAM_ENV", "NO_PROMPTS", "IAC_PYTHON"}
    for variable in variables:
        assert f"$({variable})" in makefile, variable


def test_the_suite_runs_on_the_oldest_supported_python_and_the_lambda_runtime() -> None:
    job = jobs()["test"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = source_template()["Globals"]["Function"]["Runtime"]

    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.13"]
    assert project["requires-python"] == ">=3.11"
    assert runtime == "python3.13"
    assert job["env"]["UV_PYTHON"] == "${{ matrix.python }}"  # uv builds .venv on it
    assert (
        "${{ matrix.python }}" in step_using(job, "actions/setup-python")["with"]["python-version"]
    )
    assert make_calls(job) == [["test"]]


@pytest.mark.parametrize("job_name", ["package-check", "e2e-aws"])
def test_the_jobs_that_build_artifacts_have_the_runtimes_python_and_require_its_bytecode(
    job_name: str,
) -> None:
    """Without a CPython of the runtime's version the builder ships sources with a warning
    (every cold start compiles them); CI makes that an error and installs one."""
    job = jobs()[job_name]
    runtime = source_template()["Globals"]["Function"]["Runtime"].removeprefix("python")
    versions = str(step_using(job, "actions/setup-python")["with"]["python-version"]).split()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")

    assert job["env"]["REQUIRE_BYTECODE"] == "1"
    assert "$(if $(REQUIRE_BYTECODE),--require-bytecode)" in makefile
    assert runtime in versions
    assert versions[-1] == "3.11"  # the default python3 that make uses for .tools stays 3.11


def test_lint_package_check_and_mutation_run_their_targets() -> None:
    assert make_calls(jobs()["lint"]) == [["lint"], ["contract-check"]]
    assert make_calls(jobs()["package-check"]) == [["package-check"], ["bench-check"]]
    assert make_calls(jobs()["mutation"]) == [["mutation"]]


def test_the_aws_job_runs_only_with_a_role_and_never_for_a_pull_request() -> None:
    job = jobs()["e2e-aws"]

    assert job["if"] == "vars.AWS_ROLE_ARN != '' && github.event_name != 'pull_request'"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    credentials = step_using(job, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert set(job["needs"]) == {"lint", "test", "package-check"}


def test_the_aws_job_deploys_tests_and_always_destroys_the_e2e_stack() -> None:
    job = jobs()["e2e-aws"]
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))

    assert make_calls(job) == [
        ["deploy", "SAM_ENV=e2e"],
        ["test-e2e"],
        ["destroy", "SAM_ENV=e2e", "NO_PROMPTS=1"],
    ]
    assert job["env"]["E2E_STACK"] == samconfig["e2e"]["global"]["parameters"]["stack_name"]
    [destroy] = [s for s in job["steps"] if "make destroy" in str(s.get("run", ""))]
    assert destroy["if"].startswith("always()")
    assert "confirm_changeset" in samconfig["e2e"]["deploy"]["parameters"]
    assert samconfig["e2e"]["deploy"]["parameters"]["confirm_changeset"] is False


def test_the_e2e_suite_gets_the_variables_it_reads_from_outputs_the_stack_has() -> None:
    job = jobs()["e2e-aws"]
    script = "\n".join(str(step.get("run", "")) for step in job["steps"])
    exported = dict(re.findall(r'echo "(\w+)=\$\(output (\w+)\)"', script))
    outputs = source_template()["Outputs"]

    assert exported == {API_URL_VARIABLE: "ApiUrl", QUEUE_URL_VARIABLE: "E2EEventQueueUrl"}
    assert set(exported.values()) <= set(outputs)


def test_every_action_is_pinned_to_a_major_version() -> None:
    uses = [str(step["uses"]) for job in jobs().values() for step in job["steps"] if "uses" in step]

    assert uses
    assert [u for u in uses if not re.fullmatch(r"[\w-]+/[\w-]+@v\d+", u)] == []
