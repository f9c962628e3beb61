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
    service_name: str = "taskapi"

    # -- local mode ---------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".taskapi"), description="Local state: SQLite file, mailbox, idempotency."
    )
    db_path: Path | None = Field(
        default=None, description="SQLite file; defaults to <data_dir>/taskapi.db."
    )

    # -- API ----------------------------------------------------------------------------
    page_token_secret: SecretStr = Field(
        default=SecretStr("taskapi-local-development-only"),
        description="HMAC key for list page tokens. Set a random value in every deployment.",
    )

    @property
    def sqlite_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.data_dir / "taskapi.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
