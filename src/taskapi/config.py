"""Configuration from the environment (``TASKAPI_*``), read once by the composition root.

Adapters never read configuration themselves: ``bootstrap`` passes them plain values. A plain
Pydantic model converts the variables' text (pydantic-settings would cost every cold start
some 30 ms for what ``from_environment`` does here). See README.md#configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "TASKAPI_"


class Settings(BaseModel):
    """The settings; ``Settings(...)`` takes explicit values only (tests), and
    ``from_environment`` reads ``TASKAPI_<FIELD>`` variables (case-insensitive)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

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
        description="HMAC key for list page tokens, when no secret id is set (local runs).",
    )
    page_token_secret_id: str | None = Field(
        default=None,
        description='Secrets Manager secret {"current", "previous"} with the page-token keys, '
        "read at run time (AWS).",
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
    pre_workspace_events_workspace_id: UUID | None = Field(
        default=None,
        description="The workspace in which the notification service handles a task event of "
        "schema version 1 (from before workspaces): the one the store migration moved the old "
        "tasks into. Unset: such events are ignored, with a warning.",
    )

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        variables = os.environ if environ is None else environ
        values = {
            name[len(ENV_PREFIX) :].lower(): value
            for name, value in variables.items()
            if name.upper().startswith(ENV_PREFIX)
        }
        return cls.model_validate({**values, **overrides})

    @property
    def sqlite_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.data_dir / "taskapi.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment()
