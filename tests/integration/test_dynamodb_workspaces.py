"""Workspaces on the DynamoDB store, beyond the workspace contract: the races a store without
locks must decide by conditions (a removal against a concurrent create, member changes), the
per-workspace graph counter (edits in two workspaces never conflict), removals larger than one
transaction, lost replies of workspace writes, and the cost of the reads every request makes.

Races are interleaved by hand, step by step (docs/aws.md#workspaces).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from taskapi.adapters.aws.clients import AwsClients
from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory
from taskapi.domain.errors import WorkspaceNotEmpty, WorkspaceNotFound
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.commands import CreateTask, UpdateTask
from taskapi.service.ports import StoreUnavailable
from tests.fakes.builders import OWNER, make_membership, make_task, make_workspace
from tests.fakes.clock import DEFAULT_NOW
from tests.integration.dynamodb_store import counting, service, store
from tests.integration.reply_dropper import ReplyDropper, reply_dropper
from tests.moto_server import AwsTarget, real_aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

pytestmark = pytest.mark.integration


@pytest.fixture
def factory(dynamodb_client: DynamoDBClient, tasks_table: str) -> DynamoDbUnitOfWorkFactory:
    return store(dynamodb_client, tasks_table, create_workspace=False)


def new_workspace(factory: DynamoDbUnitOfWorkFactory) -> Workspace:
    workspace = make_workspace(workspace_id=uuid4())
    with factory(None) as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()
    return workspace


def member(workspace: Workspace, number: int) -> Membership:
    return Membership(
        workspace_id=workspace.workspace_id,
        member=f"cognito:member-{number:04d}",
        role=Role.MEMBER,
        added_at=DEFAULT_NOW + timedelta(seconds=number),
    )


# -- removal against a concurrent create ------------------------------------------------


def test_a_create_that_commits_before_a_removal_keeps_the_workspace(
    factory: DynamoDbUnitOfWorkFactory,
) -> None:
    workspace = new_workspace(factory)
    with factory(None) as remover:
        current = remover.workspaces.get(workspace.workspace_id)
        assert current is not None  # read: version 1, no tasks...
        task = make_task(workspace_id=workspace.workspace_id)
        with factory(workspace.workspace_id) as creator:  # ...then a create commits
            creator.tasks.add(task)
            creator.commit()
        remover.workspaces.remove(current)
        with pytest.raises(WorkspaceNotEmpty):
            remover.commit()
    with factory(workspace.workspace_id) as uow:
        assert uow.workspaces.get(workspace.workspace_id) == workspace
        assert uow.tasks.get(task.task_id) == task


def test_a_create_that_commits_after_a_removal_is_refused(
    factory: DynamoDbUnitOfWorkFactory,
) -> None:
    workspace = new_workspace(factory)
    task = make_task(workspace_id=workspace.workspace_id)
    with factory(workspace.workspace_id) as creator:
        creator.tasks.add(task)  # staged while the workspace exists...
        with factory(None) as remover:  # ...removed before the create commits
            remover.workspaces.remove(workspace)
            remover.commit()
        with pytest.raises(WorkspaceNotFound):
            creator.commit()
    with factory(workspace.workspace_id) as uow:
        assert uow.tasks.get(task.task_id) is None


def test_the_task_count_follows_creates_and_deletes(factory: DynamoDbUnitOfWorkFactory) -> None:
    workspace = new_workspace(factory)
    tasks = service(factory, workspace.workspace_id)
    created = [tasks.create(CreateTask(title=f"t{i}")) for i in range(3)]
    for task in created:
        tasks.delete(task.task_id)
    with factory(None) as uow:
        uow.workspaces.remove(workspace)  # empty again: the count is back to 0
        uow.commit()
    with factory(None) as uow:
        assert uow.workspaces.get(workspace.workspace_id) is None


# -- the graph counter is per workspace ---------------------------------------------------


def interleaved_dependency_edits(
    factory: DynamoDbUnitOfWorkFactory, first: Workspace, second: Workspace
) -> None:
    """In ``first``: read the graph, then let ``second`` commit an edge-adding update, then
    commit an edge-adding update of our own."""
    one, other = service(factory, first.workspace_id), service(factory, second.workspace_id)
    a, b = one.create(CreateTask(title="a")), one.create(CreateTask(title="b"))
    c, d = other.create(CreateTask(title="c")), other.create(CreateTask(title="d"))
    with factory(first.workspace_id) as uow:
        current = uow.tasks.get(a.task_id)
        assert current is not None
        assert uow.tasks.get_many([b.task_id], graph_walk=True)  # the walk starts
        assert dict(uow.tasks.dependencies_of([b.task_id])) == {b.task_id: ()}
        other.update(c.task_id, UpdateTask(dependencies=[d.task_id]), 1)  # a concurrent edit
        uow.tasks.update(current.model_copy(update={"dependencies": (b.task_id,), "version": 2}), 1)
        uow.commit()


def test_dependency_edits_in_two_workspaces_never_conflict(
    factory: DynamoDbUnitOfWorkFactory,
) -> None:
    interleaved_dependency_edits(factory, new_workspace(factory), new_workspace(factory))


def test_dependency_edits_in_one_workspace_still_conflict(
    factory: DynamoDbUnitOfWorkFactory,
) -> None:
    workspace = new_workspace(factory)
    with pytest.raises(StoreUnavailable):
        interleaved_dependency_edits(factory, workspace, workspace)


# -- members -------------------------------------------------------------------------------


def test_a_workspace_with_more_members_than_one_transaction_holds_is_removed_whole(
    factory: DynamoDbUnitOfWorkFactory,
) -> None:
    workspace = new_workspace(factory)
    current = workspace
    for number in range(60):  # 61 members: 122 member items, past one transaction
        following = current.next_version(current.updated_at + timedelta(seconds=1))
        with factory(None) as uow:
            uow.workspaces.put_member(following, current.version, member(workspace, number))
            uow.commit()
        current = following
    with factory(None) as uow:
        uow.workspaces.remove(current)
        uow.commit()
    with factory(None) as uow:
        assert uow.workspaces.get(workspace.workspace_id) is None
        assert uow.workspaces.members(workspace.workspace_id, 100, None).members == []
        assert uow.workspaces.of_member("cognito:member-0059", 10, None).workspaces == []
        assert uow.workspaces.of_member(OWNER, 10, None).workspaces == []


def test_a_membership_read_is_one_get_item(
    factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    workspace = new_workspace(factory)
    with factory(None) as uow, counting(dynamodb_client) as round_trips:
        assert uow.workspaces.membership(workspace.workspace_id, OWNER) is not None
    assert round_trips.calls == {"GetItem": 1}


def test_a_members_workspaces_are_one_query_and_one_batch_get(
    factory: DynamoDbUnitOfWorkFactory, dynamodb_client: DynamoDBClient
) -> None:
    for _ in range(3):
        new_workspace(factory)
    with factory(None) as uow, counting(dynamodb_client) as round_trips:
        page = uow.workspaces.of_member(OWNER, 2, None)
    assert len(page.workspaces) == 2
    assert page.next_position is not None
    assert round_trips.calls == {"Query": 1, "BatchGetItem": 1}


# -- lost replies of workspace writes --------------------------------------------------------


@pytest.fixture
def lossy(
    aws_target: AwsTarget, tasks_table: str, factory: DynamoDbUnitOfWorkFactory
) -> Iterator[tuple[DynamoDbUnitOfWorkFactory, ReplyDropper]]:
    if real_aws():
        pytest.skip("the proxy speaks plain HTTP; AWS endpoints are HTTPS only")
    assert aws_target.endpoint_url is not None
    with reply_dropper(aws_target.endpoint_url) as proxy:
        settings = aws_target.client_settings()
        clients = AwsClients(
            type(settings)(region=settings.region, endpoint_url=proxy.url, max_attempts=3),
            session=aws_target.session(),
        )
        yield store(clients.dynamodb, tasks_table, create_workspace=False), proxy


def test_workspace_writes_whose_reply_was_lost_are_done_once(
    lossy: tuple[DynamoDbUnitOfWorkFactory, ReplyDropper],
) -> None:
    factory, proxy = lossy
    workspace = make_workspace(workspace_id=uuid4())
    proxy.drop("TransactWriteItems")
    with factory(None) as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()
    assert proxy.dropped
    v2 = workspace.next_version(workspace.updated_at + timedelta(seconds=1))
    proxy.drop("TransactWriteItems")
    with factory(None) as uow:
        uow.workspaces.put_member(v2, 1, member(workspace, 1))
        uow.commit()
    proxy.drop("TransactWriteItems")
    with factory(None) as uow:
        uow.workspaces.remove(v2)
        uow.commit()
    assert len(proxy.dropped) == 3
    with factory(None) as uow:
        assert uow.workspaces.get(workspace.workspace_id) is None
