"""boto3 clients, created once per Lambda container (or process), on first use.

Creating a client costs tens of milliseconds (loading the service model, building the
endpoint resolver); making one per invocation would add that to every request. ``AwsClients``
creates each client lazily the first time it is asked for, under a lock (client creation is
not thread-safe, using a client is), and hands the same instance out afterwards.

Every client gets explicit timeouts and botocore's *standard* retry mode: throttling and
transient network errors are retried with exponential backoff and jitter up to
``max_attempts`` in total, so the failure table (``aws_errors``) only sees what retrying could
not cure. Region and endpoint come from configuration, passed in by ``bootstrap`` (adapters
never read settings themselves); the endpoint override points every client at moto server or
another local endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sesv2.client import SESV2Client


@dataclass(frozen=True, slots=True)
class AwsClientSettings:
    region: str
    endpoint_url: str | None = None
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 5.0
    # Attempts per call in total, the first one included.
    max_attempts: int = 3

    def botocore_config(self) -> Config:
        return Config(
            region_name=self.region,
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            # "total_max_attempts" counts the first attempt; botocore's "max_attempts" key
            # would count retries only, one attempt more than the setting says.
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            # Reuse connections across invocations of a warm container.
            tcp_keepalive=True,
        )


class AwsClients:
    """The clients one container uses, each created once, lazily.

    ``session`` defaults to a private ``boto3.Session`` (credentials from the environment:
    the Lambda role in AWS). Tests pass a session with explicit fake credentials so nothing
    depends on ``~/.aws``.
    """

    def __init__(self, settings: AwsClientSettings, session: boto3.Session | None = None) -> None:
        self.settings = settings
        self._session = session
        self._lock = threading.Lock()
        self._dynamodb: DynamoDBClient | None = None
        self._events: EventBridgeClient | None = None
        self._sesv2: SESV2Client | None = None

    def _boto3_session(self) -> boto3.Session:
        # Called under the lock. A private session: boto3's default one is shared global state.
        if self._session is None:
            self._session = boto3.Session(region_name=self.settings.region)
        return self._session

    @property
    def dynamodb(self) -> DynamoDBClient:
        with self._lock:
            if self._dynamodb is None:
                self._dynamodb = self._boto3_session().client(
                    "dynamodb",
                    endpoint_url=self.settings.endpoint_url,
                    config=self.settings.botocore_config(),
                )
            return self._dynamodb

    @property
    def events(self) -> EventBridgeClient:
        with self._lock:
            if self._events is None:
                self._events = self._boto3_session().client(
                    "events",
                    endpoint_url=self.settings.endpoint_url,
                    config=self.settings.botocore_config(),
                )
            return self._events

    @property
    def sesv2(self) -> SESV2Client:
        with self._lock:
            if self._sesv2 is None:
                self._sesv2 = self._boto3_session().client(
                    "sesv2",
                    endpoint_url=self.settings.endpoint_url,
                    config=self.settings.botocore_config(),
                )
            return self._sesv2
