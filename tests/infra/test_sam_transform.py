"""The SAM transform succeeds, and what it produces is the stack we mean to deploy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cfn import (
    ALARM_TOPIC,
    COGNITO,
    COGNITO_OWN_POOL,
    EVERYTHING_ON,
    VARIANTS,
    deployed,
    resources_of_type,
    source_template,
)

FUNCTIONS = ("ApiFunction", "RelayFunction", "NotificationsFunction", "RemindersFunction")


def _api_methods(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    return {
        f"{verb} {path}": operation
        for path, operations in body["paths"].items()
        for verb, operation in operations.items()
        if verb != "parameters"
    }


@pytest.mark.parametrize("parameters", VARIANTS)
def test_the_transform_produces_the_four_functions(parameters: dict[str, str]) -> None:
    template = deployed(**parameters)

    assert set(resources_of_type(template, "AWS::Lambda::Function")) == set(FUNCTIONS)


def test_iam_mode_signs_every_route_with_sigv4() -> None:
    template = deployed()
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]

    assert schemes == {
        "sigv4": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    }
    assert {route: op["security"] for route, op in _api_methods(template).items()} == {
        "x-amazon-apigateway-any-method /": [{"sigv4": []}],
        "x-amazon-apigateway-any-method /{proxy+}": [{"sigv4": []}],
    }


def test_cognito_mode_puts_the_user_pool_authorizer_on_every_route() -> None:
    template = deployed(**COGNITO)
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]

    assert list(schemes) == ["CognitoUserPool"]
    assert schemes["CognitoUserPool"]["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools",
        "providerARNs": [COGNITO["CognitoUserPoolArn"]],
    }
    assert all(
        op["security"] == [{"CognitoUserPool": []}] for op in _api_methods(template).values()
    )


def test_cognito_mode_without_a_pool_creates_one_and_its_authorizer_trusts_only_it() -> None:
    template = deployed(**COGNITO_OWN_POOL)
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]
    pools = resources_of_type(template, "AWS::Cognito::UserPool")
    (client,) = resources_of_type(template, "AWS::Cognito::UserPoolClient").values()

    assert len(pools) == 1
    (pool_name,) = pools
    assert schemes["CognitoUserPool"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [
        {"Fn::GetAtt": [pool_name, "Arn"]}
    ]
    assert all(
        op["security"] == [{"CognitoUserPool": []}] for op in _api_methods(template).values()
    )
    assert client["Properties"]["UserPoolId"] == {"Ref": pool_name}
    assert template["Outputs"]["UserPoolId"]["Value"] == {"Ref": pool_name}
    assert template["Outputs"]["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}


def test_the_stacks_user_pool_signs_in_by_email_with_strong_passwords_and_keeps_its_users() -> None:
    (pool,) = resources_of_type(deployed(**COGNITO_OWN_POOL), "AWS::Cognito::UserPool").values()
    properties = pool["Properties"]
    policy = properties["Policies"]["PasswordPolicy"]

    assert properties["UsernameAttributes"] == ["email"]
    assert properties["UsernameConfiguration"] == {"CaseSensitive": False}
    assert properties["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[f"Require{kind}"] for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols")
    )
    # Its users' subs are the API's member identities: a replacement must not delete them,
    # and deleting it takes what deleting the tasks table takes.
    assert pool["UpdateReplacePolicy"] == "Retain"
    assert properties["DeletionProtection"] == "ACTIVE"
    (throwaway,) = resources_of_type(
        deployed(**COGNITO_OWN_POOL, TableDeletionProtection="false"), "AWS::Cognito::UserPool"
    ).values()
    assert throwaway["Properties"]["DeletionProtection"] == "INACTIVE"


def test_the_app_client_is_public_and_issues_id_tokens_for_an_hour() -> None:
    (client,) = resources_of_type(
        deployed(**COGNITO_OWN_POOL), "AWS::Cognito::UserPoolClient"
    ).values()
    properties = client["Properties"]

    assert properties["GenerateSecret"] is False
    assert "ALLOW_USER_SRP_AUTH" in properties["ExplicitAuthFlows"]
    assert (properties["IdTokenValidity"], properties["TokenValidityUnits"]["IdToken"]) == (
        60,
        "minutes",
    )
    assert properties["PreventUserExistenceErrors"] == "ENABLED"


@pytest.mark.parametrize("parameters", [{}, COGNITO], ids=["iam", "cognito-given-pool"])
def test_with_a_pool_given_or_in_iam_mode_the_stack_creates_no_pool(
    parameters: dict[str, str],
) -> None:
    template = deployed(**parameters)

    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Cognito")]
    assert not {"UserPoolId", "UserPoolClientId"} & set(template["Outputs"])


def test_a_user_pool_is_required_of_nobody_and_given_only_with_cognito_mode() -> None:
    rules = source_template()["Rules"]

    assert "CognitoModeNeedsAUserPool" not in rules
    rule = rules["UserPoolNeedsCognitoMode"]
    assert rule["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CognitoUserPoolArn"}, ""]}]
    }
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "COGNITO"]}


def test_every_route_is_a_lambda_proxy_to_the_api_function() -> None:
    for route, operation in _api_methods(deployed()).items():
        integration = operation["x-amazon-apigateway-integration"]

        assert integration["type"] == "aws_proxy", route
        assert "${ApiFunctionAliaslive}" in integration["uri"]["Fn::Sub"], route


def test_the_stage_is_throttled_traced_and_access_logged() -> None:
    (stage,) = resources_of_type(deployed(), "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    (method_settings,) = properties["MethodSettings"]

    assert properties["TracingEnabled"] is True
    assert properties["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
    }
    assert int(method_settings["ThrottlingRateLimit"]) > 0
    assert int(method_settings["ThrottlingBurstLimit"]) >= int(
        method_settings["ThrottlingRateLimit"]
    )


def test_the_e2e_harness_exists_only_when_asked_for() -> None:
    harness = {"E2EEventQueue", "E2EEventRule", "E2EEventQueuePolicy"}

    assert harness.isdisjoint(deployed()["Resources"])
    assert "E2EEventQueueUrl" not in deployed()["Outputs"]
    assert harness <= set(deployed(**EVERYTHING_ON)["Resources"])
    assert "E2EEventQueueUrl" in deployed(**EVERYTHING_ON)["Outputs"]


def test_alarms_notify_the_topic_only_when_one_is_given() -> None:
    without = resources_of_type(deployed(), "AWS::CloudWatch::Alarm")
    with_topic = resources_of_type(deployed(**EVERYTHING_ON), "AWS::CloudWatch::Alarm")

    assert all("AlarmActions" not in alarm["Properties"] for alarm in without.values())
    assert all(
        alarm["Properties"]["AlarmActions"] == [ALARM_TOPIC] for alarm in with_topic.values()
    )


def test_the_stream_mapping_reports_item_failures_and_keeps_what_it_gives_up_on() -> None:
    (mapping,) = resources_of_type(deployed(), "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]

    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["TasksTable", "StreamArn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] > 0
    assert properties["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["RelayFailureQueue", "Arn"]
    }


def test_asynchronous_consumers_have_retries_and_dead_letter_queues() -> None:
    resources = deployed()["Resources"]
    (rule_target,) = resources["TaskEventsToNotificationsRule"]["Properties"]["Targets"]
    schedule = resources_of_type(deployed(), "AWS::Scheduler::Schedule")
    (schedule_target,) = (s["Properties"]["Target"] for s in schedule.values())

    assert rule_target["Arn"] == {"Ref": "NotificationsFunctionAliaslive"}
    assert rule_target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "Arn" in rule_target["DeadLetterConfig"]
    # The published version's alias (AutoPublishAlias), which SnapStart needs.
    assert schedule_target["Arn"] == {"Ref": "RemindersFunctionAliaslive"}
    assert "Arn" in schedule_target["DeadLetterConfig"]
    for name in ("NotificationsFunction", "RemindersFunction"):
        assert "TargetArn" in resources[name]["Properties"]["DeadLetterConfig"], name


def test_switching_the_auth_mode_deploys_the_api_again() -> None:
    # The stage serves a deployment snapshot; without a new one a changed authorizer would
    # not take effect on an existing stack.
    iam = resources_of_type(deployed(), "AWS::ApiGateway::Deployment")
    cognito = resources_of_type(deployed(**COGNITO), "AWS::ApiGateway::Deployment")

    assert len(iam) == len(cognito) == 1
    assert set(iam) != set(cognito)
