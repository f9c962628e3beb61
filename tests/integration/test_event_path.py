"""The AWS event path, end to end on a real endpoint, wired by ``bootstrap`` from settings:

    HTTP request -> API Lambda handler -> DynamoDB (task + outbox item, one transaction)
    -> DynamoDB stream -> relay Lambda handler -> EventBridge bus -> rule -> SQS queue

The stream records are read from the endpoint and shaped as Lambda delivers them; a rule on the
bus forwards taskapi events to a queue the test reads (polling with a deadline, no sleeps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.domain.events import TaskCreated, TaskUpdated, parse_event
from taskapi.entrypoints import api, relay
from taskapi.local.proxy import HttpRequest, invoke
from tests.fakes.builders import OWNER
from tests.fakes.lambda_context import FakeLambdaContext
from tests.moto_server import (
    FAKE_CREDENTIALS,
    AwsTarget,
    EventBusHarness,
    as_stream_event,
    outbox_events,
    real_aws,
    stream_records,
)
from tests.unit.api_helpers import claims_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient

pytestmark = pytest.mark.integration

JSON = [("Content-Type", "application/json")]


@pytest.fixture
def settings(
    aws_target: AwsTarget,
    tasks_table: str,
    idempotency_table: str,
    event_bus: EventBusHarness,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    if not real_aws():
        # bootstrap builds its clients from the environment, as in Lambda: fake ones for moto.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    return Settings(
        store="dynamodb",
        table_name=tasks_table,
        idempotency_table_name=idempotency_table,
        event_bus_name=event_bus.bus_name,
        event_source=event_bus.source,
        aws_region=aws_target.region,
        aws_endpoint_url=aws_target.endpoint_url,
    )


def test_an_api_write_reaches_a_bus_subscriber_through_the_stream_relay(
    settings: Settings,
    event_bus: EventBusHarness,
    streams_client: DynamoDBStreamsClient,
    dynamodb_client: DynamoDBClient,
) -> None:
    runtime = bootstrap.build_runtime(settings)
    claims = claims_of(OWNER)
    with bootstrap.override_runtime(runtime):
        workspace = invoke(
            api.lambda_handler,
            HttpRequest("POST", "/workspaces", JSON, b'{"name": "w"}'),
            claims=claims,
        )
        assert workspace.status == 201, workspace.body
        tasks = f"/workspaces/{workspace.json()['workspace_id']}/tasks"
        created = invoke(
            api.lambda_handler, HttpRequest("POST", tasks, JSON, b'{"title": "x"}'), claims=claims
        )
        assert created.status == 201, created.body
        task_id = created.json()["task_id"]
        completed = invoke(
            api.lambda_handler,
            HttpRequest(
                "PUT", f"{tasks}/{task_id}", JSON, b'{"status": "completed", "version": 1}'
            ),
            claims=claims,
        )
        assert completed.status == 200, completed.body

    records = stream_records(streams_client, dynamodb_client, settings.table_name)
    with bootstrap.override_relay(bootstrap.build_relay(settings)):
        response = relay.lambda_handler(as_stream_event(records), FakeLambdaContext())
    assert response == {"batchItemFailures": []}

    envelopes = event_bus.receive(2)
    assert [e["source"] for e in envelopes] == [settings.event_source] * 2
    received = {parse_event(e["detail"]).event_id: e for e in envelopes}
    committed = [event for _, event in outbox_events(records)]
    assert set(received) == {event.event_id for event in committed}
    for event in committed:
        envelope = received[event.event_id]
        assert envelope["detail-type"] == event.event_type
        assert parse_event(envelope["detail"]) == event
    assert [type(e) for e in committed] == [TaskCreated, TaskUpdated]
    assert str(committed[1].task.task_id) == task_id
