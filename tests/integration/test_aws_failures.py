"""Every row of the failure table (``adapters/aws/errors.py``), through the service and through
the HTTP handler: the right port error, the right status, and nothing about AWS in the body.

Failures are injected into real botocore clients, never patched into our code:

* AWS error responses with botocore's ``Stubber`` (the client parses them as it would a real
  response, ``CancellationReasons`` included);
* network failures with a ``before-send`` hook that raises what urllib3 would (the request
  then goes through botocore's retry handling like a real timeout).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from taskapi import bootstrap
from taskapi.adapters.aws.clients import AwsClients, AwsClientSettings
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.items import (
    encode,
    member_key,
    membership_values,
    task_key,
    task_values,
)
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.bootstrap import utc_now
from taskapi.entrypoints import api
from taskapi.local.proxy import HttpReply, HttpRequest, invoke
from taskapi.service.commands import CreateTask
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import StoreFailure, StoreUnavailable
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import OWNER, WORKSPACE_ID, make_membership, make_task, make_workspace
from tests.fakes.service import WorkspaceTasks
from tests.integration.dynamodb_store import InDefaultWorkspace, service, store
from tests.moto_server import AwsTarget
from tests.unit.api_helpers import TASKS, claims_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration

TABLE = "taskapi-prod-TasksTable-1A2B3C4D5E6F"
ACCOUNT_ARN = "arn:aws:iam::123456789012:role/taskapi-prod-ApiFunctionRole"
# What AWS really puts in its messages: ARNs, table names, IAM wording. None may leak.
LEAKY_MESSAGE = (
    f"User: {ACCOUNT_ARN} is not authorized to perform: dynamodb:GetItem on resource: "
    f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE} (AccessDenied: no permission)"
)
FORBIDDEN_IN_BODY = ("arn:", TABLE, "permission", "accessdenied", "authorized", "dynamodb")
SERIALIZER = TypeSerializer()


@dataclass(frozen=True)
class Row:
    """One row of the failure table: an AWS failure and what a client must see."""

    name: str
    error: type[Exception]
    status: int
    retry_after: int | None = None  # the Retry-After header of a 503


def throttled(name: str) -> Row:
    return Row(name, StoreUnavailable, 503, retry_after=2)


def failed(name: str) -> Row:
    return Row(name, StoreFailure, 500)


CLIENT_ERRORS = [
    throttled("ProvisionedThroughputExceededException"),
    throttled("ThrottlingException"),
    throttled("Throttling"),
    throttled("RequestLimitExceeded"),
    failed("AccessDeniedException"),
    failed("UnrecognizedClientException"),
    failed("ResourceNotFoundException"),
    failed("ValidationException"),
    failed("SomeErrorNoTableRowNames"),  # anything unexpected
]
# A cancelled TransactWriteItems: its CancellationReasons codes, and the outcome.
CANCELLATIONS = [
    pytest.param(reasons, row, id=row.name)
    for reasons, row in [
        (("None", "ThrottlingError"), throttled("ThrottlingError")),
        (("ProvisionedThroughputExceeded",), throttled("ProvisionedThroughputExceeded")),
        (("RequestLimitExceeded", "None"), throttled("RequestLimitExceeded")),
        (("TransactionConflict", "ThrottlingError"), throttled("ConflictAndThrottling")),
        (("TransactionConflict", "None"), Row("TransactionConflict", StoreUnavailable, 503, 1)),
        (("ValidationError", "None"), failed("ValidationError")),
        (("ThrottlingError", "ValidationError"), failed("ThrottlingAndValidationError")),
    ]
]
NETWORK_ERRORS = [
    pytest.param(error, failed(error.__name__), id=error.__name__)
    for error in (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError)
]


@pytest.fixture
def client(aws_target: AwsTarget) -> DynamoDBClient:
    """A client of its own (a Stubber takes a client over), one attempt per call."""
    settings = AwsClientSettings(
        region=aws_target.region, endpoint_url=aws_target.endpoint_url, max_attempts=1
    )
    return AwsClients(settings, session=aws_target.session()).dynamodb


@pytest.fixture
def tasks(client: DynamoDBClient) -> WorkspaceTasks:
    return service(store(client, TABLE, create_workspace=False))


@pytest.fixture
def stubber(client: DynamoDBClient) -> Iterator[Stubber]:
    with Stubber(client) as stubbed:
        yield stubbed


def over_http(tasks: WorkspaceTasks, request: HttpRequest) -> HttpReply:
    """``request`` through the handler, by the workspace's owner, to ``tasks``' service (the
    task routes use no other)."""
    workspaces = WorkspaceService(
        InMemoryUnitOfWorkFactory(), utc_now, uuid4, PageTokenCodec(b"unused")
    )
    with bootstrap.override_services(tasks.service, workspaces):
        return invoke(api.lambda_handler, request, claims=claims_of(OWNER))


def get_over_http(tasks: WorkspaceTasks) -> HttpReply:
    return over_http(tasks, HttpRequest("GET", f"{TASKS}/{uuid4()}"))


def member_found(stubber: Stubber) -> None:
    """The next GetItem finds the caller's membership (every task request reads it first)."""
    membership = make_membership(make_workspace())
    item = {**member_key(WORKSPACE_ID, OWNER), **encode(membership_values(membership))}
    stubber.add_response("get_item", {"Item": item})


def create_over_http(tasks: WorkspaceTasks, dependencies: tuple[UUID, ...] = ()) -> HttpReply:
    fields: dict[str, Any] = {"title": "t"}
    if dependencies:
        fields["dependencies"] = [str(d) for d in dependencies]
    body = json.dumps(fields)
    request = HttpRequest("POST", TASKS, [("Content-Type", "application/json")], body.encode())
    return over_http(tasks, request)


def assert_nothing_leaked(text: str, row: Row) -> None:
    lowered = text.lower()
    assert row.name.lower() not in lowered
    for word in FORBIDDEN_IN_BODY:
        assert word.lower() not in lowered, f"{word!r} leaked into {text!r}"


def assert_retry_after(error: Exception, row: Row) -> None:
    if isinstance(error, StoreUnavailable):
        assert error.retry_after_seconds == row.retry_after


def assert_reply(reply: HttpReply, row: Row) -> None:
    assert reply.status == row.status, reply.body
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error", "message", "details"}
    if row.status == 503:
        assert body["error"] == "service_unavailable"
        assert reply.header("Retry-After") == str(row.retry_after)
    else:
        assert body["error"] == "internal_error"
        assert reply.header("Retry-After") is None
    assert_nothing_leaked(reply.body.decode(), row)


# -- AWS error responses -----------------------------------------------------------------------


@pytest.mark.parametrize("row", CLIENT_ERRORS, ids=lambda row: row.name)
def test_an_aws_error_becomes_its_port_error_with_the_detail_only_in_the_log(
    row: Row, tasks: WorkspaceTasks, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    stubber.add_client_error("get_item", row.name, LEAKY_MESSAGE, http_status_code=400)

    with caplog.at_level(logging.WARNING), pytest.raises(row.error) as raised:
        tasks.get(uuid4())

    assert_nothing_leaked(str(raised.value), row)
    assert_retry_after(raised.value, row)
    # The operator gets the whole story, as structured fields of one log record.
    (logged,) = [r for r in caplog.records if r.name == "taskapi.adapters.aws.errors"]
    assert logged.__dict__["error_code"] == row.name
    assert logged.__dict__["error_message"] == LEAKY_MESSAGE
    assert logged.__dict__["operation"] == "dynamodb.GetItem"


@pytest.mark.parametrize("row", CLIENT_ERRORS, ids=lambda row: row.name)
def test_an_aws_error_reaches_the_client_as_a_generic_reply(
    row: Row, tasks: WorkspaceTasks, stubber: Stubber
) -> None:
    stubber.add_client_error("get_item", row.name, LEAKY_MESSAGE, http_status_code=400)
    assert_reply(get_over_http(tasks), row)


@pytest.mark.parametrize(("reasons", "row"), CANCELLATIONS)
def test_a_transaction_cancelled_for_a_transient_reason_can_be_retried(
    reasons: tuple[str, ...], row: Row, tasks: WorkspaceTasks, stubber: Stubber
) -> None:
    for _ in range(2):  # once for the service, once for the HTTP handler
        member_found(stubber)
        stubber.add_client_error(
            "transact_write_items",
            "TransactionCanceledException",
            f"Transaction cancelled, please refer cancellation reasons [{', '.join(reasons)}]",
            modeled_fields={"CancellationReasons": [{"Code": code} for code in reasons]},
        )

    with pytest.raises(row.error) as raised:
        tasks.create(CreateTask(title="t"))
    assert_retry_after(raised.value, row)
    assert_reply(create_over_http(tasks), row)


# -- network failures -------------------------------------------------------------------------


def raising(error: type[HTTPClientError], calls: list[str]) -> Any:
    def before_send(request: Any, **_: Any) -> None:
        calls.append(request.url)
        raise error(endpoint_url=request.url, error="injected")

    return before_send


@pytest.mark.parametrize(("error", "row"), NETWORK_ERRORS)
def test_a_network_failure_is_a_store_failure(
    error: type[HTTPClientError], row: Row, client: DynamoDBClient, tasks: WorkspaceTasks
) -> None:
    calls: list[str] = []
    client.meta.events.register("before-send.dynamodb.GetItem", raising(error, calls))

    with pytest.raises(StoreFailure) as raised:
        tasks.get(uuid4())
    assert_nothing_leaked(str(raised.value), row)
    assert_reply(get_over_http(tasks), row)
    assert len(calls) == 2  # one attempt each: this client's max_attempts is 1


def test_botocore_retries_a_timeout_before_the_failure_table_sees_it(
    aws_target: AwsTarget,
) -> None:
    settings = AwsClientSettings(
        region=aws_target.region, endpoint_url=aws_target.endpoint_url, max_attempts=2
    )
    client = AwsClients(settings, session=aws_target.session()).dynamodb
    calls: list[str] = []
    client.meta.events.register("before-send.dynamodb.GetItem", raising(ReadTimeoutError, calls))

    with pytest.raises(StoreFailure):
        service(store(client, TABLE, create_workspace=False)).get(uuid4())
    assert len(calls) == 2  # standard retry mode: the first attempt and one retry


# -- batch reads --------------------------------------------------------------------------------


def stored_item(task_id: UUID) -> dict[str, Any]:
    values = task_values(WORKSPACE_ID, make_task(task_id=task_id))
    return {name: SERIALIZER.serialize(v) for name, v in values.items() if v is not None}


def batch_reader(
    client: DynamoDBClient, sleeps: list[float], attempts: int
) -> DynamoDbUnitOfWorkFactory:
    entries = EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi")
    return InDefaultWorkspace(
        client, TABLE, entries, outbox_mode="stream", sleep=sleeps.append, batch_attempts=attempts
    )


def batch_get(keys: list[UUID]) -> dict[str, Any]:
    return {
        "RequestItems": {
            TABLE: {"Keys": [task_key(WORKSPACE_ID, i) for i in keys], "ConsistentRead": True}
        }
    }


def test_unprocessed_keys_are_retried_with_backoff_until_read(client: DynamoDBClient) -> None:
    ids = [uuid4() for _ in range(3)]
    sleeps: list[float] = []
    with Stubber(client) as stubber:
        stubber.add_response(
            "batch_get_item",
            {
                "Responses": {TABLE: [stored_item(ids[0])]},
                "UnprocessedKeys": {TABLE: {"Keys": [task_key(WORKSPACE_ID, i) for i in ids[1:]]}},
            },
            batch_get(ids),
        )
        stubber.add_response(
            "batch_get_item",
            {
                "Responses": {TABLE: [stored_item(ids[1])]},
                "UnprocessedKeys": {TABLE: {"Keys": [task_key(WORKSPACE_ID, ids[2])]}},
            },
            batch_get(ids[1:]),
        )
        stubber.add_response(
            "batch_get_item",
            {"Responses": {TABLE: [stored_item(ids[2])]}, "UnprocessedKeys": {}},
            batch_get(ids[2:]),
        )
        with batch_reader(client, sleeps, attempts=6)() as uow:
            found = uow.tasks.get_many(ids)
        stubber.assert_no_pending_responses()

    assert set(found) == set(ids)
    assert len(sleeps) == 2


def test_keys_still_unprocessed_after_every_attempt_are_a_retryable_failure(
    client: DynamoDBClient,
) -> None:
    task_id = uuid4()
    sleeps: list[float] = []
    with Stubber(client) as stubber:
        for _ in range(3):
            stubber.add_response(
                "batch_get_item",
                {
                    "Responses": {TABLE: []},
                    "UnprocessedKeys": {TABLE: {"Keys": [task_key(WORKSPACE_ID, task_id)]}},
                },
                batch_get([task_id]),
            )
        with batch_reader(client, sleeps, attempts=3)() as uow, pytest.raises(StoreUnavailable):
            uow.tasks.get_many([task_id])
    assert len(sleeps) == 2  # between the three attempts


def test_keys_still_unprocessed_reach_the_client_as_a_retryable_reply(
    client: DynamoDBClient,
) -> None:
    dependency = uuid4()
    sleeps: list[float] = []
    tasks = service(batch_reader(client, sleeps, attempts=2))
    unprocessed = {
        "Responses": {TABLE: []},
        "UnprocessedKeys": {TABLE: {"Keys": [task_key(WORKSPACE_ID, dependency)]}},
    }
    with Stubber(client) as stubber:
        for _ in range(2):  # through the service, then over HTTP: two attempts each
            member_found(stubber)
            for _ in range(2):
                stubber.add_response("batch_get_item", unprocessed, batch_get([dependency]))

        with pytest.raises(StoreUnavailable) as raised:
            tasks.create(CreateTask(title="t", dependencies=[dependency]))
        reply = create_over_http(tasks, (dependency,))
        stubber.assert_no_pending_responses()

    row = throttled("UnprocessedKeys")
    assert_retry_after(raised.value, row)
    assert_reply(reply, row)
    assert len(sleeps) == 2  # one backoff between the two attempts, each time
