"""Event de-duplication and reminder marks on DynamoDB: Powertools' DynamoDBPersistenceLayer on
a table created from ``IDEMPOTENCY_TABLE`` (the definition the SAM template is checked against),
through a real endpoint."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from taskapi.adapters.idempotent_consumer import DEFAULT_RECORD_TTL, IdempotentEventConsumer
from taskapi.adapters.reminder_log import PersistenceLayerReminderLog, PersistenceLayerSentLog
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.domain.notifications import Notification, assignment_notifications
from tests.fakes.builders import WORKSPACE_ID, created_event, make_task, received
from tests.fakes.clock import DEFAULT_NOW
from tests.fakes.notifications import NotifierDown, RecordingNotifier

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration


def layer(table: str, client: DynamoDBClient) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)


class Sender:
    def __init__(self, notifier: RecordingNotifier) -> None:
        self.notifier = notifier

    def __call__(self, event: ReceivedEvent) -> list[Notification]:
        notifications = assignment_notifications(event)
        for notification in notifications:
            self.notifier.send(notification)
        return notifications


def test_a_redelivered_event_sends_nothing_twice(
    idempotency_table: str, dynamodb_client: DynamoDBClient
) -> None:
    notifier = RecordingNotifier()
    consumer = IdempotentEventConsumer(Sender(notifier), layer(idempotency_table, dynamodb_client))
    event = received(created_event(make_task(assignee="ana@example.com")))

    first = consumer(event)
    second = consumer(event)

    assert (first.duplicate, second.duplicate) == (False, True)
    assert len(notifier.sent) == 1
    [item] = dynamodb_client.scan(TableName=idempotency_table)["Items"]
    assert item["id"]["S"].startswith("taskapi.notifications#")
    assert item["status"]["S"] == "COMPLETED"
    expires_in = int(item["expiration"]["N"]) - time.time()
    window = DEFAULT_RECORD_TTL
    assert window - timedelta(days=1) < timedelta(seconds=expires_in) <= window


def test_a_failed_handling_leaves_no_record_so_the_retry_sends(
    idempotency_table: str, dynamodb_client: DynamoDBClient
) -> None:
    down = {"now": True}
    notifier = RecordingNotifier(fails_for=lambda _: down["now"])
    consumer = IdempotentEventConsumer(Sender(notifier), layer(idempotency_table, dynamodb_client))
    event = received(created_event(make_task(assignee="ana@example.com")))

    with pytest.raises(NotifierDown):
        consumer(event)
    assert dynamodb_client.scan(TableName=idempotency_table)["Items"] == []
    down["now"] = False
    retry = consumer(event)

    assert retry.duplicate is False
    assert len(notifier.sent) == 1


def test_a_second_container_sees_the_first_ones_record(
    idempotency_table: str, dynamodb_client: DynamoDBClient
) -> None:
    # Two Lambda containers: separate consumers and layers, one table.
    first_notifier, second_notifier = RecordingNotifier(), RecordingNotifier()
    event = received(created_event(make_task(assignee="ana@example.com")))

    IdempotentEventConsumer(Sender(first_notifier), layer(idempotency_table, dynamodb_client))(
        event
    )
    outcome = IdempotentEventConsumer(
        Sender(second_notifier), layer(idempotency_table, dynamodb_client)
    )(event)

    assert outcome.duplicate is True
    assert (len(first_notifier.sent), len(second_notifier.sent)) == (1, 0)


def test_reminder_marks_are_kept_per_workspace_task_and_due_date(
    idempotency_table: str, dynamodb_client: DynamoDBClient
) -> None:
    reminders = PersistenceLayerReminderLog(
        layer(idempotency_table, dynamodb_client), retention=timedelta(days=2)
    )
    task_id, due = uuid4(), DEFAULT_NOW

    assert not reminders.was_reminded(WORKSPACE_ID, task_id, due)
    reminders.mark_reminded(WORKSPACE_ID, task_id, due)

    assert reminders.was_reminded(WORKSPACE_ID, task_id, due)
    assert not reminders.was_reminded(WORKSPACE_ID, task_id, due + timedelta(minutes=1))
    assert not reminders.was_reminded(uuid4(), task_id, due)
    [item] = dynamodb_client.scan(TableName=idempotency_table)["Items"]
    assert item["id"]["S"].startswith("taskapi.reminders#")


def test_sent_notification_marks_are_kept_per_notification_id(
    idempotency_table: str, dynamodb_client: DynamoDBClient
) -> None:
    sent = PersistenceLayerSentLog(layer(idempotency_table, dynamodb_client), timedelta(days=15))
    first, other = uuid4(), uuid4()

    assert not sent.was_sent(first)
    sent.mark_sent(first)
    sent.mark_sent(first)  # a second mark (a crash after the send, then the retry) is harmless

    assert sent.was_sent(first)
    assert not sent.was_sent(other)
    [item] = dynamodb_client.scan(TableName=idempotency_table)["Items"]
    assert item["id"]["S"].startswith("taskapi.notifications.sent#")
