"""A ``TaskService`` wired to the in-memory store with deterministic time and ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from taskapi.adapters.memory import InMemoryStore, InMemoryUnitOfWorkFactory
from taskapi.domain.events import parse_event
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import Event, UnitOfWorkFactory
from taskapi.service.tasks import TaskService
from tests.fakes.clock import FixedClock, SequentialIds

PAGE_TOKEN_SECRET = b"test-page-token-secret"


class CallCounter:
    """A no-argument callback (e.g. ``TaskService(on_commit=...)``) that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@dataclass(frozen=True)
class ServiceHarness:
    """The service under test plus handles on everything behind it.

    ``store`` is the committed state; ``on_commit.calls`` counts committed writes;
    ``events()`` lists the outbox, oldest first.
    """

    service: TaskService
    store: InMemoryStore
    uow_factory: UnitOfWorkFactory
    clock: FixedClock
    ids: SequentialIds
    on_commit: CallCounter

    def events(self) -> list[Event]:
        # What was committed, read with the writer's strict models.
        return [parse_event(row.payload) for row in self.store.outbox.values()]


def build_service(
    *,
    clock: FixedClock | None = None,
    wrap: Callable[[UnitOfWorkFactory], UnitOfWorkFactory] | None = None,
) -> ServiceHarness:
    """Build a harness. ``wrap`` decorates the unit-of-work factory, e.g.
    ``wrap=lambda inner: FailingCommits(inner, StoreUnavailable("throttled"))``."""
    store = InMemoryStore()
    uow_factory: UnitOfWorkFactory = InMemoryUnitOfWorkFactory(store)
    if wrap is not None:
        uow_factory = wrap(uow_factory)
    clock = clock or FixedClock()
    ids = SequentialIds()
    on_commit = CallCounter()
    service = TaskService(
        uow_factory=uow_factory,
        clock=clock,
        new_id=ids,
        page_tokens=PageTokenCodec(PAGE_TOKEN_SECRET),
        on_commit=on_commit,
    )
    return ServiceHarness(service, store, uow_factory, clock, ids, on_commit)
