"""The risk map's vocabulary: a validated bug record and the per-file facts that enrich it.

Forgiving about spelling, strict about meaning: docs/operations.md ("Input data", "How the code
is organised").
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_A_WORD_CHARACTER = re.compile(r"[\W_]+")


# Exports repeat a few dozen categories and statuses many thousand times over.
@lru_cache(maxsize=4096)
def to_snake_case(text: str) -> str:
    """`"Data Integrity"`, `"data-integrity"`, `"dataIntegrity"` all become `data_integrity`."""
    separated = _WORD_BOUNDARY.sub("_", text.strip())
    return _NOT_A_WORD_CHARACTER.sub("_", separated.lower()).strip("_")


def normalise_path(path: str) -> str:
    """One spelling per file, whatever the tracker or OS wrote: forward slashes, no `./`."""
    normalised = path.strip().replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised


class Severity(StrEnum):
    """Declared from most to least severe: iteration order is the display order.

    Names are read in any case (`High`, ` CRITICAL `), by `Severity(...)` and by Pydantic alike.
    """

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @classmethod
    def _missing_(cls, value: object) -> Severity | None:
        if isinstance(value, str):
            name = value.strip().lower()
            return next((severity for severity in cls if severity.value == name), None)
        return None


class Layer(StrEnum):
    """Hexagonal layers, from the outside in and then out again to the driven side."""

    ENTRYPOINT = "entrypoint"
    SERVICE = "service"
    DOMAIN = "domain"
    MODEL = "model"
    ADAPTER = "adapter"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"


_LAYER_NAMES = frozenset(layer.value for layer in Layer)

# Other names teams use for the same layers; compared after snake-casing.
_LAYER_SYNONYMS: dict[str, Layer] = {
    "api": Layer.ENTRYPOINT,
    "entrypoints": Layer.ENTRYPOINT,
    "entry_point": Layer.ENTRYPOINT,
    "handler": Layer.ENTRYPOINT,
    "handlers": Layer.ENTRYPOINT,
    "services": Layer.SERVICE,
    "application": Layer.SERVICE,
    "use_case": Layer.SERVICE,
    "use_cases": Layer.SERVICE,
    "models": Layer.MODEL,
    "schema": Layer.MODEL,
    "schemas": Layer.MODEL,
    "adapters": Layer.ADAPTER,
    "integration": Layer.ADAPTER,
    "integrations": Layer.ADAPTER,
    "repository": Layer.ADAPTER,
    "infra": Layer.INFRASTRUCTURE,
    "iac": Layer.INFRASTRUCTURE,
}


def parse_layer(name: str) -> Layer:
    """A layer from its name or a common synonym; raises ValueError listing what is accepted."""
    key = to_snake_case(name)
    if key in _LAYER_NAMES:
        return Layer(key)
    if key in _LAYER_SYNONYMS:
        return _LAYER_SYNONYMS[key]
    accepted = ", ".join(layer.value for layer in Layer)
    raise ValueError(f"unknown layer {name!r}; use one of {accepted} (or handler, integration)")


def _layer_by_name(value: Any) -> Any:
    return parse_layer(value) if isinstance(value, str) else value


LayerName = Annotated[Layer, BeforeValidator(_layer_by_name)]
"""A layer given by its name or a synonym, in any spelling (`Handler`, `use-cases`)."""


def _snake_case_required(text: str) -> str:
    normalised = to_snake_case(text)
    if not normalised:
        raise ValueError("must contain at least one letter or digit")
    return normalised


NonEmptyText = Annotated[str, Field(min_length=1)]

# Fields a tracker may leave empty; an empty cell means "not given", not "the empty string".
_OPTIONAL_FIELDS = (
    "description",
    "root_cause",
    "testing_gap",
    "layer",
    "status",
    "opened_at",
    "closed_at",
)


class BugRecord(BaseModel):
    """One bug report. Unknown keys are ignored: tracker exports carry many more fields."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    # Trackers number issues; an integer id is as good as a string one.
    id: Annotated[str, Field(min_length=1, coerce_numbers_to_str=True)]
    title: NonEmptyText
    severity: Severity
    component: NonEmptyText
    file: Annotated[NonEmptyText, AfterValidator(normalise_path)]
    category: Annotated[str, AfterValidator(_snake_case_required)]
    description: str | None = None
    root_cause: str | None = None
    testing_gap: str | None = None
    layer: LayerName | None = None
    status: Annotated[str, AfterValidator(to_snake_case)] | None = None
    opened_at: date | None = None
    closed_at: date | None = None

    @field_validator(*_OPTIONAL_FIELDS, mode="before")
    @classmethod
    def _blank_means_absent(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("opened_at", "closed_at", mode="before")
    @classmethod
    def _timestamp_to_date(cls, value: Any) -> Any:
        # Trackers export timestamps (GitHub: "2025-03-04T10:15:00Z"); the trend needs the day.
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str) and len(value.strip()) > len("YYYY-MM-DD"):
            try:
                return datetime.fromisoformat(value.strip()).date()
            except ValueError:
                return value  # let the date validator produce its usual message
        return value

    @field_validator("closed_at")
    @classmethod
    def _closed_after_opened(cls, closed_at: date | None, info: ValidationInfo) -> date | None:
        opened_at = info.data.get("opened_at")
        if closed_at is not None and opened_at is not None and closed_at < opened_at:
            raise ValueError(f"closed on {closed_at} before it was opened on {opened_at}")
        return closed_at


class FileChurn(BaseModel):
    """How much a file changed in the analysed window, from `git log --numstat`."""

    model_config = ConfigDict(frozen=True)

    commits: int = Field(ge=0)
    lines_added: int = Field(ge=0)
    lines_deleted: int = Field(ge=0)

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_deleted


class FileCoverage(BaseModel):
    """Line coverage of one file, from a Cobertura report."""

    model_config = ConfigDict(frozen=True)

    lines_valid: int = Field(ge=0)
    lines_covered: int = Field(ge=0)

    @property
    def line_rate(self) -> float:
        """Covered share of executable lines; a file with no executable lines is fully covered."""
        return self.lines_covered / self.lines_valid if self.lines_valid else 1.0

    @property
    def lines_uncovered(self) -> int:
        return self.lines_valid - self.lines_covered


class ChurnSnapshot(BaseModel):
    """Churn per file path (as git spells it) over the last `since_days` days."""

    model_config = ConfigDict(frozen=True)

    since_days: int = Field(gt=0)
    files: dict[str, FileChurn]


class CoverageSnapshot(BaseModel):
    """Line coverage per file path (as the coverage report spells it)."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, FileCoverage]
