"""``taskapi events dead-letters`` and ``taskapi events redrive`` on the AWS queues, on a real
endpoint: a delivery really fails (the relay handler over the stream's records, with no bus
to publish to), what Lambda would leave in the relay failure queue is enqueued, and the
command lists, dry-runs and republishes it; a bus event moto itself wrote into the
notification dead-letter queue is redriven to the bus. The command runs in-process
(``taskapi.local.cli.main``), with its clients built from the environment as in a shell.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from taskapi import bootstrap
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.idempotency import InMemoryPersistenceLayer
from taskapi.adapters.idempotent_consumer import IdempotentEventConsumer
from taskapi.config import Settings
from taskapi.domain.event_readers import ReceivedEvent, read_event
from taskapi.domain.events import parse_event
from taskapi.entrypoints import relay
from taskapi.local.cli import main
from taskapi.service.commands import CreateTask
from tests.fakes.builders import created_event, make_task
from tests.fakes.lambda_context import FakeLambdaContext
from tests.integration.dynamodb_store import service, store
from tests.moto_server import (
    FAKE_CREDENTIALS,
    AwsTarget,
    EventBusHarness,
    as_stream_event,
    outbox_events,
    real_aws,
    stream_records,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sqs.client import SQSClient

pytestmark = pytest.mark.integration

GONE_TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/gone"


@pytest.fixture
def cli_environment(aws_target: AwsTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a shell running the command against the endpoint would have."""
    if not real_aws():
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
        monkeypatch.setenv("TASKAPI_AWS_ENDPOINT_URL", str(aws_target.endpoint_url))
    monkeypatch.setenv("TASKAPI_AWS_REGION", aws_target.region)
    monkeypatch.delenv("TASKAPI_EVENT_BUS_NAME", raising=False)


@pytest.fixture
def queue(aws_target: AwsTarget, sqs_client: SQSClient) -> Iterator[str]:
    url = sqs_client.create_queue(QueueName=aws_target.unique_name("dlq"))["QueueUrl"]
    yield url
    sqs_client.delete_queue(QueueUrl=url)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["events", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def visible_messages(sqs: SQSClient, url: str) -> list[Any]:
    """The queue's messages (received and made visible again)."""
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return list(messages)


def invocation_record(
    streams: DynamoDBStreamsClient, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """The record Lambda's event source mapping writes to its on-failure destination for a
    batch it gave up on (docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).
    There is no Lambda service here to write it, so the test writes what it would."""
    stream_arn = records[0]["eventSourceARN"]
    [shard] = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]

    def arrival(record: dict[str, Any]) -> str:
        seconds = record["dynamodb"]["ApproximateCreationDateTime"]
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:relay",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 11,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard["ShardId"],
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def test_a_relay_failure_is_listed_dry_run_and_republished_once_the_bus_exists(
    cli_environment: None,
    aws_target: AwsTarget,
    dynamodb_client: DynamoDBClient,
    streams_client: DynamoDBStreamsClient,
    sqs_client: SQSClient,
    tasks_table: str,
    queue: str,
    event_bus: EventBusHarness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tasks = service(store(dynamodb_client, tasks_table, outbox_mode="stream"))
    tasks.create(CreateTask(title="first"))
    tasks.create(CreateTask(title="second", assignee="ana@example.com"))
    records = stream_records(streams_client, dynamodb_client, tasks_table)
    committed = outbox_events(records)
    assert len(committed) == 2

    # The delivery really fails: the relay publishes to a bus that does not exist.
    missing_bus = aws_target.unique_name("no-bus")
    settings = Settings(
        store="dynamodb",
        table_name=tasks_table,
        event_bus_name=missing_bus,
        aws_region=aws_target.region,
        aws_endpoint_url=aws_target.endpoint_url,
    )
    with bootstrap.override_relay(bootstrap.build_relay(settings)):
        response = relay.lambda_handler(as_stream_event(records), FakeLambdaContext())
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {
        sequence_number for sequence_number, _ in committed
    }
    sqs_client.send_message(
        QueueUrl=queue, MessageBody=json.dumps(invocation_record(streams_client, records))
    )
    [message] = visible_messages(sqs_client, queue)

    status, listed, _ = run(capsys, "dead-letters", "--source", "relay", "--queue-url", queue)
    assert status == 0, listed
    for _, event in committed:
        assert f"event {event.event_id}  {event.event_type}" in listed
    assert "RetryAttemptsExhausted after 11 invocation(s)" in listed
    assert "1 message(s), 2 event(s)" in listed

    status, shown, _ = run(
        capsys, "dead-letters", "--source", "relay", "--queue-url", queue,
        "--show", message["MessageId"],
    )  # fmt: skip
    assert status == 0
    assert [e["event_id"] for e in json.loads(shown)["events"]] == [
        str(event.event_id) for _, event in committed
    ]

    status, dry_run, _ = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all", "--dry-run"
    )
    assert status == 0, dry_run
    assert f"would redrive relay failure {message['MessageId']}" in dry_run
    assert "nothing changed" in dry_run
    assert [m["MessageId"] for m in visible_messages(sqs_client, queue)] == [message["MessageId"]]

    # Not fixed yet: the bus is still missing, so nothing is accepted and the message stays.
    status, refused, _ = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all",
        "--bus-name", missing_bus,
    )  # fmt: skip
    assert status == 1
    assert refused.count("not published: event") == 2
    assert "(ResourceNotFoundException: " in refused  # the bus
    assert "1 message(s) left in the queue" in refused
    assert len(visible_messages(sqs_client, queue)) == 1

    status, redriven, _ = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all",
        "--bus-name", event_bus.bus_name,
    )  # fmt: skip
    assert status == 0, redriven
    assert "redrove 1 message(s): 2 event(s) published" in redriven
    assert "de-duplicate on detail.event_id" in redriven
    envelopes = event_bus.receive(2)
    # What the relay would have sent: the committed event, every field (correlation_id,
    # workspace_id included), under the configured source and the event's type.
    by_id = {parse_event(e["detail"]).event_id: e for e in envelopes}
    for _, event in committed:
        envelope = by_id[event.event_id]
        assert parse_event(envelope["detail"]) == event
        assert envelope["detail-type"] == event.event_type
        assert envelope["source"] == settings.event_source
    assert visible_messages(sqs_client, queue) == []

    status, again, _ = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all",
        "--bus-name", event_bus.bus_name,
    )  # fmt: skip
    assert status == 0
    assert "redrove 0 message(s): 0 event(s) published" in again


def test_an_event_eventbridge_refuses_keeps_its_message_and_the_rest_go_out(
    cli_environment: None,
    dynamodb_client: DynamoDBClient,
    streams_client: DynamoDBStreamsClient,
    sqs_client: SQSClient,
    tasks_table: str,
    queue: str,
    event_bus: EventBusHarness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tasks = service(store(dynamodb_client, tasks_table, outbox_mode="stream"))
    tasks.create(CreateTask(title="fits"))
    # An outbox item another release could have committed: its event is over EventBridge's
    # 256 KB entry limit (the unit of work refuses such an event; put_item does not).
    big = created_event(make_task(title="too big", description="x" * 10)).model_dump(mode="json")
    big["padding"] = "y" * 300_000
    dynamodb_client.put_item(
        TableName=tasks_table,
        Item={
            "PK": {"S": f"OUTBOX#{big['event_id']}"},
            "SK": {"S": "OUTBOX"},
            "event": {"S": json.dumps(big)},
        },
    )
    records = stream_records(streams_client, dynamodb_client, tasks_table)
    sqs_client.send_message(
        QueueUrl=queue, MessageBody=json.dumps(invocation_record(streams_client, records))
    )

    status, out, _ = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all",
        "--bus-name", event_bus.bus_name,
    )  # fmt: skip

    assert status == 1
    assert f"not published: event {big['event_id']}: EventEntryTooLarge" in out
    assert "1 event(s) published; 1 message(s) left in the queue" in out
    [envelope] = event_bus.receive(1)
    assert envelope["detail"]["task"]["title"] == "fits"
    assert len(visible_messages(sqs_client, queue)) == 1


def test_a_relay_failure_whose_records_are_gone_is_reported_and_kept(
    cli_environment: None, sqs_client: SQSClient, queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "requestContext": {
            "requestId": "r",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:relay",
            "condition": "RecordAgeExceeded",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "version": "1.0",
        "timestamp": "2026-01-02T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001700000000000-00000000",
            "startSequenceNumber": "100000000000000000100",
            "endSequenceNumber": "100000000000000000200",
            "approximateArrivalOfFirstRecord": "2026-01-01T09:00:00Z",
            "approximateArrivalOfLastRecord": "2026-01-01T09:05:00Z",
            "batchSize": 2,
            "streamArn": f"{GONE_TABLE_ARN}/stream/2026-01-01T00:00:00.000",
        },
    }
    sqs_client.send_message(QueueUrl=queue, MessageBody=json.dumps(record))

    status, out, err = run(
        capsys, "redrive", "--source", "relay", "--queue-url", queue, "--all", "--dry-run"
    )

    assert status == 1, err
    assert "cannot redrive: the stream or shard is gone" in out
    assert "arrived 2026-01-01 09:00:00 UTC to 2026-01-01 09:05:00 UTC" in out
    assert "readable in the stream until about 2026-01-02 09:00:00 UTC" in out
    assert "the message stays in the queue" in out
    assert len(visible_messages(sqs_client, queue)) == 1


def test_a_notification_dead_letter_goes_back_to_the_bus_and_is_handled_once(
    cli_environment: None,
    aws_target: AwsTarget,
    events_client: EventBridgeClient,
    sqs_client: SQSClient,
    queue: str,
    event_bus: EventBusHarness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A rule whose target is the dead-letter queue itself: EventBridge (moto) writes the
    # envelope there as it writes a dead letter.
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    source_bus = aws_target.unique_name("source-bus")
    events_client.create_event_bus(Name=source_bus)
    events_client.put_rule(
        Name="to-dlq",
        EventBusName=source_bus,
        EventPattern=json.dumps({"source": [event_bus.source]}),
    )
    events_client.put_targets(
        Rule="to-dlq", EventBusName=source_bus, Targets=[{"Id": "dlq", "Arn": queue_arn}]
    )
    event = created_event(make_task(title="ship it", assignee="ana@example.com"))
    entry = EventEntryBuilder(event_bus.source, source_bus).build(event)
    assert events_client.put_events(Entries=[entry])["FailedEntryCount"] == 0
    sqs_client.send_message(QueueUrl=queue, MessageBody="{not an envelope")
    try:
        messages = visible_messages(sqs_client, queue)
        assert len(messages) == 2
        [broken] = [m for m in messages if m["Body"].startswith("{not")]

        status, listed, _ = run(
            capsys, "dead-letters", "--source", "notifications", "--queue-url", queue
        )
        assert status == 1  # the unreadable one cannot be redriven
        assert f"event {event.event_id}  TaskCreated" in listed
        assert f"notification dead letter {broken['MessageId']}" in listed
        assert "cannot redrive: not a task event envelope" in listed

        status, dry_run, _ = run(
            capsys, "redrive", "--source", "notifications", "--queue-url", queue,
            "--event-id", str(event.event_id), "--dry-run",
        )  # fmt: skip
        assert status == 0, dry_run
        assert "would redrive 1 message(s) with 1 event(s)" in dry_run
        assert len(visible_messages(sqs_client, queue)) == 2

        status, redriven, _ = run(
            capsys, "redrive", "--source", "notifications", "--queue-url", queue, "--all",
            "--bus-name", event_bus.bus_name,
        )  # fmt: skip
        assert status == 1  # the unreadable message is left, never deleted
        assert "redrove 1 message(s): 1 event(s) published; 1 message(s) left" in redriven
        [left] = visible_messages(sqs_client, queue)
        assert left["MessageId"] == broken["MessageId"]
    finally:
        events_client.remove_targets(Rule="to-dlq", EventBusName=source_bus, Ids=["dlq"])
        events_client.delete_rule(Name="to-dlq", EventBusName=source_bus)
        events_client.delete_event_bus(Name=source_bus)

    [republished] = event_bus.receive(1)
    assert republished["source"] == event_bus.source
    assert republished["detail-type"] == "TaskCreated"
    assert parse_event(republished["detail"]) == event

    # Handled twice (the original delivery had in fact succeeded, say): one notification.
    handled: list[ReceivedEvent] = []

    def handle(received: ReceivedEvent) -> tuple[()]:
        handled.append(received)
        return ()

    consumer = IdempotentEventConsumer(handle, InMemoryPersistenceLayer())
    outcomes = [consumer(read_event(republished["detail"])) for _ in range(2)]
    assert [e.event_id for e in handled] == [event.event_id]
    assert [o.duplicate for o in outcomes] == [False, True]


def test_no_such_stack_or_queue_is_one_line_and_exit_2(
    cli_environment: None, aws_target: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "dead-letters", "--source", "relay", "--stack", "no-such-stack")
    assert status == 2
    region = aws_target.region
    assert err == f"taskapi events dead-letters: no such stack: no-such-stack (region {region})\n"

    url = f"{aws_target.endpoint_url or 'https://sqs.us-east-1.amazonaws.com'}/123456789012/none"
    status, _, err = run(capsys, "dead-letters", "--source", "notifications", "--queue-url", url)
    assert status == 2
    assert err == f"taskapi events dead-letters: no such queue: {url}\n"
