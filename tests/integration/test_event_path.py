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
from taskapi.adapters.aws.eventbridge import TRACE_HEADER_VARIABLE
from taskapi.config import Settings
from taskapi.domain.event_readers import read_event
from taskapi.domain.events import TaskCreated, TaskUpdated, parse_event
from taskapi.entrypoints import api, relay
from taskapi.entrypoints.http.correlation import CORRELATION_HEADER
from taskapi.local.proxy import HttpRequest, invoke
from tests.fakes.builders import OWNER
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.logs import logged_lines
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
# What Lambda sets in a traced invocation (the X-Ray format: root, parent segment, sampled).
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


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


def test_the_requests_correlation_id_reaches_the_bus_in_the_events_detail(
    settings: Settings,
    event_bus: EventBusHarness,
    streams_client: DynamoDBStreamsClient,
    dynamodb_client: DynamoDBClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    correlation_id = "checkout-7f3a9b21"
    runtime = bootstrap.build_runtime(settings)
    claims = claims_of(OWNER)
    with bootstrap.override_runtime(runtime), logged_lines() as api_lines:
        workspace = invoke(
            api.lambda_handler,
            HttpRequest("POST", "/workspaces", JSON, b'{"name": "w"}'),
            claims=claims,
        )
        assert workspace.status == 201, workspace.body
        tasks = f"/workspaces/{workspace.json()['workspace_id']}/tasks"
        created = invoke(
            api.lambda_handler,
            HttpRequest(
                "POST", tasks, [*JSON, (CORRELATION_HEADER, correlation_id)], b'{"title": "x"}'
            ),
            claims=claims,
        )
    assert created.status == 201, created.body
    assert created.header(CORRELATION_HEADER) == correlation_id
    assert [line["correlation_id"] for line in api_lines if line["message"] == "task created"] == [
        correlation_id
    ]

    # The outbox item, as the stream delivers it, holds the id in the committed event...
    records = stream_records(streams_client, dynamodb_client, settings.table_name)
    [(_, committed)] = outbox_events(records)
    assert committed.correlation_id == correlation_id
    # ...the relay logs it (in a traced invocation, passing the trace header on to the bus)...
    monkeypatch.setenv(TRACE_HEADER_VARIABLE, TRACE_HEADER)
    with bootstrap.override_relay(bootstrap.build_relay(settings)), logged_lines() as relay_lines:
        response = relay.lambda_handler(as_stream_event(records), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    [published] = [line for line in relay_lines if line["message"] == "outbox event published"]
    assert (published["event_id"], published["correlation_id"]) == (
        str(committed.event_id),
        correlation_id,
    )

    # ...and the bus delivers it in the detail, where the notification function reads it.
    [envelope] = event_bus.receive(1)
    assert envelope["detail"]["correlation_id"] == correlation_id
    assert read_event(envelope["detail"]).correlation_id == correlation_id
