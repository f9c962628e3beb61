"""The composition root: the one place that picks adapters and builds services.

Each function asks for what it uses (API: ``get_runtime``; notifications and reminders:
``get_notifications``; relay: ``get_relay``); the first call in a container builds it from the
settings and keeps it. Tests install objects built on fakes with ``override_*``; nothing is
patched. See docs/architecture.md#composition-root-and-dependency-injection.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from taskapi.config import Settings, get_settings
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import (
    EventPublisher,
    Notifier,
    OutboxReader,
    PublishableEvent,
    UnitOfWorkFactory,
)
from taskapi.service.tasks import TaskService
from taskapi.service.workspaces import WorkspaceService

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from taskapi.adapters.aws.clients import AwsClients, AwsClientSettings
    from taskapi.adapters.aws.dead_letters import DeadLetterKind, DeadLetterSource
    from taskapi.adapters.aws.eventbridge import EventEntryBuilder
    from taskapi.adapters.aws.stack import StackDescription
    from taskapi.adapters.idempotent_consumer import IdempotentEventConsumer
    from taskapi.adapters.mailbox import MailboxNotifier
    from taskapi.service.dispatch import OutboxDispatcher
    from taskapi.service.notifications import NotificationService

# Adapters are imported by the builder that needs them, not here: a function loads only what
# its store and its own wiring use (the cold start of the API on DynamoDB never imports
# SQLite, the in-memory store or the notification side). docs/performance.md#cold-start.


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Notifications:
    service: NotificationService
    # What the bus (Lambda) or the local dispatcher hands events to: ``service.handle`` once
    # per event_id.
    consumer: IdempotentEventConsumer
    mailbox: MailboxNotifier | None  # the local notifier, when that is the one in use


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the API needs: the task service; locally also the outbox dispatcher and the
    notification service it delivers to."""

    service: TaskService
    workspaces: WorkspaceService
    dispatcher: OutboxDispatcher | None
    # Set by the service after every committed write: the local dispatcher thread waits on it,
    # so events go out promptly instead of on the next poll.
    outbox_signal: threading.Event = field(default_factory=threading.Event)
    # Local runs only: the notification service, fed by the dispatcher from the same store.
    # In AWS the notification functions build their own (see get_notifications).
    notifications: Notifications | None = None


@dataclass(frozen=True, slots=True)
class TaskStore:
    uow_factory: UnitOfWorkFactory
    # Who reads the outbox: the in-process dispatcher locally; None in AWS, where the table's
    # stream relay publishes it (see get_relay).
    outbox: OutboxReader | None


T = TypeVar("T")


class PerContainer(Generic[T]):
    """One object per container (or process): built from the settings on first use and kept,
    so later invocations reuse its clients and connections; tests swap it for the duration of
    a ``with`` block."""

    def __init__(self, build: Callable[[Settings], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    @property
    def current(self) -> T | None:
        return self._value

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build(get_settings())
            return self._value

    @contextmanager
    def override(self, value: T) -> Iterator[T]:
        with self._lock:
            previous, self._value = self._value, value
        try:
            yield value
        finally:
            with self._lock:
                self._value = previous


def build_task_store(settings: Settings) -> TaskStore:
    if settings.store == "memory":
        from taskapi.adapters.memory import InMemoryUnitOfWorkFactory

        memory = InMemoryUnitOfWorkFactory()
        return TaskStore(memory, outbox=memory.store)
    if settings.store == "sqlite":
        from taskapi.adapters.sqlite.database import SqliteDatabase
        from taskapi.adapters.sqlite.unit_of_work import SqliteUnitOfWorkFactory

        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        database = SqliteDatabase(settings.sqlite_path)
        return TaskStore(SqliteUnitOfWorkFactory(database), outbox=database)
    from taskapi.adapters.dynamodb.unit_of_work import DynamoDbUnitOfWorkFactory

    uow_factory = DynamoDbUnitOfWorkFactory(
        get_aws_clients(settings).dynamodb,
        settings.table_name,
        build_event_entries(settings),
        outbox_mode=settings.outbox_mode,
    )
    polled = settings.outbox_mode == "polling"
    return TaskStore(uow_factory, outbox=uow_factory.outbox_reader() if polled else None)


def build_runtime(settings: Settings) -> Runtime:
    """The API function's (and the local server's) object graph."""
    store = build_task_store(settings)
    outbox_signal = threading.Event()
    page_tokens = build_page_tokens(settings)
    service = TaskService(
        uow_factory=store.uow_factory,
        clock=utc_now,
        new_id=uuid.uuid4,
        page_tokens=page_tokens,
        on_commit=outbox_signal.set,
    )
    workspaces = WorkspaceService(
        uow_factory=store.uow_factory, clock=utc_now, new_id=uuid.uuid4, page_tokens=page_tokens
    )
    dispatcher = notifications = None
    if store.outbox is not None:
        from taskapi.service.dispatch import OutboxDispatcher, RetryPolicy

        # Locally the notification service is an in-process subscriber of the outbox.
        notifications = build_notifications(settings, store.uow_factory)
        dispatcher = OutboxDispatcher(
            store.outbox,
            [notifications.consumer],
            clock=utc_now,
            retry=RetryPolicy(max_attempts=settings.outbox_max_attempts),
        )
    return Runtime(
        service=service,
        workspaces=workspaces,
        dispatcher=dispatcher,
        outbox_signal=outbox_signal,
        notifications=notifications,
    )


def build_page_tokens(settings: Settings) -> PageTokenCodec:
    """Page tokens signed with keys from Secrets Manager in AWS, the configured one locally."""
    if settings.page_token_secret_id is None:
        return PageTokenCodec(settings.page_token_secret.get_secret_value().encode())
    from taskapi.adapters.aws.secrets import SecretsManagerSigningKeys

    clients = get_aws_clients(settings)
    return PageTokenCodec(
        SecretsManagerSigningKeys(settings.page_token_secret_id, lambda: clients.secretsmanager)
    )


def build_notifications(settings: Settings, uow_factory: UnitOfWorkFactory) -> Notifications:
    """The notification service on the task store: SES in AWS, the mailbox file locally.
    Event de-duplication, sent-notification marks and reminder marks use idempotency layers of
    their own (Powertools keeps a layer's first configuration), next to the task store."""
    from taskapi.adapters.idempotent_consumer import DEFAULT_RECORD_TTL, IdempotentEventConsumer
    from taskapi.adapters.reminder_log import PersistenceLayerReminderLog, PersistenceLayerSentLog

    notifier: Notifier
    mailbox: MailboxNotifier | None = None
    if settings.store == "dynamodb":
        from taskapi.adapters.aws.ses import SesNotifier

        clients = get_aws_clients(settings)
        notifier = SesNotifier(lambda: clients.sesv2, sender=settings.sender_email)
    else:
        mailbox = build_mailbox(settings)
        notifier = mailbox
    from taskapi.service.notifications import NotificationService

    window = timedelta(hours=settings.reminder_window_hours)
    service = NotificationService(
        uow_factory=uow_factory,
        notifier=notifier,
        # A mark is useless once its due date has left every possible window.
        reminder_log=PersistenceLayerReminderLog(
            build_idempotency_store(settings), retention=window + timedelta(days=1)
        ),
        clock=utc_now,
        # A retried or redriven event sends only what it has not sent: marks live as long as
        # the event's own de-duplication record.
        sent_log=PersistenceLayerSentLog(
            build_idempotency_store(settings), retention=DEFAULT_RECORD_TTL
        ),
        reminder_window=window,
        pre_workspace_events=settings.pre_workspace_events_workspace_id,
    )
    consumer = IdempotentEventConsumer(service.handle, build_idempotency_store(settings))
    return Notifications(service=service, consumer=consumer, mailbox=mailbox)


def build_notification_functions(settings: Settings) -> Notifications:
    """The notification and reminder functions' object graph in AWS: the notification service
    on its own, without the task service or page tokens."""
    return build_notifications(settings, build_task_store(settings).uow_factory)


def build_idempotency_store(settings: Settings) -> BasePersistenceLayer:
    """Where the notification side keeps its Powertools idempotency records (event
    de-duplication, reminder marks): next to the task store. (Idempotency-Key records of the
    API live in the task store itself.)"""
    if settings.store == "memory":
        from taskapi.adapters.idempotency import InMemoryPersistenceLayer

        return InMemoryPersistenceLayer()
    if settings.store == "sqlite":
        from taskapi.adapters.sqlite.idempotency import SqlitePersistenceLayer

        # A file beside the task database, so a different --db never replays another's keys.
        return SqlitePersistenceLayer(settings.sqlite_path.with_suffix(".idempotency.db"))
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    # Powertools' own layer, on the shared client (timeouts, retries, endpoint override).
    return DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name,
        boto3_client=get_aws_clients(settings).dynamodb,
    )


# -- AWS clients and the stream relay --------------------------------------------------------


def aws_client_settings(settings: Settings) -> AwsClientSettings:
    from taskapi.adapters.aws.clients import AwsClientSettings

    return AwsClientSettings(
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        connect_timeout_seconds=settings.aws_connect_timeout_seconds,
        read_timeout_seconds=settings.aws_read_timeout_seconds,
        max_attempts=settings.aws_max_attempts,
    )


@functools.lru_cache(maxsize=8)
def _aws_clients(client_settings: AwsClientSettings) -> AwsClients:
    from taskapi.adapters.aws.clients import AwsClients

    return AwsClients(client_settings)


def get_aws_clients(settings: Settings) -> AwsClients:
    """The container's AWS clients for these settings: one set, shared by every adapter."""
    return _aws_clients(aws_client_settings(settings))


def build_event_entries(settings: Settings) -> EventEntryBuilder:
    from taskapi.adapters.aws.eventbridge import EventEntryBuilder

    return EventEntryBuilder(source=settings.event_source, event_bus_name=settings.event_bus_name)


@dataclass(frozen=True, slots=True)
class Relay:
    """What the stream relay needs: how to read an event from an outbox item's stream image
    (``None`` for other items), and where to publish it."""

    read_outbox_image: Callable[[Mapping[str, Any]], PublishableEvent | None]
    publisher: EventPublisher


def build_relay(settings: Settings, publisher: EventPublisher | None = None) -> Relay:
    """The relay; ``publisher`` replaces EventBridge (``taskapi invoke`` with a local store)."""
    from taskapi.adapters.dynamodb.items import outbox_event_from_image

    if publisher is None:
        from taskapi.adapters.aws.eventbridge import EventBridgePublisher

        publisher = EventBridgePublisher(
            get_aws_clients(settings).events, build_event_entries(settings)
        )
    return Relay(read_outbox_image=outbox_event_from_image, publisher=publisher)


# -- the operations commands: what a failed delivery left in AWS -----------------------------


def build_dead_letters(
    settings: Settings, source: DeadLetterSource, queue_url: str
) -> DeadLetterKind:
    """The relay failure queue or the notification dead-letter queue, read and redriven with
    the relay's own reader and publisher (``taskapi events dead-letters``, ``... redrive``)."""
    from taskapi.adapters.aws import dead_letters

    clients = get_aws_clients(settings)
    queue = dead_letters.DeadLetterQueue(clients.sqs, queue_url)
    if source == "relay":
        relay = build_relay(settings)
        return dead_letters.RelayFailures(
            queue,
            dead_letters.StreamBatchReader(clients.dynamodbstreams),
            relay.read_outbox_image,
            relay.publisher,
        )
    from taskapi.adapters.aws.eventbridge import EventBridgePublisher

    def publisher_for(source: str, resources: tuple[str, ...]) -> EventPublisher:
        entries = replace(build_event_entries(settings), source=source, resources=resources)
        return EventBridgePublisher(clients.events, entries)

    return dead_letters.NotificationDeadLetters(queue, publisher_for)


def describe_stack(settings: Settings, name: str) -> StackDescription:
    from taskapi.adapters.aws.stack import describe_stack

    return describe_stack(get_aws_clients(settings).cloudformation, name)


def get_relay() -> Relay:
    return _relay.get()


def override_relay(relay: Relay) -> AbstractContextManager[Relay]:
    """Install ``relay`` as the container's for the duration (tests)."""
    return _relay.override(relay)


def get_runtime() -> Runtime:
    return _runtime.get()


def get_task_service() -> TaskService:
    return get_runtime().service


def get_workspace_service() -> WorkspaceService:
    return get_runtime().workspaces


def get_notifications() -> Notifications:
    """The notification service. Locally (and in tests) it is the runtime's, because it must
    share the runtime's task store and dispatcher; in AWS the notification and reminder
    functions build it on its own, once per container."""
    if get_settings().store == "dynamodb" and _runtime.current is None:
        return _notifications.get()
    notifications = get_runtime().notifications
    if notifications is None:
        raise RuntimeError("this runtime has no notification service wired")
    return notifications


def get_notification_service() -> NotificationService:
    return get_notifications().service


def build_mailbox(settings: Settings) -> MailboxNotifier:
    """The local notifier: a file in the data directory."""
    from taskapi.adapters.mailbox import MAILBOX_FILE_NAME, MailboxNotifier

    return MailboxNotifier(settings.data_dir / MAILBOX_FILE_NAME, clock=utc_now)


def get_mailbox() -> MailboxNotifier:
    """The local mailbox of the configured data directory, without building a runtime."""
    return build_mailbox(get_settings())


def override_runtime(runtime: Runtime) -> AbstractContextManager[Runtime]:
    """Install ``runtime`` as the container's for the duration (tests, local server)."""
    return _runtime.override(runtime)


@contextmanager
def override_services(tasks: TaskService, workspaces: WorkspaceService) -> Iterator[None]:
    """Install a runtime of just these services (no dispatcher) for the duration (tests)."""
    with override_runtime(Runtime(service=tasks, workspaces=workspaces, dispatcher=None)):
        yield


_runtime = PerContainer(build_runtime)
_notifications = PerContainer(build_notification_functions)
_relay = PerContainer(build_relay)
