"""The handler's log lines carry the invocation's keys (request id as correlation id, the
Lambda context); lines that background work writes during the request or later do not.

Locally ``taskapi serve`` runs the outbox dispatcher in a thread of the same process, and its
lines (deliveries, notifications) go through the same ``taskapi`` logger as the handler's. The
local execution environment (``taskapi.local.environment``) makes them take turns, as one
Lambda environment would, and clears an invocation's keys when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from taskapi import bootstrap
from taskapi.adapters.memory import InMemoryStore, InMemoryUnitOfWorkFactory
from taskapi.domain.event_readers import ReceivedEvent
from taskapi.entrypoints import api
from taskapi.local.environment import ENVIRONMENT
from taskapi.local.proxy import HttpRequest, LocalLambdaContext, invoke
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.tasks import TaskService
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import make_membership, make_workspace
from tests.fakes.clock import FixedClock, SequentialIds
from tests.fakes.service import PAGE_TOKEN_SECRET, build_service
from tests.unit.api_helpers import JSON, OWNER, TASKS, call, claims_of, installed, logged_lines

# A logger below the API's, as the dispatcher's and the notifiers' are.
delivery_log = logging.getLogger(f"{api.logger.name}.test-delivery")


def run_in_another_thread(work: Callable[[], object]) -> None:
    thread = start_in_another_thread(work)
    thread.join(timeout=10)
    assert not thread.is_alive()


def start_in_another_thread(work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, name="outbox-dispatcher")
    thread.start()
    return thread


def test_other_threads_log_without_the_keys_of_a_request_in_flight_or_past() -> None:
    store = InMemoryStore()
    workspace = make_workspace()
    with InMemoryUnitOfWorkFactory(store)() as uow:
        uow.workspaces.add(workspace, make_membership(workspace))
        uow.commit()

    def log_delivery(event: ReceivedEvent) -> None:
        delivery_log.warning("delivered", extra={"event_id": str(event.event_id)})

    dispatcher = OutboxDispatcher(store, [log_delivery], clock=FixedClock())
    pumps: list[threading.Thread] = []

    def pump() -> None:
        with ENVIRONMENT.between_invocations():  # what OutboxPump does for each batch
            dispatcher.dispatch_pending()

    # As in `taskapi serve`: every commit wakes the dispatcher thread, while the request that
    # committed is still running.
    service = TaskService(
        uow_factory=InMemoryUnitOfWorkFactory(store),
        clock=FixedClock(),
        new_id=SequentialIds(),
        page_tokens=PageTokenCodec(PAGE_TOKEN_SECRET),
        on_commit=lambda: pumps.append(start_in_another_thread(pump)),
    )
    context = LocalLambdaContext(aws_request_id="req-7")
    request = HttpRequest("POST", f"{TASKS}", [JSON], b'{"title": "logged"}')

    workspaces = WorkspaceService(
        InMemoryUnitOfWorkFactory(store), FixedClock(), SequentialIds(), PageTokenCodec(b"k")
    )
    with bootstrap.override_services(service, workspaces), logged_lines() as lines:
        reply = invoke(api.lambda_handler, request, context=context, claims=claims_of(OWNER))
        for thread in pumps:
            thread.join(timeout=10)
            assert not thread.is_alive()
        run_in_another_thread(lambda: delivery_log.warning("idle"))

    assert reply.status == 201
    by_message = {line["message"]: line for line in lines}
    # The handler's own line carries the invocation's keys...
    created = by_message["task created"]
    assert created["correlation_id"] == "req-7"
    assert created["function_request_id"] == "req-7"
    assert created["function_name"] == context.function_name
    # ...the dispatcher thread's lines, during the request and after it, do not: a delivery's
    # lines name the request only as the correlation id its event carries.
    delivered = by_message["delivered"]
    assert "event_id" in delivered
    assert delivered["correlation_id"] == "req-7"
    assert "req-7" not in {k: v for k, v in delivered.items() if k != "correlation_id"}.values()
    assert "req-7" not in by_message["idle"].values()


def test_the_keys_do_not_outlive_the_invocation_in_its_own_thread() -> None:
    with installed(build_service()), logged_lines() as lines:
        assert call("POST", f"{TASKS}", {"title": "t"}).status == 201
        delivery_log.warning("after the request")

    created, after = lines[0], lines[-1]
    assert (created["message"], after["message"]) == ("task created", "after the request")
    assert created["function_request_id"] not in after.values()
