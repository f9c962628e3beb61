"""The deployed e2e suite's view of the event bus: the harness queue.

A stack deployed with ``E2EHarness=true`` has a second rule on its task bus, with the same
pattern as the notification service's rule, delivering every task event (the full EventBridge
envelope) to an SQS queue whose URL is the ``E2EEventQueueUrl`` output. ``BusHarness`` waits
for the events of given tasks on that queue.

Several test processes may read the queue at once (pytest-xdist), and old runs may have left
messages behind. So a reader keeps and deletes only the events of the tasks it waits for and
makes every other message visible again at once, for whoever waits for it. Delivery is at least
once, so events are de-duplicated on ``event_id``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

QUEUE_URL_VARIABLE = "TASKAPI_E2E_QUEUE_URL"

# Long polling: each receive waits server-side for messages instead of the client sleeping.
RECEIVE_WAIT_SECONDS = 5
MAX_MESSAGES = 10


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One task event as the bus delivered it."""

    source: str
    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    @property
    def task_id(self) -> str:
        return str(self.detail["task"]["task_id"])

    @classmethod
    def from_envelope(cls, envelope: dict[str, Any]) -> BusEvent:
        return cls(
            source=envelope["source"],
            detail_type=envelope["detail-type"],
            detail=envelope["detail"],
        )


class BusHarness:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._seen: dict[str, BusEvent] = {}  # by event_id

    def events_for(
        self, task_ids: Collection[str], count: int, deadline_seconds: float = 90.0
    ) -> list[BusEvent]:
        """The events of ``task_ids`` once at least ``count`` distinct ones have arrived,
        oldest first by ``occurred_at``. Fails (AssertionError) at the deadline with what did
        arrive."""
        wanted = set(task_ids)
        deadline = time.monotonic() + deadline_seconds
        while True:
            found = [event for event in self._seen.values() if event.task_id in wanted]
            if len(found) >= count:
                return sorted(found, key=lambda event: str(event.detail["occurred_at"]))
            assert time.monotonic() < deadline, (
                f"only {len(found)} of {count} events of {sorted(wanted)} reached the bus: "
                f"{[(e.detail_type, e.task_id) for e in found]}"
            )
            self._receive(wanted)

    def _receive(self, wanted: set[str]) -> None:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        )
        mine: list[str] = []
        others: list[str] = []
        for message in response.get("Messages", []):
            event = BusEvent.from_envelope(json.loads(message["Body"]))
            if event.task_id in wanted:
                self._seen.setdefault(event.event_id, event)
                mine.append(message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
        if mine:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(mine)],
            )
        if others:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for n, h in enumerate(others)
                ],
            )
