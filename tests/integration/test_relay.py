"""The stream relay (``entrypoints/relay.py``) end to end on a real endpoint, and its failure
modes: per-record failure reporting, redelivery after a crash, consumers that de-duplicate.

Stream records are read from the moto endpoint's DynamoDB stream and shaped exactly as Lambda
delivers them; the relay runs with the production adapters, installed through
``bootstrap.override_relay``. Failing publishers are injected, never patched in: a botocore
``Stubber`` on a real EventBridge client, or a wrapper around the real publisher.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import ANY, Stubber

from taskapi import bootstrap
from taskapi.adapters.aws.eventbridge import EventBridgePublisher, EventEntryBuilder
from taskapi.adapters.dynamodb.items import outbox_event_from_image
from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.idempotent_consumer import IdempotentEventConsumer
from taskapi.domain.event_readers import ReceivedEvent, read_event
from taskapi.domain.events import parse_event
from taskapi.domain.model import Status
from taskapi.entrypoints import relay as relay_lambda
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.ports import EventPublisher, PublishableEvent
from tests.fakes.lambda_context import FakeLambdaContext
from tests.integration.dynamodb_store import service, store
from tests.moto_server import (
    EVENT_SOURCE,
    EventBusHarness,
    as_stream_event,
    outbox_events,
    stream_records,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient
    from mypy_boto3_events.client import EventBridgeClient

pytestmark = pytest.mark.integration


@pytest.fixture
def records(
    dynamodb_client: DynamoDBClient, streams_client: DynamoDBStreamsClient, tasks_table: str
) -> list[dict[str, Any]]:
    """The stream of a table after three commits: a create with a dependency, an update and
    another create. Besides the three outbox inserts it holds task items, a reverse edge and
    a modified task item, which the relay must skip."""
    tasks = service(store(dynamodb_client, tasks_table, outbox_mode="stream"))
    first = tasks.create(CreateTask(title="first"))
    tasks.update(first.task_id, UpdateTask(status=Status.IN_PROGRESS), 1)
    tasks.create(CreateTask(title="second", dependencies=[first.task_id]))
    return stream_records(streams_client, dynamodb_client, tasks_table)


def relay_on(publisher: EventPublisher) -> bootstrap.Relay:
    return bootstrap.Relay(read_outbox_image=outbox_event_from_image, publisher=publisher)


def invoke(relay: bootstrap.Relay, records: Sequence[dict[str, Any]]) -> Any:
    with bootstrap.override_relay(relay):
        return relay_lambda.lambda_handler(as_stream_event(records), FakeLambdaContext())


@contextmanager
def stubbed_events() -> Iterator[tuple[EventBridgePublisher, Stubber]]:
    client = boto3.client(
        "events",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    publisher = EventBridgePublisher(client, EventEntryBuilder(EVENT_SOURCE, "taskapi-test"))
    with Stubber(client) as stubber:
        yield publisher, stubber
        stubber.assert_no_pending_responses()


def test_the_batch_goes_out_in_one_call_and_every_record_is_acknowledged(
    records: list[dict[str, Any]],
) -> None:
    events = outbox_events(records)
    assert len(events) == 3
    assert len(records) > len(events)  # task items, an edge, a modified task: skipped
    with stubbed_events() as (publisher, stubber):
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{i}"} for i in range(3)]},
            {"Entries": ANY},
        )
        response = invoke(relay_on(publisher), records)
    assert response == {"batchItemFailures": []}


def test_an_entry_eventbridge_rejects_fails_exactly_its_record(
    records: list[dict[str, Any]],
) -> None:
    events = outbox_events(records)
    rejected_sequence_number = events[1][0]
    with stubbed_events() as (publisher, stubber):
        stubber.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "e0"},
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                    {"EventId": "e2"},
                ],
            },
            {"Entries": ANY},
        )
        response = invoke(relay_on(publisher), records)
    assert response == {"batchItemFailures": [{"itemIdentifier": rejected_sequence_number}]}


def test_when_every_record_fails_the_whole_batch_is_retried(
    records: list[dict[str, Any]],
) -> None:
    outbox = {sequence_number for sequence_number, _ in outbox_events(records)}
    outbox_only = [r for r in records if r["dynamodb"]["SequenceNumber"] in outbox]
    with stubbed_events() as (publisher, stubber):
        stubber.add_client_error("put_events", "ThrottlingException", http_status_code=400)
        with pytest.raises(BatchProcessingError):
            invoke(relay_on(publisher), outbox_only)


def test_an_unreadable_outbox_item_fails_its_record_and_the_rest_go_out(
    records: list[dict[str, Any]],
) -> None:
    events = outbox_events(records)
    broken_sequence_number = events[0][0]
    broken = [
        {**r, "dynamodb": {**r["dynamodb"], "NewImage": {**r["dynamodb"]["NewImage"]}}}
        for r in records
    ]
    for record in broken:
        if record["dynamodb"]["SequenceNumber"] == broken_sequence_number:
            record["dynamodb"]["NewImage"]["event"] = {"S": '{"not": "an event"}'}
    with stubbed_events() as (publisher, stubber):
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}, {"EventId": "e2"}]},
            {"Entries": ANY},
        )
        response = invoke(relay_on(publisher), broken)
    assert response == {"batchItemFailures": [{"itemIdentifier": broken_sequence_number}]}


def test_an_outbox_insert_without_its_new_image_fails_its_record_not_dropped(
    records: list[dict[str, Any]],
) -> None:
    # A stream not set to NEW_IMAGE (the template sets it; a hand-made stream might not):
    # the record is an outbox item by its keys, and acknowledging it would lose its event.
    events = outbox_events(records)
    imageless_sequence_number = events[0][0]
    imageless = [
        {**r, "dynamodb": {k: v for k, v in r["dynamodb"].items() if k != "NewImage"}}
        if r["dynamodb"]["SequenceNumber"] == imageless_sequence_number
        else r
        for r in records
    ]
    with stubbed_events() as (publisher, stubber):
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}, {"EventId": "e2"}]},
            {"Entries": ANY},
        )
        response = invoke(relay_on(publisher), imageless)
    assert response == {"batchItemFailures": [{"itemIdentifier": imageless_sequence_number}]}


class CrashAfterPublishing:
    """A publisher that publishes for real, then dies before the relay can acknowledge the
    records: the Lambda invocation fails and the same batch is delivered again."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    def publish(self, events: Sequence[PublishableEvent]) -> Mapping[UUID, str]:
        self._publisher.publish(events)
        raise RuntimeError("the relay died before acknowledging its batch")


def test_a_relay_crash_after_publishing_redelivers_and_the_consumer_drops_duplicates(
    records: list[dict[str, Any]], events_client: EventBridgeClient, event_bus: EventBusHarness
) -> None:
    publisher = EventBridgePublisher(
        events_client, EventEntryBuilder(EVENT_SOURCE, event_bus.bus_name)
    )
    with pytest.raises(RuntimeError):
        invoke(relay_on(CrashAfterPublishing(publisher)), records)
    assert invoke(relay_on(publisher), records) == {"batchItemFailures": []}  # the retry

    envelopes = event_bus.receive(6)
    delivered = [parse_event(envelope["detail"]) for envelope in envelopes]
    expected = [event for _, event in outbox_events(records)]
    assert sorted(e.event_id.int for e in delivered) == sorted(
        e.event_id.int for e in expected * 2
    )  # at least once: every event twice

    handled: list[ReceivedEvent] = []

    def handle(event: ReceivedEvent) -> tuple[()]:
        handled.append(event)
        return ()

    consumer = IdempotentEventConsumer(handle, InMemoryPersistenceLayer())
    outcomes = [consumer(read_event(envelope["detail"])) for envelope in envelopes]

    assert sorted(e.event_id.int for e in handled) == sorted(e.event_id.int for e in expected)
    assert sum(outcome.duplicate for outcome in outcomes) == len(expected)
