"""The composition root: the one place that picks adapters and builds services.

Entrypoints call ``get_task_service()``; the first call in a Lambda container (or process)
builds the service from configuration and caches it, so later invocations reuse clients and
connections. Tests never patch anything: they install a service built on fakes with
``override_task_service`` and the cache is restored afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.config import Settings, get_settings
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import OutboxReader, UnitOfWorkFactory
from taskapi.service.tasks import TaskService


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything one process needs: the service, and (locally) the outbox dispatcher."""

    service: TaskService
    dispatcher: OutboxDispatcher | None


_lock = threading.Lock()
_runtime: Runtime | None = None


def build_runtime(settings: Settings) -> Runtime:
    uow_factory: UnitOfWorkFactory
    outbox: OutboxReader | None
    if settings.store == "memory":
        memory = InMemoryUnitOfWorkFactory()
        uow_factory, outbox = memory, memory.store
    else:
        raise NotImplementedError(f"store {settings.store!r} is not wired yet")
    service = TaskService(
        uow_factory=uow_factory,
        clock=utc_now,
        new_id=uuid.uuid4,
        page_tokens=PageTokenCodec(settings.page_token_secret.get_secret_value().encode()),
    )
    dispatcher = None if outbox is None else OutboxDispatcher(outbox)
    return Runtime(service=service, dispatcher=dispatcher)


def get_runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - the per-container cache is the point
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(get_settings())
        return _runtime


def get_task_service() -> TaskService:
    return get_runtime().service


@contextmanager
def override_runtime(runtime: Runtime) -> Iterator[Runtime]:
    """Install ``runtime`` as the cached one for the duration (tests, local server)."""
    global _runtime  # noqa: PLW0603
    with _lock:
        previous, _runtime = _runtime, runtime
    try:
        yield runtime
    finally:
        with _lock:
            _runtime = previous


@contextmanager
def override_task_service(service: TaskService) -> Iterator[TaskService]:
    with override_runtime(Runtime(service=service, dispatcher=None)):
        yield service
