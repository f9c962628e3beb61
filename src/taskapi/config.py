"""Configuration from the environment (``TASKAPI_*``), read once by the composition root.

Adapters never read configuration themselves: ``bootstrap`` passes them plain values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKAPI_", extra="ignore", frozen=True)

    # -- runtime mode -------------------------------------------------------------------
    store: Literal["sqlite", "memory", "dynamodb"] = Field(
        default="sqlite", description="Which task store bootstrap wires."
    )

    # -- local mode ---------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".taskapi"), description="Local state: SQLite file, mailbox, idempotency."
    )
    db_path: Path | None = Field(
        default=None, description="SQLite file; defaults to <data_dir>/taskapi.db."
    )
    outbox_max_attempts: int = Field(
        default=10,
        ge=1,
        description="Deliveries of one outbox event the local dispatcher tries before it sets "
        "the event aside as a dead letter (`taskapi events dead-letters`, `... redrive`).",
    )

    # -- API ----------------------------------------------------------------------------
    page_token_secret: SecretStr = Field(
        default=SecretStr("taskapi-local-development-only"),
        description="HMAC key for list page tokens. Set a random value in every deployment.",
    )

    # -- AWS (store=dynamodb) -----------------------------------------------------------
    table_name: str = Field(default="taskapi", description="DynamoDB single table.")
    outbox_mode: Literal["stream", "polling"] = Field(
        default="stream",
        description="Who delivers the table's outbox: its stream relay (AWS), or this process "
        "polling it (taskapi serve against a table no stack relays: DynamoDB Local, moto).",
    )
    idempotency_table_name: str = Field(
        default="taskapi-idempotency", description="Powertools idempotency records."
    )
    event_bus_name: str = Field(default="taskapi", description="EventBridge bus for task events.")
    event_source: str = Field(default="taskapi.tasks", description="EventBridge Source field.")
    aws_region: str = Field(default="us-east-1", description="Region for every AWS client.")
    aws_endpoint_url: str | None = Field(
        default=None, description="Endpoint override (moto server, local tooling)."
    )
    aws_connect_timeout_seconds: float = 2.0
    aws_read_timeout_seconds: float = 5.0
    aws_max_attempts: int = 3

    # -- notifications ------------------------------------------------------------------
    sender_email: str = Field(
        default="taskapi@example.com", description="From address of notification emails."
    )
    reminder_window_hours: int = Field(
        default=24, ge=1, description="Remind about tasks due within this many hours."
    )

    @property
    def sqlite_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.data_dir / "taskapi.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
