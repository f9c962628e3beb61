"""boto3 clients, created once per Lambda container (or process), on first use.

Each client is created lazily under a lock (creation is not thread-safe, use is) and reused;
every client gets explicit timeouts and botocore's *standard* retry mode, so the failure table
only sees what retrying could not cure. Region and endpoint come from ``bootstrap``.
See docs/aws.md#clients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodbstreams.client import DynamoDBStreamsClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sqs.client import SQSClient


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
        self._clients: dict[str, Any] = {}

    @property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._client("dynamodb"))

    @property
    def events(self) -> EventBridgeClient:
        return cast("EventBridgeClient", self._client("events"))

    @property
    def sesv2(self) -> SESV2Client:
        return cast("SESV2Client", self._client("sesv2"))

    # The next three serve the operations commands (taskapi events redrive), never a function.
    @property
    def sqs(self) -> SQSClient:
        return cast("SQSClient", self._client("sqs"))

    @property
    def dynamodbstreams(self) -> DynamoDBStreamsClient:
        return cast("DynamoDBStreamsClient", self._client("dynamodbstreams"))

    @property
    def cloudformation(self) -> Any:  # no type stubs installed for it: one call, DescribeStacks
        return self._client("cloudformation")

    @property
    def secretsmanager(self) -> Any:  # no type stubs installed for it: one call, by Powertools
        return self._client("secretsmanager")

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                if self._session is None:
                    # A private session: boto3's default one is shared global state.
                    self._session = boto3.Session(region_name=self.settings.region)
                # boto3-stubs type client() per literal service name; the properties above
                # give each client its type.
                client = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.settings.endpoint_url,
                    config=self.settings.botocore_config(),
                )
                self._clients[service] = client
            return client
