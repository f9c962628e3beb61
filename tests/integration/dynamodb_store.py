"""Builders shared by the DynamoDB integration tests: the production adapters on a test table
(units of work in one default workspace unless another is named, and a task service bound to
that workspace and its owner), and a round-trip counter that reads botocore's own events."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.unit_of_work import (
    DynamoDbUnitOfWork,
    DynamoDbUnitOfWorkFactory,
    OutboxMode,
)
from taskapi.domain.model import Task
from taskapi.service.commands import Access, CreateTask, ListDependents, ListTasks, UpdateTask
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import UnitOfWorkFactory
from taskapi.service.tasks import Created, TaskPage, TaskService
from tests.fakes.builders import OWNER, WORKSPACE_ID, make_membership, make_workspace
from tests.moto_server import EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PAGE_TOKEN_SECRET = b"integration-page-token-secret"


class InDefaultWorkspace(DynamoDbUnitOfWorkFactory):
    """The production factory, opening units of work in ``WORKSPACE_ID`` when no workspace
    is named (``None``: none), so a test about tasks need not name it every time."""

    def __call__(self, workspace_id: UUID | None = WORKSPACE_ID) -> DynamoDbUnitOfWork:
        return super().__call__(workspace_id)

    def create_default_workspace(self) -> None:
        workspace = make_workspace()
        with self(None) as uow:
            uow.workspaces.add(workspace, make_membership(workspace))
            uow.commit()


def store(
    client: DynamoDBClient,
    table: str,
    *,
    outbox_mode: OutboxMode = "polling",
    bus: str = "taskapi-test",
    create_workspace: bool = True,
) -> InDefaultWorkspace:
    """The store on ``table``, with the default workspace (owned by ``OWNER``) created
    unless ``create_workspace`` is false (a table another factory already seeded)."""
    factory = InDefaultWorkspace(
        client,
        table,
        EventEntryBuilder(source=EVENT_SOURCE, event_bus_name=bus),
        outbox_mode=outbox_mode,
    )
    if create_workspace:
        factory.create_default_workspace()
    return factory


class WorkspaceTasks:
    """A ``TaskService`` as ``OWNER`` sees it in one workspace: the task use cases without
    the ``Access`` argument, for tests about the store rather than about access."""

    def __init__(self, tasks: TaskService, access: Access) -> None:
        self.service = tasks
        self.access = access

    def get(self, task_id: UUID) -> Task:
        return self.service.get(self.access, task_id)

    def list_tasks(self, query: ListTasks) -> TaskPage:
        return self.service.list_tasks(self.access, query)

    def dependents(self, task_id: UUID, query: ListDependents | None = None) -> TaskPage:
        return self.service.dependents(self.access, task_id, query)

    def create(self, command: CreateTask) -> Task:
        return self.service.create(self.access, command)

    def create_once(self, command: CreateTask, key: str) -> Created:
        return self.service.create_once(self.access, command, key)

    def update(self, task_id: UUID, command: UpdateTask, expected_version: int) -> Task:
        return self.service.update(self.access, task_id, command, expected_version)

    def delete(self, task_id: UUID, expected_version: int | None = None) -> Task:
        return self.service.delete(self.access, task_id, expected_version)


def service(
    uow_factory: UnitOfWorkFactory, workspace_id: UUID = WORKSPACE_ID, caller: str = OWNER
) -> WorkspaceTasks:
    tasks = TaskService(
        uow_factory=uow_factory,
        clock=lambda: datetime.now(UTC),
        new_id=uuid.uuid4,
        page_tokens=PageTokenCodec(PAGE_TOKEN_SECRET),
    )
    return WorkspaceTasks(tasks, Access(workspace_id, caller))


class RoundTrips:
    """Counts the DynamoDB calls a client makes, by operation, from botocore's
    ``before-call`` event (one per API call, however many retries it takes)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def counting(client: DynamoDBClient) -> Iterator[RoundTrips]:
    counter = RoundTrips()
    client.meta.events.register("before-call.dynamodb.*", counter)
    try:
        yield counter
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", counter)
