"""The SES notifier against an SES endpoint (moto server, or SES with TASKAPI_AWS_TESTS=1).

On moto the test reads back what was sent from the server's model data (``/moto-api/data.json``
lists every sent ``Message`` with its source, destinations, subject and body). In a real
account the recipient is SES's mailbox simulator and a successful send is all we can observe.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from taskapi.adapters.aws.ses import SesNotifier
from taskapi.domain.notifications import Notification, assignment_notifications
from tests.fakes.builders import created_event, make_task, received
from tests.moto_server import AwsTarget

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client

pytestmark = pytest.mark.integration

SIMULATOR_SUCCESS = "success@simulator.amazonses.com"


@pytest.fixture(scope="module")
def sesv2_client(aws_target: AwsTarget) -> SESV2Client:
    return aws_target.session().client(
        "sesv2", endpoint_url=aws_target.endpoint_url, region_name=aws_target.region
    )


@pytest.fixture
def sender(aws_target: AwsTarget, sesv2_client: SESV2Client) -> str:
    """A verified sender identity. In AWS, set TASKAPI_TEST_SES_SENDER to an address of an
    identity verified beforehand (verification needs a mailbox or DNS, not an API call)."""
    if aws_target.endpoint_url is None:
        return os.environ["TASKAPI_TEST_SES_SENDER"]
    address = f"notify-{uuid.uuid4().hex[:12]}@example.com"
    sesv2_client.create_email_identity(EmailIdentity=address)
    return address


def a_notification(recipient: str) -> Notification:
    task = make_task(title=f"Check the invoices {uuid.uuid4().hex[:6]}", assignee=recipient)
    [notification] = assignment_notifications(received(created_event(task)))
    return notification


def sent_messages(endpoint_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=10) as response:
        data = json.load(response)
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages


def test_the_notification_is_sent_as_a_simple_text_email(
    aws_target: AwsTarget, sesv2_client: SESV2Client, sender: str
) -> None:
    on_moto = aws_target.endpoint_url is not None
    recipient = f"ana-{uuid.uuid4().hex[:8]}@example.com" if on_moto else SIMULATOR_SUCCESS
    notification = a_notification(recipient)

    SesNotifier(lambda: sesv2_client, sender=sender).send(notification)

    if aws_target.endpoint_url is not None:
        [message] = [
            m
            for m in sent_messages(aws_target.endpoint_url)
            if recipient in m["destinations"].get("ToAddresses", [])
        ]
        assert message["source"] == sender
        assert message["subject"] == notification.subject
        assert message["body"] == notification.body


def test_an_unverified_sender_is_refused_and_the_error_reaches_the_caller(
    aws_target: AwsTarget, sesv2_client: SESV2Client
) -> None:
    unverified = f"nobody-{uuid.uuid4().hex[:12]}@unverified-{uuid.uuid4().hex[:6]}.example"
    notifier = SesNotifier(lambda: sesv2_client, sender=unverified)

    with pytest.raises(ClientError) as refused:
        notifier.send(a_notification(SIMULATOR_SUCCESS))

    assert refused.value.response["Error"]["Code"] == "MessageRejected"
