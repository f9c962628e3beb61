"""Task events on a real bus: the documented subscriber patterns select exactly the events
they claim to (docs/events.md), and what a rule delivers is an envelope the notification
Lambda accepts.

Events are published with the production publisher (``EventBridgePublisher`` and its entry
builder); each pattern gets a rule forwarding to its own SQS queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from taskapi import bootstrap
from taskapi.adapters.aws.eventbridge import EventBridgePublisher, EventEntryBuilder
from taskapi.domain.events import TaskCreated, TaskDeleted, TaskUpdated, parse_event
from taskapi.domain.model import Status
from taskapi.entrypoints import notifications as notifications_lambda
from tests.contract.event_docs import fixture, marked_blocks
from tests.fakes.builders import next_version, updated_event
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.notifications import RecordingNotifier, notification_runtime
from tests.fakes.service import build_service
from tests.moto_server import EVENT_SOURCE, AwsTarget, EventBusHarness

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sqs.client import SQSClient

pytestmark = pytest.mark.integration

FIXTURE_NAMES = [
    "task_created",
    "task_updated_completed",
    "task_updated_reassigned",
    "task_deleted",
]

# Which of the published events each documented pattern must deliver (by event name below).
EXPECTED = {
    "all-task-events": {*FIXTURE_NAMES, "reopened"},
    "created": {"task_created"},
    "completed": {"task_updated_completed"},
    "reopened": {"reopened"},
    "assigned-to-cat": {"task_updated_reassigned"},
    "high-priority": {"task_created", "task_updated_completed", "reopened"},
    # The deleted task's event is of another workspace than the others.
    "one-workspace": {
        "task_created",
        "task_updated_completed",
        "task_updated_reassigned",
        "reopened",
    },
    "version-2-only": {*FIXTURE_NAMES, "reopened"},
}

Event = TaskCreated | TaskUpdated | TaskDeleted


def published_events() -> dict[str, Event]:
    """The documented example events, plus a reopening of the completed task."""
    events: dict[str, Event] = {
        name: parse_event(fixture(name)["detail"]) for name in FIXTURE_NAMES
    }
    completed = events["task_updated_completed"].task
    events["reopened"] = updated_event(completed, next_version(completed, status=Status.PENDING))
    return events


@dataclass
class Subscription:
    rule: str
    queue_url: str


@pytest.fixture
def subscriptions(
    aws_target: AwsTarget,
    event_bus: EventBusHarness,
    events_client: EventBridgeClient,
    sqs_client: SQSClient,
) -> Iterator[dict[str, Subscription]]:
    """One rule and queue per documented pattern, on the harness's bus."""
    created: dict[str, Subscription] = {}
    try:
        for name, pattern in marked_blocks("pattern").items():
            queue_url = sqs_client.create_queue(QueueName=aws_target.unique_name("pattern"))[
                "QueueUrl"
            ]
            queue_arn = sqs_client.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            rule = aws_target.unique_name("rule")
            events_client.put_rule(
                Name=rule, EventBusName=event_bus.bus_name, EventPattern=json.dumps(pattern)
            )
            events_client.put_targets(
                Rule=rule, EventBusName=event_bus.bus_name, Targets=[{"Id": "q", "Arn": queue_arn}]
            )
            created[name] = Subscription(rule, queue_url)
        yield created
    finally:
        for subscription in created.values():
            events_client.remove_targets(
                Rule=subscription.rule, EventBusName=event_bus.bus_name, Ids=["q"]
            )
            events_client.delete_rule(Name=subscription.rule, EventBusName=event_bus.bus_name)
            sqs_client.delete_queue(QueueUrl=subscription.queue_url)


def drain(
    sqs: SQSClient, queue_url: str, expected: int, timeout_seconds: float = 10.0
) -> list[Any]:
    """Receive until ``expected`` messages arrived (or the deadline), then once more to catch
    any extra one."""
    deadline = time.monotonic() + timeout_seconds
    bodies: list[Any] = []
    while True:
        done = len(bodies) >= expected or time.monotonic() >= deadline
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if done else 1
        )
        messages = response.get("Messages", [])
        bodies += [json.loads(message["Body"]) for message in messages]
        if done and not messages:
            return bodies


def publish(events_client: EventBridgeClient, bus_name: str, events: list[Event]) -> None:
    publisher = EventBridgePublisher(
        events_client, EventEntryBuilder(source=EVENT_SOURCE, event_bus_name=bus_name)
    )
    assert publisher.publish(events) == {}


def test_each_documented_pattern_selects_exactly_its_events(
    event_bus: EventBusHarness,
    events_client: EventBridgeClient,
    sqs_client: SQSClient,
    subscriptions: dict[str, Subscription],
) -> None:
    events = published_events()
    name_of = {str(event.event_id): name for name, event in events.items()}
    assert set(subscriptions) == set(EXPECTED), "a documented pattern has no expectation here"

    publish(events_client, event_bus.bus_name, list(events.values()))

    for pattern, subscription in subscriptions.items():
        delivered = drain(sqs_client, subscription.queue_url, len(EXPECTED[pattern]))
        received = [name_of[envelope["detail"]["event_id"]] for envelope in delivered]
        assert sorted(received) == sorted(EXPECTED[pattern]), pattern


def test_an_envelope_delivered_by_the_bus_is_handled_by_the_notification_lambda(
    aws_target: AwsTarget, event_bus: EventBusHarness, events_client: EventBridgeClient
) -> None:
    event = published_events()["task_created"]
    publish(events_client, event_bus.bus_name, [event])
    [envelope] = event_bus.receive(1)
    if aws_target.endpoint_url is not None:
        # moto's default target input template leaves out "account", which EventBridge always
        # sends (and Powertools' EventBridgeModel requires): put back what AWS would send.
        envelope.setdefault("account", "123456789012")

    notifier = RecordingNotifier()
    runtime = notification_runtime(build_service(), notifier)
    with bootstrap.override_runtime(runtime):
        result = notifications_lambda.lambda_handler(envelope, FakeLambdaContext())  # type: ignore[arg-type]

    assert envelope["detail-type"] == "TaskCreated"
    assert envelope["source"] == EVENT_SOURCE
    assert result["status"] == "handled"
    assert [n.recipient for n in notifier.sent] == ["ana@example.com"]
