"""The deployed suite's harness reader, checked on a real (moto server) bus and queue: it
must find the events of the tasks it waits for, de-duplicated, and leave everything else for
other readers. Without this test the reader would only ever run against a deployed stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from tests.e2e.bus_harness import BusHarness
from tests.fakes.builders import created_event, deleted_event, make_task
from tests.moto_server import EVENT_SOURCE, EventBusHarness

from taskapi.adapters.aws.eventbridge import EventBridgePublisher, EventEntryBuilder

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sqs.client import SQSClient

pytestmark = pytest.mark.integration


def test_the_harness_collects_its_tasks_events_and_leaves_the_rest(
    event_bus: EventBusHarness, events_client: EventBridgeClient, sqs_client: SQSClient
) -> None:
    publisher = EventBridgePublisher(
        events_client, EventEntryBuilder(source=EVENT_SOURCE, event_bus_name=event_bus.bus_name)
    )
    mine, other = make_task(title="mine"), make_task(title="someone else's")
    created, deleted = created_event(mine), deleted_event(mine)
    # At least once: the relay may publish the same event twice.
    assert publisher.publish([created_event(other), created, created, deleted]) == {}

    harness = BusHarness(sqs_client, event_bus.queue_url)
    events = harness.events_for([str(mine.task_id)], count=2, deadline_seconds=30)

    assert [(e.detail_type, e.event_id) for e in events] == [
        ("TaskCreated", str(created.event_id)),
        ("TaskDeleted", str(deleted.event_id)),
    ]
    assert {e.source for e in events} == {EVENT_SOURCE}
    # The other task's event was handed back to the queue for whoever waits for it.
    [left] = event_bus.receive(count=1)
    assert left["detail"]["task"]["task_id"] == str(other.task_id)
