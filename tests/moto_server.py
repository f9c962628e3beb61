"""A real HTTP endpoint for the AWS adapters: moto in server mode, as a pytest plugin.

``moto_endpoint`` (session scope, so one per xdist worker) starts moto's WSGI application in a
subprocess on a free port of 127.0.0.1 and yields its URL. The adapters talk to it over HTTP
with real botocore clients: request signing, serialisation, retries and error parsing all run
as they do against AWS. A subprocess keeps moto's global state out of the test process (a
test elsewhere using ``mock_aws`` cannot reset it) and gives the server its own interpreter.

The server handles one request at a time. DynamoDB serialises transactions that touch the
same items; moto's ``TransactWriteItems`` checks its conditions and applies its writes in
steps, and two concurrent transactions interleaved by threads could both pass their checks.
Serialising requests gives the emulator the atomicity the real service has, so concurrency
tests exercise our conditions rather than moto's races.

Resources are created per test with unique names (``tasks_table``, ``event_bus``), so tests
are isolated and order-independent. Credentials are explicit fakes; nothing reads ``~/.aws``.

With ``TASKAPI_AWS_TESTS=1`` the same fixtures run against real AWS instead: no server is
started, clients use the ambient credentials and ``TASKAPI_AWS_REGION``, and every test still
creates (and deletes) its own uniquely named table, bus, rule and queue, prefixed with
``TASKAPI_TEST_RESOURCE_PREFIX`` (default ``taskapi-test``). See docs/aws.md.

Run standalone (``python -m tests.moto_server [port]``) to get the same server for manual use.
"""

from __future__ import annotations

import functools
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from taskapi.adapters.aws.clients import AwsClients, AwsClientSettings
from taskapi.adapters.dynamodb.items import outbox_event_from_image
from taskapi.adapters.dynamodb.table import IDEMPOTENCY_TABLE, TASKS_TABLE, create_table
from taskapi.domain.events import parse_event
from taskapi.service.ports import Event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sqs.client import SQSClient

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_SECONDS = 30
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MOTO_REGION = "us-east-1"
EVENT_SOURCE = "taskapi.tasks"


def real_aws() -> bool:
    return os.environ.get("TASKAPI_AWS_TESTS") == "1"


# -- the server (runs in the subprocess) ------------------------------------------------------


def _snapshot_each_table_once_per_transaction() -> None:
    """Work around a cost of moto 5.2: before a ``TransactWriteItems`` it deep-copies the whole
    table once per *item* of the transaction (all copies identical, kept for rollback), which
    is O(items x table size) and makes a 100-item transaction on a large table take minutes.
    Taking one copy per table and transaction keeps the rollback semantics exactly."""
    # Imported here, in the server process only: moto takes a second to import.
    import copy  # noqa: PLC0415

    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    snapshots: dict[int, Table] = {}

    class CopyEachTableOnce:  # stands in for the ``copy`` module inside moto.dynamodb.models
        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if isinstance(value, Table):
                if id(value) not in snapshots:
                    snapshots[id(value)] = copy.deepcopy(value)
                return snapshots[id(value)]
            return copy.deepcopy(value, memo)

    transact = models.DynamoDBBackend.transact_write_items

    def transact_with_one_snapshot(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots.clear()
        try:
            transact(self, transact_items)
        finally:
            snapshots.clear()

    models.copy = CopyEachTableOnce  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_with_one_snapshot  # type: ignore[method-assign]


def serve(port: int = 0, *, exit_with_stdin: bool = False) -> None:
    """Serve moto on 127.0.0.1:``port`` (0: any free port); print the port, then block.

    With ``exit_with_stdin`` the server stops when its standard input closes: when the test
    process that started it ends, however it ends, no server is left behind."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - server process only
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # one line per request would drown the test output

    _snapshot_each_table_once_per_transaction()
    moto_app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(moto_app(environ, start_response))

    server = make_server(
        "127.0.0.1", port, one_at_a_time, threaded=True, request_handler=QuietHandler
    )
    if exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    print(server.server_port, flush=True)  # the line the parent process waits for
    server.serve_forever()


# -- fixtures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsTarget:
    """Where the integration tests send their requests."""

    endpoint_url: str | None  # None: real AWS
    region: str
    resource_prefix: str

    def session(self) -> boto3.Session:
        """One boto3 session per target and process: a session caches the service models,
        so clients made from it are quick to create."""
        return _session(self.endpoint_url, self.region)

    def client_settings(self) -> AwsClientSettings:
        return AwsClientSettings(region=self.region, endpoint_url=self.endpoint_url)

    def unique_name(self, kind: str) -> str:
        return f"{self.resource_prefix}-{kind}-{uuid.uuid4().hex[:12]}"


@functools.cache
def _session(endpoint_url: str | None, region: str) -> boto3.Session:
    if endpoint_url is None:
        return boto3.Session(region_name=region)  # real AWS: the ambient credentials
    return boto3.Session(region_name=region, **FAKE_CREDENTIALS)


def start_server() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.moto_server", "0", "--exit-with-stdin"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,  # closed when this process ends: the server then stops
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SERVER_START_TIMEOUT_SECONDS)
    line = process.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        process.kill()
        raise RuntimeError(f"moto server did not start within {SERVER_START_TIMEOUT_SECONDS}s")
    return process, int(line)


@pytest.fixture(scope="session")
def aws_target() -> Iterator[AwsTarget]:
    prefix = os.environ.get("TASKAPI_TEST_RESOURCE_PREFIX", "taskapi-test")
    if real_aws():
        yield AwsTarget(None, os.environ.get("TASKAPI_AWS_REGION", "us-east-1"), prefix)
        return
    process, port = start_server()
    try:
        yield AwsTarget(f"http://127.0.0.1:{port}", MOTO_REGION, prefix)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint(aws_target: AwsTarget) -> str | None:
    """The moto server's URL (None when the tests run against real AWS)."""
    return aws_target.endpoint_url


@pytest.fixture(scope="session")
def aws_clients(aws_target: AwsTarget) -> AwsClients:
    """The production client factory, pointed at the test endpoint."""
    return AwsClients(aws_target.client_settings(), session=aws_target.session())


@pytest.fixture(scope="session")
def dynamodb_client(aws_clients: AwsClients) -> DynamoDBClient:
    return aws_clients.dynamodb


@pytest.fixture(scope="session")
def events_client(aws_clients: AwsClients) -> EventBridgeClient:
    return aws_clients.events


@pytest.fixture(scope="session")
def streams_client(aws_target: AwsTarget) -> DynamoDBStreamsClient:
    return aws_target.session().client(
        "dynamodbstreams", endpoint_url=aws_target.endpoint_url, region_name=aws_target.region
    )


@pytest.fixture(scope="session")
def sqs_client(aws_target: AwsTarget) -> SQSClient:
    return aws_target.session().client(
        "sqs", endpoint_url=aws_target.endpoint_url, region_name=aws_target.region
    )


@pytest.fixture
def tasks_table(aws_target: AwsTarget, dynamodb_client: DynamoDBClient) -> Iterator[str]:
    """A fresh, empty task table (``TASKS_TABLE``) for one test; deleted afterwards."""
    name = aws_target.unique_name("tasks")
    create_table(dynamodb_client, TASKS_TABLE, name)
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def idempotency_table(aws_target: AwsTarget, dynamodb_client: DynamoDBClient) -> Iterator[str]:
    name = aws_target.unique_name("idempotency")
    create_table(dynamodb_client, IDEMPOTENCY_TABLE, name)
    yield name
    dynamodb_client.delete_table(TableName=name)


@dataclass(frozen=True)
class EventBusHarness:
    """A bus with one rule that forwards every taskapi event to an SQS queue."""

    bus_name: str
    source: str
    queue_url: str
    sqs: SQSClient

    def receive(self, count: int, timeout_seconds: float = 10.0) -> list[dict[str, Any]]:
        """The EventBridge envelopes of ``count`` messages (deleted from the queue), polling
        with long polls until they arrived or the deadline passed."""
        deadline = time.monotonic() + timeout_seconds
        envelopes: list[dict[str, Any]] = []
        while len(envelopes) < count and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in response.get("Messages", []):
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return envelopes


@pytest.fixture
def event_bus(
    aws_target: AwsTarget, events_client: EventBridgeClient, sqs_client: SQSClient
) -> Iterator[EventBusHarness]:
    bus = aws_target.unique_name("bus")
    rule = aws_target.unique_name("rule")
    events_client.create_event_bus(Name=bus)
    queue_url = sqs_client.create_queue(QueueName=aws_target.unique_name("queue"))["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events_client.put_rule(
        Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
    )
    events_client.put_targets(
        Rule=rule, EventBusName=bus, Targets=[{"Id": "harness", "Arn": queue_arn}]
    )
    if real_aws():
        _allow_bus_to_send(sqs_client, queue_url, queue_arn, rule_arn_prefix=bus)
    yield EventBusHarness(bus, EVENT_SOURCE, queue_url, sqs_client)
    events_client.remove_targets(Rule=rule, EventBusName=bus, Ids=["harness"])
    events_client.delete_rule(Name=rule, EventBusName=bus)
    events_client.delete_event_bus(Name=bus)
    sqs_client.delete_queue(QueueUrl=queue_url)


def _allow_bus_to_send(
    sqs: SQSClient, queue_url: str, queue_arn: str, rule_arn_prefix: str
) -> None:
    """In AWS a rule may deliver to a queue only if the queue's policy allows it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:events:*:*:rule/{rule_arn_prefix}/*"}
                },
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def stream_records(
    streams: DynamoDBStreamsClient, dynamodb: DynamoDBClient, table_name: str
) -> list[dict[str, Any]]:
    """Every record in the table's stream so far, shaped as Lambda delivers them (the
    ``Records`` of a DynamoDB Streams event): images in DynamoDB JSON, numbers as strings,
    ``ApproximateCreationDateTime`` in epoch seconds."""
    stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        empty_pages = 0
        # An open shard answers with an empty page when it has nothing more (moto at once;
        # DynamoDB sometimes before the last records): stop after two in a row.
        while iterator and empty_pages < 2:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [_as_lambda_record(record, stream_arn) for record in page["Records"]]
            empty_pages = 0 if page["Records"] else empty_pages + 1
            iterator = page.get("NextShardIterator")
    return records


def _as_lambda_record(record: Any, stream_arn: str) -> dict[str, Any]:
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", MOTO_REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def as_stream_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def outbox_events(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, Event]]:
    """(sequence number, event) of each outbox insert among stream ``records``, in order: the
    events as committed, read with the writer's strict models."""
    deserializer = TypeDeserializer()
    found = []
    for record in records:
        if record["eventName"] != "INSERT":
            continue
        image = record["dynamodb"].get("NewImage", {})
        decoded = {name: deserializer.deserialize(value) for name, value in image.items()}
        if outbox_event_from_image(decoded) is not None:  # an outbox item
            found.append((record["dynamodb"]["SequenceNumber"], parse_event(decoded["event"])))
    return found


if __name__ == "__main__":
    arguments = sys.argv[1:]
    serve(
        int(arguments[0]) if arguments and arguments[0].isdigit() else 0,
        exit_with_stdin="--exit-with-stdin" in arguments,
    )
