"""Events leave a deployed stack's outbox and reach its bus: the deployed counterpart of the
mailbox checks in test_notifications_e2e.py.

A write commits the task and its outbox item in one DynamoDB transaction; the table's stream
delivers the item to the relay, which puts the event on the bus; the bus routes it to the
notification service and, with ``E2EHarness=true``, to the harness queue read here. Seeing
the events there proves the whole chain up to the notification rule's input.
"""

from __future__ import annotations

import os

import boto3
import pytest
from tests.e2e.bus_harness import QUEUE_URL_VARIABLE, BusHarness
from tests.e2e.http_client import ApiClient, region_of
from tests.e2e.workspaces import Workspace

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def bus(local_data_dir: object, api_url: str) -> BusHarness:
    if local_data_dir is not None:
        pytest.skip(
            "local run: there is no bus; the in-process dispatcher's deliveries are checked "
            "through the mailbox (test_notifications_e2e.py)"
        )
    queue_url = os.environ.get(QUEUE_URL_VARIABLE)
    if not queue_url:
        pytest.fail(
            f"{QUEUE_URL_VARIABLE} is not set: deploy with E2EHarness=true "
            "(make deploy SAM_ENV=e2e) and export the stack's E2EEventQueueUrl output",
            pytrace=False,
        )
    return BusHarness(boto3.client("sqs", region_name=region_of(api_url)), queue_url)


def test_every_change_of_a_task_publishes_its_event(
    api: ApiClient, bus: BusHarness, workspace: Workspace
) -> None:
    created = api.post(workspace.tasks, json_body={"title": "Publish me"})
    assert created.status == 201
    task = created.json()
    path = workspace.task(task["task_id"])
    renamed = api.put(path, json_body={"title": "Published", "version": 1})
    assert renamed.status == 200
    assert api.delete(path, headers={"If-Match": '"2"'}).status == 204

    events = bus.events_for([task["task_id"]], count=3)

    assert [event.detail_type for event in events] == ["TaskCreated", "TaskUpdated", "TaskDeleted"]
    assert len({event.event_id for event in events}) == 3
    assert {event.source for event in events} == {"taskapi.tasks"}
    assert [event.detail["task"]["version"] for event in events] == [1, 2, 2]
    assert events[1].detail["changes"] == {
        "title": {"previous": "Publish me", "current": "Published"}
    }
    assert events[2].detail["task"]["title"] == renamed.json()["title"]
    assert {event.detail["workspace_id"] for event in events} == {workspace.workspace_id}
