"""A write whose first attempt committed, but whose reply was lost, is not reported as failed.

botocore retries the call by itself with the same ``ClientRequestToken``. DynamoDB answers the
retry of a committed transaction with success; moto ignores the token and runs it again, so its
conditions fail on our own write. Either way the service must report the write as done, once,
and never a version conflict on a create (docs/aws.md#writes).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taskapi.adapters.aws.clients import AwsClients
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.domain.errors import TaskNotFound, VersionConflict
from taskapi.domain.model import Status
from taskapi.service.commands import CreateTask, UpdateTask
from tests.integration.dynamodb_store import WorkspaceTasks, service, store
from tests.integration.reply_dropper import ReplyDropper, reply_dropper
from tests.moto_server import AwsTarget, real_aws

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        real_aws(), reason="the proxy speaks plain HTTP; AWS endpoints are HTTPS only"
    ),
]


@pytest.fixture
def proxy(aws_target: AwsTarget) -> Iterator[ReplyDropper]:
    assert aws_target.endpoint_url is not None
    with reply_dropper(aws_target.endpoint_url) as dropper:
        yield dropper


@pytest.fixture
def lossy(
    aws_target: AwsTarget, proxy: ReplyDropper, tasks_table: str
) -> DynamoDbUnitOfWorkFactory:
    settings = aws_target.client_settings()
    clients = AwsClients(
        type(settings)(region=settings.region, endpoint_url=proxy.url, max_attempts=3),
        session=aws_target.session(),
    )
    return store(clients.dynamodb, tasks_table)


def outbox_types(factory: DynamoDbUnitOfWorkFactory) -> list[str]:
    return [record.event.event_type for record in factory.outbox_reader().pending(100)]


def test_a_create_whose_reply_was_lost_is_created_once(
    lossy: DynamoDbUnitOfWorkFactory, proxy: ReplyDropper
) -> None:
    tasks: WorkspaceTasks = service(lossy)
    proxy.drop("TransactWriteItems")

    task = tasks.create(CreateTask(title="written once"))

    assert proxy.dropped == ["DynamoDB_20120810.TransactWriteItems"]
    assert tasks.get(task.task_id) == task
    assert outbox_types(lossy) == ["TaskCreated"]


def test_an_update_whose_reply_was_lost_is_applied_once(
    lossy: DynamoDbUnitOfWorkFactory, proxy: ReplyDropper
) -> None:
    tasks = service(lossy)
    task = tasks.create(CreateTask(title="to start"))
    proxy.drop("TransactWriteItems")

    updated = tasks.update(task.task_id, UpdateTask(status=Status.IN_PROGRESS), task.version)

    assert proxy.dropped
    assert updated.version == 2
    assert tasks.get(task.task_id) == updated
    assert outbox_types(lossy) == ["TaskCreated", "TaskUpdated"]


def test_a_delete_whose_reply_was_lost_is_done(
    lossy: DynamoDbUnitOfWorkFactory, proxy: ReplyDropper
) -> None:
    tasks = service(lossy)
    task = tasks.create(CreateTask(title="to delete"))
    proxy.drop("TransactWriteItems")

    tasks.delete(task.task_id)

    assert proxy.dropped
    assert outbox_types(lossy) == ["TaskCreated", "TaskDeleted"]
    with pytest.raises(TaskNotFound):
        tasks.get(task.task_id)


def test_a_conflict_is_still_a_conflict_when_no_reply_was_lost(
    lossy: DynamoDbUnitOfWorkFactory,
) -> None:
    # The committed-write check must not turn a real lost race into a success.
    tasks = service(lossy)
    task = tasks.create(CreateTask(title="raced"))
    tasks.update(task.task_id, UpdateTask(title="first writer"), 1)

    with pytest.raises(VersionConflict):
        tasks.update(task.task_id, UpdateTask(title="second writer"), 1)
