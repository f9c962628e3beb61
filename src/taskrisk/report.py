"""What the analysis produces and every renderer consumes.

Pydantic models: the JSON output is the report itself (`Report.model_dump_json`, read back with
`Report.model_validate_json`). Lists are complete and ranked; renderers only decide how many
rows to show. See docs/operations.md ("What the report contains", "Output formats").
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from taskrisk.model import FileChurn, FileCoverage, Layer, Severity
from taskrisk.scoring import SeverityWeights


def format_score(value: float) -> str:
    """Scores for people: whole numbers stay whole, others get one decimal."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def plural(count: int, noun: str) -> str:
    """`1 bug`, `2 bugs`: regular English plurals are all the report needs."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Breakdown(_Frozen):
    """Bugs sharing one value of a field. `share` is `bugs / total_bugs`."""

    name: str
    bugs: int
    share: float
    score: float


class CategoryScore(_Frozen):
    name: str
    bugs: int
    score: float


class HeatMap(_Frozen):
    """`scores[i][j]` is the severity-weighted score of the bugs in row i and column j;
    `counts[i][j]` their number. Rows and columns are ranked by their total score."""

    row_axis: str
    column_axis: str
    rows: list[str]
    columns: list[str]
    scores: list[list[float]]
    counts: list[list[int]]

    @property
    def max_score(self) -> float:
        return max((cell for row in self.scores for cell in row), default=0.0)


class Hotspot(_Frozen):
    """A file with bugs. `component` and `layer` are those of most of its bugs."""

    file: str
    component: str
    layer: Layer
    bugs: int
    severities: dict[Severity, int]
    bug_score: float
    churn: FileChurn | None
    coverage: FileCoverage | None
    risk_score: float
    categories: list[CategoryScore]
    testing_gaps: list[str]
    bug_ids: list[str]


class ActionKind(StrEnum):
    HOTSPOT = "hotspot"
    CATEGORY = "category"
    TESTING_GAP = "testing_gap"


class Action(_Frozen):
    priority: int
    kind: ActionKind
    target: str
    summary: str
    reason: str


class TrendPoint(_Frozen):
    """`open_at_month_end` counts bugs with an opening date that were not closed by then."""

    month: str
    opened: int
    closed: int
    open_at_month_end: int


class TrendWindow(_Frozen):
    """The months between the first and the last date, and the dates the trend leaves out when
    that span is longer than it may show (see `analysis.MAX_TREND_MONTHS`)."""

    first_month: str
    last_month: str
    months: int
    opened_outside: int = 0
    closed_outside: int = 0

    @property
    def cut(self) -> bool:
        return bool(self.opened_outside or self.closed_outside)


class Enrichment(_Frozen):
    """Which optional data fed the risk score, and how many hotspot files it matched."""

    churn_since_days: int | None = None
    files_with_churn: int = 0
    files_with_coverage: int = 0
    coverage_used: bool = False


class LogFinding(_Frozen):
    """Identical failures from the service's logs: one finding, weighed like one bug of its
    severity, whatever its `count` (docs/operations.md, "The logs source")."""

    id: str
    severity: Severity
    category: str
    component: str
    layer: Layer
    file: str
    location: str | None
    route: str | None
    status: int | None
    error_code: str | None
    exception_type: str | None
    level: str
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    correlation_id: str | None

    @property
    def title(self) -> str:
        """`503 service_unavailable on POST /tasks (StoreUnavailable)`, or the message."""
        what = f"{self.status} {self.error_code or ''}".strip() if self.status else self.message
        where = f" on {self.route}" if self.route else ""
        return f"{what}{where}" + (f" ({self.exception_type})" if self.exception_type else "")


class LogSummary(_Frozen):
    """What was read from the logs: `records` are log records, `failures` those that are
    failures (in `findings` groups), `ignored` Lambda's own and metric lines, `skipped` the
    malformed lines left out (--lenient)."""

    files: list[str]
    lines: int
    records: int
    ignored: int
    skipped: int
    failures: int
    findings: int


class Report(_Frozen):
    format_version: Literal[1] = 1
    total_bugs: int
    skipped_records: int
    total_score: float
    weights: SeverityWeights
    by_severity: list[Breakdown]
    by_layer: list[Breakdown]
    by_component: list[Breakdown]
    by_file: list[Breakdown]
    by_category: list[Breakdown]
    by_testing_gap: list[Breakdown]
    component_heatmap: HeatMap
    layer_heatmap: HeatMap
    hotspots: list[Hotspot]
    actions: list[Action]
    trend: list[TrendPoint]
    trend_window: TrendWindow | None = None  # None when no bug has a date
    enrichment: Enrichment
    # With --logs: the error groups (they also count as bugs in every table above) and what
    # was read; `by_source` splits the bugs into bug reports and log findings.
    logs: LogSummary | None = None
    log_findings: list[LogFinding] = []
    by_source: list[Breakdown] = []

    @property
    def bug_reports(self) -> int:
        return self.total_bugs - len(self.log_findings)
