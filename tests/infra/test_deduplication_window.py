"""The notification consumer remembers an event for longer than any copy of it can wait in a
queue that redrives into the consumer, so a redrive cannot send a notification twice.

Both sides are read, not restated: the queues, their retention and how long an event may age
before it reaches them come from template.yaml; the window is the one bootstrap builds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from tests.infra.cfn import Template, resources_of_type, source_template

NOTIFICATIONS_HANDLER = "taskapi.entrypoints.notifications.lambda_handler"
RELAY_HANDLER = "taskapi.entrypoints.relay.lambda_handler"

# AWS defaults for what the template may leave out (documented by SQS, EventBridge and Lambda).
SQS_DEFAULT_RETENTION_SECONDS = 345_600  # 4 days
EVENTBRIDGE_DEFAULT_EVENT_AGE_SECONDS = 86_400  # a target's retry policy: 24 hours
LAMBDA_ASYNC_DEFAULT_EVENT_AGE_SECONDS = 21_600  # asynchronous invocations: 6 hours
STREAM_RETENTION_SECONDS = 86_400  # a DynamoDB stream keeps a record for 24 hours


def _function(template: Template, handler: str) -> str:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    (name,) = [n for n, f in functions.items() if f["Properties"]["Handler"] == handler]
    return name


def _target(arn: Any) -> str | None:
    """The logical id behind ``!GetAtt X.Arn`` or ``!Ref X`` (a function's published alias,
    ``XAlias<name>`` once SAM transformed ``!Ref X.Alias``, counts as the function)."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        attribute = arn["Fn::GetAtt"]
        return str(attribute[0] if isinstance(attribute, list) else attribute.split(".")[0])
    if isinstance(arn, dict) and "Ref" in arn:
        return re.sub(r"Alias\w+$", "", str(arn["Ref"]).removesuffix(".Alias"))
    return None


def redrive_sources(template: Template) -> dict[str, int]:
    """Each queue from which a copy of an event can be redriven into the consumer, with the
    longest an event may have aged before it got there (seconds)."""
    consumer = _function(template, NOTIFICATIONS_HANDLER)
    relay = _function(template, RELAY_HANDLER)
    sources: dict[str, int] = {}

    def add(queue: str | None, age: int) -> None:
        assert queue is not None, "a dead-letter destination that is not a queue of the stack"
        sources[queue] = max(age, sources.get(queue, 0))

    # Deliveries EventBridge gave up on: the dead-letter queue of each rule targeting it.
    for rule in resources_of_type(template, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            if _target(target["Arn"]) == consumer and "DeadLetterConfig" in target:
                policy = target.get("RetryPolicy", {})
                age = policy.get("MaximumEventAgeInSeconds", EVENTBRIDGE_DEFAULT_EVENT_AGE_SECONDS)
                add(_target(target["DeadLetterConfig"]["Arn"]), int(age))
    # Asynchronous invocations that failed after Lambda's retries.
    properties = source_template()["Resources"][consumer]["Properties"]
    if "DeadLetterQueue" in properties:
        invoke_config = properties.get("EventInvokeConfig", {})
        age = invoke_config.get("MaximumEventAgeInSeconds", LAMBDA_ASYNC_DEFAULT_EVENT_AGE_SECONDS)
        add(_target(properties["DeadLetterQueue"]["TargetArn"]), int(age))
    # Stream batches the relay gave up on: republished, they reach the consumer's rule again.
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        mapping_properties = mapping["Properties"]
        if _target(mapping_properties["FunctionName"]) != relay:
            continue
        on_failure = mapping_properties.get("DestinationConfig", {}).get("OnFailure")
        if on_failure is not None:
            age = int(mapping_properties.get("MaximumRecordAgeInSeconds", -1))
            add(_target(on_failure["Destination"]), age if age > 0 else STREAM_RETENTION_SECONDS)
    return sources


def _retention(template: Template, queue: str) -> int:
    properties = template["Resources"][queue].get("Properties", {})
    return int(properties.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION_SECONDS))


def test_the_queues_that_redrive_into_the_consumer_are_found() -> None:
    # Guards the reading above: if it found nothing, the window test would prove nothing.
    assert set(redrive_sources(source_template())) == {
        "NotificationsDeadLetterQueue",
        "RelayFailureQueue",
    }


@pytest.mark.usefixtures("fake_aws_credentials")
def test_the_deduplication_window_outlasts_every_redrive_source() -> None:
    template = source_template()
    longest = max(
        timedelta(seconds=_retention(template, queue) + age)
        for queue, age in redrive_sources(template).items()
    )

    consumer = bootstrap.build_notification_functions(Settings(store="dynamodb")).consumer

    assert consumer.record_ttl >= longest, (
        f"the consumer forgets an event after {consumer.record_ttl}, but a copy can be "
        f"redriven {longest} after it was first delivered"
    )
