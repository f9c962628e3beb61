"""A ``Notifier`` that emails through Amazon SES (API v2, ``SendEmail`` with simple content).

The client is injected as a provider (bootstrap passes the container's shared, lazily created
client, with the project's timeouts and retries): the API function shares the composition root
but never sends email, so the SES client is created on the first send only. Errors are not
caught here: a failed send must fail the event or reminder that caused it, so the platform
retries it rather than the notification being lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from taskapi.domain.notifications import Notification

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

logger = logging.getLogger(__name__)

_CHARSET = "UTF-8"


class SesNotifier:
    def __init__(self, client: Callable[[], SESV2Client], sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, notification: Notification) -> None:
        response = self._client().send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [notification.recipient]},
            Content={
                "Simple": {
                    "Subject": {"Data": notification.subject, "Charset": _CHARSET},
                    "Body": {"Text": {"Data": notification.body, "Charset": _CHARSET}},
                }
            },
            # Tags reach SES event destinations (bounces, deliveries) for correlation.
            EmailTags=[
                {"Name": "kind", "Value": notification.kind.value},
                {"Name": "notification_id", "Value": str(notification.notification_id)},
                {"Name": "workspace_id", "Value": str(notification.workspace_id)},
            ],
        )
        logger.info(
            "notification emailed",
            extra={
                "notification_id": str(notification.notification_id),
                "kind": notification.kind.value,
                "message_id": response.get("MessageId"),
            },
        )
