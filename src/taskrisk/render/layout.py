"""What a human-readable report says, independent of how it is drawn: the sections, their
order, the numbers, the charts' content, and `printable`, the one-line form of bug data.

Markdown, HTML and the terminal only decide the look. See docs/operations.md ("How the code is
organised", "Output formats").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Literal

from taskrisk.logs import NO_CODE_LOCATION
from taskrisk.model import Severity
from taskrisk.report import (
    Breakdown,
    HeatMap,
    Hotspot,
    LogFinding,
    Report,
    TrendPoint,
    format_score,
    plural,
)

Align = Literal["left", "right"]

# Parentheses keep it apart from a real category: categories are snake_case.
OTHER_COLUMN = "(other)"


@dataclass(frozen=True, slots=True)
class Cell:
    """`heat` (0 to 1) marks a heat map cell; `path` asks for monospace."""

    text: str
    heat: float | None = None
    path: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """`prose` lists the columns holding sentences: the ones to wrap when space runs out."""

    columns: list[str]
    align: list[Align]
    rows: list[list[Cell]]
    prose: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Step:
    summary: str
    reason: str


@dataclass(frozen=True, slots=True)
class HeatChart:
    """A heat map to draw, cut like its table; `highest` is the score drawn at full heat (the
    largest cell of the whole heat map, so that cutting it does not change the colours)."""

    heatmap: HeatMap
    highest: float

    def heat(self, score: float) -> float:
        return min(score / self.highest, 1.0) if self.highest else 0.0


@dataclass(frozen=True, slots=True)
class TrendChart:
    points: list[TrendPoint]


@dataclass(frozen=True, slots=True)
class Section:
    """`chart` is the section's table as a picture, for the formats that draw one."""

    title: str
    notes: list[str] = field(default_factory=list)
    table: Table | None = None
    steps: list[Step] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    chart: HeatChart | TrendChart | None = None


@dataclass(frozen=True, slots=True)
class HeatMapView:
    """A heat map cut to size: the first `top` rows; columns beyond `top` folded into one
    "other" column so that every row still adds up to its total."""

    heatmap: HeatMap
    hidden_rows: int
    hidden_score: float


# Heat colours from pale (no risk) through orange to dark red (the worst cell).
_HEAT_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (255, 248, 225)),
    (0.5, (246, 150, 60)),
    (1.0, (165, 20, 30)),
)


# A heat map cell without bugs: grey and hatched where the format can hatch, never a heat
# colour, so that it cannot pass for a low score.
EMPTY_CELL_COLOUR = "#e2e2e2"
EMPTY_CELL_HATCH = "#a9a9a9"


def heat_colours(heat: float) -> tuple[str, str]:
    """Background and a readable text colour, as `#rrggbb`, for a heat between 0 and 1."""
    heat = min(max(heat, 0.0), 1.0)
    (low, low_rgb), (high, high_rgb) = next(
        (start, end) for start, end in pairwise(_HEAT_STOPS) if heat <= end[0]
    )
    position = (heat - low) / (high - low)
    rgb = [round(a + (b - a) * position) for a, b in zip(low_rgb, high_rgb, strict=True)]
    background = "#{:02x}{:02x}{:02x}".format(*rgb)
    return background, ("#ffffff" if heat > 0.6 else "#1f1f1f")


# Line and paragraph breaks of any kind: a table row or a list item must stay on its line.
_LINE_BREAKS = "\t\n\v\f\r\x85\u2028\u2029"
_BREAK_RUN = re.compile(f"[ {_LINE_BREAKS}]*[{_LINE_BREAKS}][ {_LINE_BREAKS}]*")
# Other C0 and C1 controls (ESC starts terminal escape sequences, CSI is one on its own, CR and
# backspace overwrite what was printed) and the bidirectional overrides that reorder text.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """Bug data as one line of visible characters, for every human-readable format: breaks
    become one space, other control characters their escape (`\\x1b`), shown, not obeyed."""
    if text.isprintable():
        return text
    one_line = _BREAK_RUN.sub(" ", text)
    return _INVISIBLE.sub(_escape_invisible, one_line)


def _escape_invisible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def churn_text(lines_changed: int, commits: int) -> str:
    return f"{plural(lines_changed, 'line')}, {plural(commits, 'commit')}"


def share_text(share: float) -> str:
    return f"{share:.1%}"


def severity_summary(severities: dict[Severity, int]) -> str:
    return ", ".join(f"{count} {severity}" for severity, count in severities.items() if count)


def headline(report: Report) -> list[str]:
    sources = ""
    if report.logs is not None:
        sources = (
            f" ({plural(report.bug_reports, 'bug report')} and "
            f"{plural(len(report.log_findings), 'failure group')} from the logs)"
        )
    lines = [
        f"{plural(report.total_bugs, 'bug')}{sources}, severity-weighted score "
        f"{format_score(report.total_score)} (weights: {report.weights.describe()})."
    ]
    if report.skipped_records:
        lines.append(f"Skipped {plural(report.skipped_records, 'invalid record')} (--lenient).")
    if report.logs is not None:
        logs = report.logs
        read = (
            f"Logs: {plural(logs.lines, 'line')} in {plural(len(logs.files), 'file')}, "
            f"{plural(logs.records, 'record')}, {plural(logs.failures, 'failure')} in "
            f"{plural(logs.findings, 'group')}"
        )
        if logs.ignored:
            read += f"; {plural(logs.ignored, 'Lambda platform or metric line')} ignored"
        lines.append(read + ".")
        if logs.skipped:
            lines.append(f"Skipped {plural(logs.skipped, 'malformed log line')} (--lenient).")
    enrichment = report.enrichment
    files = len(report.hotspots)
    if enrichment.churn_since_days is not None:
        lines.append(
            f"Risk includes git churn over the last {enrichment.churn_since_days} days "
            f"({enrichment.files_with_churn} of the {files} files with bugs changed in that time)."
        )
    if enrichment.coverage_used:
        lines.append(
            f"Risk includes line coverage ({enrichment.files_with_coverage} of the {files} "
            "files with bugs are in the coverage report)."
        )
    return lines


def cut_heatmap(heatmap: HeatMap, top: int) -> HeatMapView:
    rows, columns = heatmap.rows[:top], heatmap.columns[:top]
    folded = len(heatmap.columns) > top
    scores, counts = [], []
    for row_scores, row_counts in zip(heatmap.scores[:top], heatmap.counts[:top], strict=True):
        scores.append(row_scores[:top] + ([sum(row_scores[top:])] if folded else []))
        counts.append(row_counts[:top] + ([sum(row_counts[top:])] if folded else []))
    hidden_score = sum(sum(row) for row in heatmap.scores[top:])
    view = HeatMap(
        row_axis=heatmap.row_axis,
        column_axis=heatmap.column_axis,
        rows=rows,
        columns=columns + ([OTHER_COLUMN] if folded else []),
        scores=scores,
        counts=counts,
    )
    return HeatMapView(view, hidden_rows=len(heatmap.rows) - len(rows), hidden_score=hidden_score)


def report_sections(report: Report, top: int) -> list[Section]:
    if not report.total_bugs:
        logs = " and the logs no failures" if report.logs is not None else ""
        return [Section("No bugs", notes=[f"The input holds no valid bug records{logs}."])]
    sections = [
        Section(
            "What to fix first",
            steps=[Step(action.summary, action.reason) for action in report.actions],
        ),
        _hotspot_section(report, top),
        *([_log_section(report.log_findings, top)] if report.log_findings else []),
        _heatmap_section(report.component_heatmap, top, "Heat map: component by category"),
        _heatmap_section(report.layer_heatmap, top, "Heat map: layer by category"),
        _breakdown_section("By severity", "severity", report.by_severity, len(Severity)),
        *(
            [_breakdown_section("By source", "source", report.by_source, top)]
            if report.by_source
            else []
        ),
        _breakdown_section("By layer", "layer", report.by_layer, top),
        _breakdown_section("By component", "component", report.by_component, top),
        _breakdown_section("By category", "category", report.by_category, top),
        _breakdown_section("By file", "file", report.by_file, top, paths=True),
    ]
    if report.by_testing_gap:
        sections.append(
            _breakdown_section("Testing gaps", "testing gap", report.by_testing_gap, top)
        )
    if report.trend:
        sections.append(_trend_section(report))
    return sections


def _more_note(top: int, total: int, noun: str) -> list[str]:
    hidden = total - top
    return [f"{hidden} more {noun} not shown (--top {top})."] if hidden > 0 else []


def _hotspot_section(report: Report, top: int) -> Section:
    with_churn = report.enrichment.churn_since_days is not None
    with_coverage = report.enrichment.coverage_used
    columns = ["#", "File", "Component", "Layer", "Bugs", "Severities", "Score"]
    align: list[Align] = ["right", "left", "left", "left", "right", "left", "right"]
    if with_churn:
        columns.append("Churn")
        align.append("right")
    if with_coverage:
        columns.append("Coverage")
        align.append("right")
    if with_churn or with_coverage:
        columns.append("Risk")
        align.append("right")
    columns += ["Main categories", "Testing gaps"]
    align += ["left", "left"]
    rows = [
        _hotspot_row(rank, hotspot, with_churn=with_churn, with_coverage=with_coverage)
        for rank, hotspot in enumerate(report.hotspots[:top], start=1)
    ]
    notes = ["Files ranked by risk score; score is the severity-weighted bug count."]
    if not (with_churn or with_coverage):
        notes = ["Files ranked by severity-weighted bug score."]
    prose = frozenset({columns.index("Severities"), len(columns) - 2, len(columns) - 1})
    return Section(
        "Hotspots",
        notes=notes,
        table=Table(columns, align, rows, prose),
        footnotes=_more_note(top, len(report.hotspots), "files"),
    )


def _log_section(findings: Sequence[LogFinding], top: int) -> Section:
    columns = [
        "ID",
        "Severity",
        "Count",
        "Status",
        "Error",
        "Exception",
        "Route",
        "Code location",
        "Layer",
        "First seen",
        "Last seen",
        "Correlation id",
    ]
    align: list[Align] = ["left", "left", "right", "right"]
    align += ["left"] * (len(columns) - len(align))
    rows = [
        [
            Cell(finding.id),
            Cell(finding.severity),
            Cell(str(finding.count)),
            Cell(str(finding.status) if finding.status else finding.level),
            Cell(finding.error_code or ""),
            Cell(finding.exception_type or ""),
            Cell(finding.route or finding.message),
            Cell(finding.location or "", path=finding.file != NO_CODE_LOCATION),
            Cell(finding.layer),
            Cell(seen_text(finding.first_seen)),
            Cell(seen_text(finding.last_seen)),
            Cell(finding.correlation_id or ""),
        ]
        for finding in findings[:top]
    ]
    notes = [
        "Identical failures of the service, from its logs: each group is one finding (LOG-n), "
        "weighed like a bug of its severity in every table; Count is how often it was logged, "
        "Correlation id that of its first occurrence. A route's status is the reply's; "
        "without one, the level of a failure outside a request."
    ]
    return Section(
        "Failures in the logs",
        notes=notes,
        table=Table(columns, align, rows, frozenset({6})),
        footnotes=_more_note(top, len(findings), "failure groups"),
    )


def seen_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _hotspot_row(
    rank: int, hotspot: Hotspot, *, with_churn: bool, with_coverage: bool
) -> list[Cell]:
    row = [
        Cell(str(rank)),
        Cell(hotspot.file, path=True),
        Cell(hotspot.component),
        Cell(hotspot.layer),
        Cell(str(hotspot.bugs)),
        Cell(severity_summary(hotspot.severities)),
        Cell(format_score(hotspot.bug_score)),
    ]
    if with_churn:
        churn = hotspot.churn
        row.append(Cell(churn_text(churn.lines_changed, churn.commits) if churn else "n/a"))
    if with_coverage:
        coverage = hotspot.coverage
        row.append(Cell(f"{coverage.line_rate:.0%}" if coverage else "n/a"))
    if with_churn or with_coverage:
        row.append(Cell(format_score(hotspot.risk_score)))
    row += [
        Cell(", ".join(category.name for category in hotspot.categories[:3])),
        Cell("; ".join(hotspot.testing_gaps[:3])),
    ]
    return row


def _heatmap_section(heatmap: HeatMap, top: int, title: str) -> Section:
    view = cut_heatmap(heatmap, top)
    cut = view.heatmap
    chart = HeatChart(cut, highest=heatmap.max_score)
    rows = []
    for name, scores, counts in zip(cut.rows, cut.scores, cut.counts, strict=True):
        cells = [Cell(name)]
        for score, count in zip(scores, counts, strict=True):
            cells.append(Cell(format_score(score) if count else "", heat=chart.heat(score)))
        cells.append(Cell(format_score(sum(scores))))
        rows.append(cells)
    notes = [
        f"Each cell is the severity-weighted score of the bugs of that {cut.row_axis} "
        f"and {cut.column_axis}; an empty cell has no bugs."
    ]
    footnotes = []
    if view.hidden_rows:
        footnotes.append(
            f"{view.hidden_rows} more {cut.row_axis} rows (score "
            f"{format_score(view.hidden_score)}) not shown (--top {top})."
        )
    if len(heatmap.columns) > top:
        footnotes.append(
            f"{OTHER_COLUMN} adds up the {len(heatmap.columns) - top} {cut.column_axis} "
            f"columns beyond the first {top}."
        )
    columns = [cut.row_axis.capitalize(), *cut.columns, "Total"]
    align: list[Align] = ["left" if index == 0 else "right" for index in range(len(columns))]
    table = Table(columns, align, rows)
    return Section(title, notes=notes, table=table, footnotes=footnotes, chart=chart)


def _breakdown_section(
    title: str, label: str, breakdowns: Sequence[Breakdown], top: int, *, paths: bool = False
) -> Section:
    rows = [
        [
            Cell(item.name, path=paths),
            Cell(str(item.bugs)),
            Cell(share_text(item.share)),
            Cell(format_score(item.score)),
        ]
        for item in breakdowns[:top]
    ]
    table = Table(
        [label.capitalize(), "Bugs", "Share", "Score"], ["left", "right", "right", "right"], rows
    )
    footnotes = _more_note(top, len(breakdowns), f"{label} rows")
    return Section(title, table=table, footnotes=footnotes)


def _trend_section(report: Report) -> Section:
    rows = [
        [
            Cell(point.month),
            Cell(str(point.opened)),
            Cell(str(point.closed)),
            Cell(str(point.open_at_month_end)),
        ]
        for point in report.trend
    ]
    table = Table(
        ["Month", "Opened", "Closed", "Open at month end"],
        ["left", "right", "right", "right"],
        rows,
    )
    notes = ["Open at month end counts the bugs with an opening date not closed by then."]
    window = report.trend_window
    if window is not None and window.cut:
        notes.append(
            f"The dates span {window.first_month} to {window.last_month} "
            f"({window.months:,} months); shown are the {len(report.trend)} consecutive months "
            f"with the most dates, {report.trend[0].month} to {report.trend[-1].month}. Left "
            f"out: {plural(window.opened_outside, 'opening')} and "
            f"{plural(window.closed_outside, 'closing')} outside them (open at month end "
            "still counts the bugs opened before)."
        )
    return Section("Monthly trend", notes=notes, table=table, chart=TrendChart(report.trend))
