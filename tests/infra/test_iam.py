"""Least privilege, checked on what CloudFormation will create (the SAM-transformed template,
including the roles and inline policies SAM generates for functions and schedules)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.cfn import VARIANTS, Template, deployed, resources_of_type

# The only AWS managed policies a role may carry, both attached by SAM. Logs: the function's
# own log streams (the log groups are created by the stack with a retention). X-Ray:
# PutTraceSegments and PutTelemetryRecords have no resource-level permissions, so "*" is
# what AWS requires there.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}

# Every action each function's role allows, across all its inline statements. Widening a
# function's permissions means changing this table too: a reviewer sees the diff here.
EXPECTED_FUNCTION_ACTIONS: dict[str, set[str]] = {
    "ApiFunction": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "secretsmanager:GetSecretValue",
    },
    "RelayFunction": {
        "events:PutEvents",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
    },
    "NotificationsFunction": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ses:SendEmail",
        "sqs:SendMessage",
    },
    "RemindersFunction": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "ses:SendEmail",
        "sqs:SendMessage",
    },
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for every identity and resource policy in the template."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for policy in (
            properties.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []
        ):
            yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        if resource["Type"] in {
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
            "AWS::Events::EventBusPolicy",
        }:
            yield name, properties["PolicyDocument"]


def _statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, document in _policy_documents(template):
        for statement in _as_list(document["Statement"]):
            yield where, statement


def _role_of(template: Template, function: str) -> dict[str, Any]:
    role_ref = template["Resources"][function]["Properties"]["Role"]
    (role_name, _attribute) = role_ref["Fn::GetAtt"]
    role: dict[str, Any] = template["Resources"][role_name]
    return role


@pytest.mark.parametrize("parameters", VARIANTS)
def test_policies_were_found(parameters: dict[str, str]) -> None:
    # Guards the tests below against passing vacuously on a template they cannot read.
    assert len(list(_statements(deployed(**parameters)))) >= 10


@pytest.mark.parametrize("parameters", VARIANTS)
def test_no_statement_allows_every_action(parameters: dict[str, str]) -> None:
    wildcards = [
        f"{where}: {action}"
        for where, statement in _statements(deployed(**parameters))
        if statement["Effect"] == "Allow"
        for action in _as_list(statement.get("Action", []))
        if action == "*" or action.endswith(":*")
    ]

    assert wildcards == []
    assert all("NotAction" not in s for _, s in _statements(deployed(**parameters)))


@pytest.mark.parametrize("parameters", VARIANTS)
def test_no_statement_allows_every_resource(parameters: dict[str, str]) -> None:
    # Inline statements name their resources; the "*" X-Ray needs comes from the managed
    # policy allowed above.
    wildcards = [
        f"{where}: {statement.get('Action')}"
        for where, statement in _statements(deployed(**parameters))
        if statement["Effect"] == "Allow"
        and ("*" in _as_list(statement.get("Resource", [])) or "NotResource" in statement)
    ]

    assert wildcards == []


@pytest.mark.parametrize("parameters", VARIANTS)
def test_roles_carry_only_the_expected_managed_policies(parameters: dict[str, str]) -> None:
    roles = resources_of_type(deployed(**parameters), "AWS::IAM::Role")
    attached = {
        arn for role in roles.values() for arn in role["Properties"].get("ManagedPolicyArns", [])
    }

    assert roles
    assert attached <= ALLOWED_MANAGED_POLICIES


@pytest.mark.parametrize("function", sorted(EXPECTED_FUNCTION_ACTIONS))
def test_each_function_may_do_exactly_what_its_code_does(function: str) -> None:
    template = deployed()
    role = _role_of(template, function)
    actions = {
        action
        for policy in role["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        for action in _as_list(statement["Action"])
    }

    assert actions == EXPECTED_FUNCTION_ACTIONS[function]


def test_only_the_api_reads_the_page_token_secret_and_only_that_secret() -> None:
    template = deployed()
    readers = {
        function: statement["Resource"]
        for function in EXPECTED_FUNCTION_ACTIONS
        for policy in _role_of(template, function)["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        if "secretsmanager:GetSecretValue" in _as_list(statement["Action"])
    }

    assert readers == {"ApiFunction": {"Ref": "PageTokenSecret"}}


def test_each_function_has_its_own_role() -> None:
    template = deployed()
    roles = [
        _role_of(template, f)["Properties"]["AssumeRolePolicyDocument"]
        for f in EXPECTED_FUNCTION_ACTIONS
    ]
    role_names = {
        template["Resources"][f]["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in EXPECTED_FUNCTION_ACTIONS
    }

    assert len(role_names) == len(EXPECTED_FUNCTION_ACTIONS)
    for trust in roles:
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": ["lambda.amazonaws.com"]}


@pytest.mark.parametrize("parameters", VARIANTS)
def test_service_principals_are_confined_to_this_stacks_resources(
    parameters: dict[str, str],
) -> None:
    template = deployed(**parameters)
    unconfined = [
        where
        for where, statement in _statements(template)
        if "Service" in statement.get("Principal", {})
        and "aws:SourceArn" not in statement.get("Condition", {}).get("ArnEquals", {})
    ]
    permissions = resources_of_type(template, "AWS::Lambda::Permission")

    assert unconfined == []
    assert permissions
    assert all("SourceArn" in p["Properties"] for p in permissions.values())


def test_indexes_are_only_ever_queried() -> None:
    # Writes go to the table (DynamoDB maintains the indexes); only Query reads an index.
    index_actions = {
        action
        for _, statement in _statements(deployed())
        if "/index/" in json.dumps(statement.get("Resource"))
        for action in _as_list(statement["Action"])
    }

    assert index_actions == {"dynamodb:Query"}
