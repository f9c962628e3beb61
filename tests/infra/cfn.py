"""Reading template.yaml the way CloudFormation will: SAM-transformed, conditions resolved.

The SAM transform runs in the locked IaC tool environment (tools/iac/.venv, which holds
aws-sam-translator and checkov, kept apart from the application lock because checkov pins
old versions of shared libraries). ``make iac-setup`` creates it; the Makefile's ``test``
target does so before pytest runs, so a missing environment is an error here, not a skip.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
IAC_DIR = REPO_ROOT / "tools" / "iac"
IAC_BIN = IAC_DIR / ".venv" / "bin"

Template = dict[str, Any]

# The parameter sets the tests deploy (each is transformed once per test process): the
# defaults, Cognito auth (a given pool, or the stack's own), and every optional feature on.
COGNITO = {
    "AuthMode": "COGNITO",
    "CognitoUserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_example",
}
# Cognito without a pool given: the stack creates its own.
COGNITO_OWN_POOL = {"AuthMode": "COGNITO"}
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"
EVERYTHING_ON = {"E2EHarness": "true", "AlarmTopicArn": ALARM_TOPIC}
VARIANTS = [
    pytest.param({}, id="defaults"),
    pytest.param(COGNITO, id="cognito"),
    pytest.param(COGNITO_OWN_POOL, id="cognito-own-pool"),
    pytest.param(EVERYTHING_ON, id="harness-and-alarm-topic"),
]

# What CloudFormation's pseudo parameters resolve to in the tests (the transform's region).
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "taskapi",
    "AWS::URLSuffix": "amazonaws.com",
}


def iac_tool(name: str) -> Path:
    """A program of the IaC tool environment; fails the test with the fix when it is absent."""
    program = IAC_BIN / name
    if not program.exists():
        pytest.fail(
            f"{program.relative_to(REPO_ROOT)} does not exist: the IaC tool environment is not "
            "set up. Run `make iac-setup` (uv sync --frozen --project tools/iac).",
            pytrace=False,
        )
    return program


def run_iac(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # Fixed programs from the locked tool environment, never a shell.
    return subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@cache
def source_template() -> Template:
    """template.yaml as written (short-form intrinsics expanded to their JSON form)."""
    loaded: Template = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return loaded


def _transformed_json(overrides: tuple[tuple[str, str], ...]) -> str:
    result = run_iac(
        [
            str(iac_tool("python")),
            str(IAC_DIR / "sam_translate.py"),
            str(TEMPLATE),
            *(f"{name}={value}" for name, value in overrides),
        ]
    )
    if result.returncode != 0:
        pytest.fail(f"the SAM transform failed:\n{result.stderr}", pytrace=False)
    return result.stdout


@cache
def _cached_transform(overrides: tuple[tuple[str, str], ...]) -> str:
    return _transformed_json(overrides)


def transformed(**parameters: str) -> Template:
    """The CloudFormation template SAM produces for these parameter values (a fresh copy)."""
    loaded: Template = json.loads(_cached_transform(tuple(sorted(parameters.items()))))
    return loaded


def deployed(**parameters: str) -> Template:
    """What CloudFormation would create for these parameter values: transformed, then every
    condition evaluated, conditional resources and outputs dropped or kept, ``Fn::If`` and
    parameter references resolved and ``AWS::NoValue`` removed."""
    template = transformed(**parameters)
    values = {
        name: str(parameters.get(name, spec.get("Default", "")))
        for name, spec in template.get("Parameters", {}).items()
    }
    conditions: dict[str, bool] = {}
    definitions = template.get("Conditions", {})
    for name in definitions:
        conditions[name] = _condition(definitions[name], values, definitions, conditions)
    resolved: Template = _resolve(template, conditions, {**PSEUDO_PARAMETERS, **values})
    for section in ("Resources", "Outputs"):
        resolved[section] = {
            name: body
            for name, body in resolved.get(section, {}).items()
            if conditions.get(body.get("Condition", ""), True)
        }
    return resolved


def _condition(
    node: Any, values: Mapping[str, str], definitions: Mapping[str, Any], memo: dict[str, bool]
) -> bool:
    # The condition functions this template uses; anything else is a test-helper gap.
    (function, argument), *_ = node.items()
    if function == "Condition":
        if argument not in memo:
            memo[argument] = _condition(definitions[argument], values, definitions, memo)
        return memo[argument]
    if function == "Fn::Not":
        return not _condition(argument[0], values, definitions, memo)
    if function == "Fn::And":
        return all(_condition(a, values, definitions, memo) for a in argument)
    if function == "Fn::Or":
        return any(_condition(a, values, definitions, memo) for a in argument)
    if function == "Fn::Equals":
        left, right = (_value(a, values) for a in argument)
        return left == right
    raise NotImplementedError(f"condition function {function} is not supported by this helper")


def _value(node: Any, values: Mapping[str, str]) -> str:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values[node["Ref"]]
    return str(node)


_NO_VALUE = object()


def _resolve(node: Any, conditions: Mapping[str, bool], parameters: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, if_true, if_false = node["Fn::If"]
            return _resolve(if_true if conditions[name] else if_false, conditions, parameters)
        if set(node) == {"Ref"}:
            if node["Ref"] == "AWS::NoValue":
                return _NO_VALUE
            return parameters.get(node["Ref"], node)
        items = ((key, _resolve(value, conditions, parameters)) for key, value in node.items())
        return {key: value for key, value in items if value is not _NO_VALUE}
    if isinstance(node, list):
        items = (_resolve(value, conditions, parameters) for value in node)
        return [value for value in items if value is not _NO_VALUE]
    return node


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }
