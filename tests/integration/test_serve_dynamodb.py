"""``taskapi serve`` against DynamoDB in polling mode delivers events: what serve builds (the
runtime of these settings and its outbox pump) takes an API write to the notification
service, which sends its email through SES, and leaves neither a pending event nor a dead
letter behind. On moto, or in AWS with TASKAPI_AWS_TESTS=1."""

from __future__ import annotations

import os
import queue
import uuid
from typing import TYPE_CHECKING

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.local.pump import OutboxPump
from taskapi.service.commands import CreateTask
from tests.fakes.service import in_new_workspace
from tests.moto_server import FAKE_CREDENTIALS, AwsTarget, real_aws

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client

pytestmark = pytest.mark.integration

SIMULATOR_SUCCESS = "success@simulator.amazonses.com"
NEVER = 3600.0  # a retry interval the test does not wait for: only the commit wakes the pump
DEADLINE_SECONDS = 30.0


@pytest.fixture
def sender(aws_target: AwsTarget) -> str:
    """A verified sender identity (in AWS: TASKAPI_TEST_SES_SENDER, verified beforehand)."""
    if aws_target.endpoint_url is None:
        return os.environ["TASKAPI_TEST_SES_SENDER"]
    sesv2: SESV2Client = aws_target.session().client(
        "sesv2", endpoint_url=aws_target.endpoint_url, region_name=aws_target.region
    )
    address = f"serve-{uuid.uuid4().hex[:12]}@example.com"
    sesv2.create_email_identity(EmailIdentity=address)
    return address


@pytest.fixture
def settings(
    aws_target: AwsTarget,
    tasks_table: str,
    idempotency_table: str,
    sender: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    if not real_aws():
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    return Settings(
        store="dynamodb",
        outbox_mode="polling",
        table_name=tasks_table,
        idempotency_table_name=idempotency_table,
        sender_email=sender,
        aws_region=aws_target.region,
        aws_endpoint_url=aws_target.endpoint_url,
    )


def test_serve_in_polling_mode_delivers_an_api_write_to_the_notification_service(
    settings: Settings,
) -> None:
    runtime = bootstrap.build_runtime(settings)
    assert runtime.dispatcher is not None
    delivered: queue.Queue[ReceivedEvent] = queue.Queue()
    runtime.dispatcher.subscribe(delivered.put)  # after the notification service
    pump = OutboxPump(runtime.dispatcher, runtime.outbox_signal, retry_seconds=NEVER)

    pump.start()
    try:
        tasks = in_new_workspace(runtime.service, runtime.workspaces)
        task = tasks.create(CreateTask(title="Ship it", assignee=SIMULATOR_SUCCESS))
        event = delivered.get(timeout=DEADLINE_SECONDS)
    finally:
        pump.stop()

    # The second subscriber runs only once the first (the notification service, which sends
    # through SES) has accepted the event; then it is marked sent.
    assert event.task_id == task.task_id
    assert runtime.dispatcher.dead_letters() == []
    assert runtime.dispatcher.dispatch_pending().offered == 0
