"""Bug records in, a ranked `Report` out. Pure: no files, no clock, no terminal.

Every ranking orders by score (descending) and then by name (ascending), so the same bugs in
any order give the same report. See docs/operations.md ("Scoring", "What the report contains").
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate
from typing import Generic, TypeVar

from taskrisk.layers import LayerMap
from taskrisk.logs import NO_CODE_LOCATION, FailureGroup, ParsedLogs, group_failures
from taskrisk.model import (
    BugRecord,
    ChurnSnapshot,
    CoverageSnapshot,
    FileChurn,
    FileCoverage,
    Layer,
    Severity,
    normalise_path,
)
from taskrisk.report import (
    Action,
    ActionKind,
    Breakdown,
    CategoryScore,
    Enrichment,
    HeatMap,
    Hotspot,
    LogFinding,
    LogSummary,
    Report,
    TrendPoint,
    TrendWindow,
    format_score,
    plural,
)
from taskrisk.scoring import (
    SeverityWeights,
    churn_factor,
    coverage_factor,
    risk_score,
)

DEFAULT_MAX_ACTIONS = 6
BUG_REPORTS = "bug reports"
LOG_FINDINGS = "logs"
# Ten years of months. Dates a tracker uses for "none" (0001-01-01, 9999-12-31) or a mistyped
# year would otherwise make the trend thousands of empty months long.
MAX_TREND_MONTHS = 120

_Value = TypeVar("_Value")

# What usually prevents the next bug of a kind; the action list quotes it for the top categories.
CATEGORY_PLAYBOOK: Mapping[str, str] = {
    "validation": "Validate every input at the boundary with one schema, and feed it generated "
    "edge cases with property-based tests",
    "data_integrity": "Make related writes atomic (transactions, conditional writes) and check "
    "invariants after injected failures",
    "error_handling": "Map every failure to one defined response and cover each mapping with a "
    "failure-injecting fake",
    "concurrency": "Guard every write with a version check and test interleaved updates",
    "performance": "Benchmark the slow paths with production-sized data and bound the work "
    "done per request",
    "serialization": "Pin wire formats with schema contract tests and round-trip property tests",
    "observability": "Log and count every failure path with structured fields, and assert on "
    "them in tests",
    "architecture": "Enforce dependency rules with import-linter contracts and keep I/O out of "
    "the core",
    "security": "Add negative tests for authorisation and for data that must never leave the "
    "service",
    "configuration": "Validate configuration at start-up and test every deployment profile",
    "availability": "Make refusals of the store retryable end to end (Retry-After, backoff in "
    "clients) and load-test at the throttling limit with a failure-injecting store",
}


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Names by score descending, then name ascending: the one ordering used everywhere."""
    return sorted(scores, key=lambda name: (-scores[name], name))


def _most_common(counts: Counter[str]) -> str:
    """The most frequent name; ties go to the alphabetically first, never to input order."""
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


@dataclass(slots=True)
class _Tally:
    """Number of bugs and summed weight per name."""

    bugs: Counter[str] = field(default_factory=Counter)
    scores: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, name: str, weight: float) -> None:
        self.bugs[name] += 1
        self.scores[name] += weight

    def breakdowns(self, total_bugs: int, order: Sequence[str] | None = None) -> list[Breakdown]:
        names = ranked(self.scores) if order is None else order
        return [
            Breakdown(
                name=name,
                bugs=self.bugs[name],
                share=self.bugs[name] / total_bugs if total_bugs else 0.0,
                score=self.scores[name],
            )
            for name in names
        ]


@dataclass(slots=True)
class _Grid:
    """Bugs and summed weight per (row, column) cell of a heat map."""

    cell_bugs: Counter[tuple[str, str]] = field(default_factory=Counter)
    cell_scores: defaultdict[tuple[str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    row_scores: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    column_scores: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, row: str, column: str, weight: float) -> None:
        self.cell_bugs[row, column] += 1
        self.cell_scores[row, column] += weight
        self.row_scores[row] += weight
        self.column_scores[column] += weight

    def heatmap(self, row_axis: str, column_axis: str) -> HeatMap:
        rows = ranked(self.row_scores)
        columns = ranked(self.column_scores)
        return HeatMap(
            row_axis=row_axis,
            column_axis=column_axis,
            rows=rows,
            columns=columns,
            scores=[[self.cell_scores.get((r, c), 0.0) for c in columns] for r in rows],
            counts=[[self.cell_bugs.get((r, c), 0) for c in columns] for r in rows],
        )


@dataclass(slots=True)
class _FileFacts:
    """Everything a hotspot needs to know about the bugs of one file."""

    severities: Counter[str] = field(default_factory=Counter)
    components: Counter[str] = field(default_factory=Counter)
    layers: Counter[str] = field(default_factory=Counter)
    categories: _Tally = field(default_factory=_Tally)
    testing_gaps: _Tally = field(default_factory=_Tally)
    bug_ids: list[str] = field(default_factory=list)
    bugs: int = 0
    score: float = 0.0


class _PathIndex(Generic[_Value]):
    """Finds a file's entry in data keyed by paths spelled differently.

    git, coverage.py and bug trackers disagree on the root: `src/taskapi/x.py`,
    `taskapi/x.py` and `/ci/work/src/taskapi/x.py` are one file. An exact match wins;
    otherwise a match on whole trailing path segments, in either direction, if it is unique.
    """

    def __init__(self, entries: Mapping[str, _Value]) -> None:
        self._exact = {normalise_path(path): value for path, value in entries.items()}
        self._by_suffix: defaultdict[str, set[str]] = defaultdict(set)
        for path in self._exact:
            for suffix in _proper_suffixes(path):
                self._by_suffix[suffix].add(path)

    def get(self, path: str) -> _Value | None:
        wanted = normalise_path(path)
        if wanted in self._exact:
            return self._exact[wanted]
        candidates = set(self._by_suffix.get(wanted, ()))
        candidates.update(suffix for suffix in _proper_suffixes(wanted) if suffix in self._exact)
        return self._exact[candidates.pop()] if len(candidates) == 1 else None


def _proper_suffixes(path: str) -> Iterator[str]:
    """`a/b/c.py` -> `b/c.py`, `c.py`."""
    parts = path.strip("/").split("/")
    for start in range(1, len(parts)):
        yield "/".join(parts[start:])


def analyse(
    bugs: Sequence[BugRecord],
    *,
    layer_map: LayerMap | None = None,
    weights: SeverityWeights | None = None,
    churn: ChurnSnapshot | None = None,
    coverage: CoverageSnapshot | None = None,
    skipped_records: int = 0,
    max_actions: int = DEFAULT_MAX_ACTIONS,
    logs: ParsedLogs | None = None,
) -> Report:
    layer_map = layer_map or LayerMap()
    weights = weights or SeverityWeights()
    reported = len(bugs)
    findings = log_findings(logs, layer_map, {bug.file for bug in bugs}) if logs else []
    # A log finding weighs like a bug: from here on, bugs are both.
    bugs = [*bugs, *(_as_bug(finding) for finding in findings)]
    weight_of = {severity: weights.of(severity) for severity in Severity}

    by_severity, by_layer, by_component = _Tally(), _Tally(), _Tally()
    by_file, by_category, by_testing_gap = _Tally(), _Tally(), _Tally()
    component_grid, layer_grid = _Grid(), _Grid()
    # Which files make up a category or a testing gap: the actions name the worst ones.
    category_files, testing_gap_files = _Grid(), _Grid()
    files: defaultdict[str, _FileFacts] = defaultdict(_FileFacts)

    for bug in bugs:
        weight = weight_of[bug.severity]
        layer = _layer_of(bug, layer_map)
        by_severity.add(bug.severity, weight)
        by_layer.add(layer, weight)
        by_component.add(bug.component, weight)
        by_file.add(bug.file, weight)
        by_category.add(bug.category, weight)
        component_grid.add(bug.component, bug.category, weight)
        layer_grid.add(layer, bug.category, weight)
        category_files.add(bug.category, bug.file, weight)

        facts = files[bug.file]
        facts.bugs += 1
        facts.score += weight
        facts.severities[bug.severity] += 1
        facts.components[bug.component] += 1
        facts.layers[layer] += 1
        facts.categories.add(bug.category, weight)
        facts.bug_ids.append(bug.id)
        if bug.testing_gap:
            by_testing_gap.add(bug.testing_gap, weight)
            testing_gap_files.add(bug.testing_gap, bug.file, weight)
            facts.testing_gaps.add(bug.testing_gap, weight)

    total = len(bugs)
    hotspots = _hotspots(files, churn, coverage)
    categories = by_category.breakdowns(total)
    testing_gaps = by_testing_gap.breakdowns(total)
    trend, trend_window = _monthly_trend(bugs, MAX_TREND_MONTHS)
    return Report(
        total_bugs=total,
        skipped_records=skipped_records,
        total_score=sum(by_severity.scores.values()),
        weights=weights,
        by_severity=by_severity.breakdowns(total, order=list(Severity)),
        by_layer=by_layer.breakdowns(total),
        by_component=by_component.breakdowns(total),
        by_file=by_file.breakdowns(total),
        by_category=categories,
        by_testing_gap=testing_gaps,
        component_heatmap=component_grid.heatmap("component", "category"),
        layer_heatmap=layer_grid.heatmap("layer", "category"),
        hotspots=hotspots,
        actions=_actions(
            hotspots=hotspots,
            categories=categories,
            category_files=category_files,
            testing_gaps=testing_gaps,
            testing_gap_files=testing_gap_files,
            limit=max_actions,
        ),
        trend=trend,
        trend_window=trend_window,
        enrichment=Enrichment(
            churn_since_days=churn.since_days if churn else None,
            files_with_churn=sum(hotspot.churn is not None for hotspot in hotspots),
            files_with_coverage=sum(hotspot.coverage is not None for hotspot in hotspots),
            coverage_used=coverage is not None,
        ),
        logs=_log_summary(logs, findings) if logs else None,
        log_findings=findings,
        by_source=_by_source(bugs[:reported], findings, weight_of, total) if logs else [],
    )


def log_findings(
    logs: ParsedLogs, layer_map: LayerMap, bug_files: Collection[str]
) -> list[LogFinding]:
    """One finding per group of identical failures, numbered LOG-1, LOG-2, ... worst first.
    A code location names its file as a bug export does when one bug file is that file
    (`taskapi/x.py` from Lambda is `src/taskapi/x.py`), so the two meet in one hotspot."""
    same_file = _PathIndex[str]({file: file for file in bug_files})
    return [
        _finding(number, group, layer_map, same_file)
        for number, group in enumerate(group_failures(logs.failures), start=1)
    ]


def _finding(
    number: int, group: FailureGroup, layer_map: LayerMap, same_file: _PathIndex[str]
) -> LogFinding:
    first = group.first
    file = (same_file.get(first.file) or first.file) if first.file else NO_CODE_LOCATION
    return LogFinding(
        id=f"LOG-{number}",
        severity=group.severity,
        category=first.category,
        component=first.component,
        layer=layer_map.layer_of(file) if first.file else Layer.UNKNOWN,
        file=file,
        location=first.location,
        route=first.route,
        status=first.status,
        error_code=first.error_code,
        exception_type=first.exception_type,
        level=first.level,
        message=first.message,
        count=len(group.failures),
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        correlation_id=group.correlation_id,
    )


def _as_bug(finding: LogFinding) -> BugRecord:
    return BugRecord(
        id=finding.id,
        title=finding.title,
        severity=finding.severity,
        component=finding.component,
        file=finding.file,
        category=finding.category,
        layer=finding.layer,
    )


def _log_summary(logs: ParsedLogs, findings: Sequence[LogFinding]) -> LogSummary:
    return LogSummary(
        files=logs.files,
        lines=logs.lines,
        records=logs.records,
        ignored=logs.ignored,
        skipped=logs.skipped,
        failures=len(logs.failures),
        findings=len(findings),
    )


def _by_source(
    reported: Sequence[BugRecord],
    findings: Sequence[LogFinding],
    weight_of: Mapping[Severity, float],
    total: int,
) -> list[Breakdown]:
    by_source = _Tally()
    for bug in reported:
        by_source.add(BUG_REPORTS, weight_of[bug.severity])
    for finding in findings:
        by_source.add(LOG_FINDINGS, weight_of[finding.severity])
    return by_source.breakdowns(total, order=[BUG_REPORTS, LOG_FINDINGS])


def _layer_of(bug: BugRecord, layer_map: LayerMap) -> Layer:
    """The layer the reporter named; the file path's layer when they did not (or said unknown)."""
    if bug.layer is not None and bug.layer is not Layer.UNKNOWN:
        return bug.layer
    return layer_map.layer_of(bug.file)


def _hotspots(
    files: Mapping[str, _FileFacts],
    churn: ChurnSnapshot | None,
    coverage: CoverageSnapshot | None,
) -> list[Hotspot]:
    churn_index = _PathIndex[FileChurn](churn.files if churn else {})
    coverage_index = _PathIndex[FileCoverage](coverage.files if coverage else {})
    churn_of = {path: churn_index.get(path) for path in files}
    # Churn is relative to the most churned file with bugs, so the factor stays within [1, 2].
    max_churn = max((c.lines_changed for c in churn_of.values() if c is not None), default=0)

    hotspots = []
    for path, facts in files.items():
        file_churn = churn_of[path]
        file_coverage = coverage_index.get(path)
        risk = risk_score(
            facts.score,
            churn_factor(file_churn.lines_changed if file_churn else None, max_churn),
            coverage_factor(file_coverage.line_rate if file_coverage else None),
        )
        hotspots.append(
            Hotspot(
                file=path,
                component=_most_common(facts.components),
                layer=Layer(_most_common(facts.layers)),
                bugs=facts.bugs,
                severities={severity: facts.severities[severity] for severity in Severity},
                bug_score=facts.score,
                churn=file_churn,
                coverage=file_coverage,
                risk_score=risk,
                categories=[
                    CategoryScore(
                        name=name,
                        bugs=facts.categories.bugs[name],
                        score=facts.categories.scores[name],
                    )
                    for name in ranked(facts.categories.scores)
                ],
                testing_gaps=ranked(facts.testing_gaps.scores),
                bug_ids=sorted(facts.bug_ids),
            )
        )
    return sorted(hotspots, key=lambda hotspot: (-hotspot.risk_score, hotspot.file))


def _actions(
    *,
    hotspots: Sequence[Hotspot],
    categories: Sequence[Breakdown],
    category_files: _Grid,
    testing_gaps: Sequence[Breakdown],
    testing_gap_files: _Grid,
    limit: int,
) -> list[Action]:
    """Worst hotspot, worst category, worst testing gap, then the second of each, and so on:
    a short list that always covers where, what kind and which missing test."""
    proposals: list[list[tuple[ActionKind, str, str, str]]] = [
        # "Harden" needs a file: log failures without a code location have none.
        [_hotspot_action(h) for h in hotspots if h.file != NO_CODE_LOCATION][:limit],
        [_category_action(category, category_files) for category in categories[:limit]],
        [_testing_gap_action(gap, testing_gap_files) for gap in testing_gaps[:limit]],
    ]
    interleaved = [
        queue[rank] for rank in range(limit) for queue in proposals if rank < len(queue)
    ][:limit]
    return [
        Action(priority=priority, kind=kind, target=target, summary=summary, reason=reason)
        for priority, (kind, target, summary, reason) in enumerate(interleaved, start=1)
    ]


def _hotspot_action(hotspot: Hotspot) -> tuple[ActionKind, str, str, str]:
    severities = ", ".join(
        f"{count} {severity}" for severity, count in hotspot.severities.items() if count
    )
    facts = [
        f"{plural(hotspot.bugs, 'bug')} ({severities}, score {format_score(hotspot.bug_score)})"
        f" in {hotspot.component}, {hotspot.layer} layer",
        "mostly " + " and ".join(category.name for category in hotspot.categories[:2]),
    ]
    if hotspot.churn is not None:
        facts.append(
            f"{hotspot.churn.lines_changed} lines changed in "
            f"{plural(hotspot.churn.commits, 'commit')}"
        )
    if hotspot.coverage is not None:
        facts.append(f"{hotspot.coverage.line_rate:.0%} line coverage")
    if hotspot.testing_gaps:
        facts.append("testing gaps: " + "; ".join(hotspot.testing_gaps[:2]))
    return ActionKind.HOTSPOT, hotspot.file, f"Harden {hotspot.file}", "; ".join(facts)


def _worst_files(grid: _Grid, name: str, count: int) -> list[str]:
    scores = {
        file: score
        for (row, file), score in grid.cell_scores.items()
        if row == name and file != NO_CODE_LOCATION
    }
    return ranked(scores)[:count]


def _category_action(category: Breakdown, files: _Grid) -> tuple[ActionKind, str, str, str]:
    summary = CATEGORY_PLAYBOOK.get(
        category.name,
        f"Review the {category.name} bugs together and add a regression test per root cause",
    )
    involved = sum(1 for name, _ in files.cell_scores if name == category.name)
    worst = ", ".join(_worst_files(files, category.name, 2))
    reason = (
        f"{plural(category.bugs, category.name + ' bug')} (score {format_score(category.score)}) "
        f"in {plural(involved, 'file')}, worst: {worst}"
    )
    return ActionKind.CATEGORY, category.name, summary, reason


def _testing_gap_action(gap: Breakdown, files: _Grid) -> tuple[ActionKind, str, str, str]:
    worst = ", ".join(_worst_files(files, gap.name, 2))
    reason = f"named in {plural(gap.bugs, 'bug')} (score {format_score(gap.score)}), in {worst}"
    return ActionKind.TESTING_GAP, gap.name, f"Close the testing gap: {gap.name}", reason


def _month_number(day: date) -> int:
    """Months since year 0: consecutive months are consecutive numbers."""
    return day.year * 12 + day.month - 1


def _month_name(number: int) -> str:
    year, month = divmod(number, 12)
    return f"{year:04d}-{month + 1:02d}"


def _monthly_trend(
    bugs: Sequence[BugRecord], max_months: int
) -> tuple[list[TrendPoint], TrendWindow | None]:
    opened: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    # The backlog only counts bugs whose opening is known, so it can never go negative.
    backlog_change: Counter[int] = Counter()
    for bug in bugs:
        if bug.opened_at is not None:
            opened[_month_number(bug.opened_at)] += 1
            backlog_change[_month_number(bug.opened_at)] += 1
            if bug.closed_at is not None:
                backlog_change[_month_number(bug.closed_at)] -= 1
        if bug.closed_at is not None:
            closed[_month_number(bug.closed_at)] += 1
    dated = sorted(opened.keys() | closed.keys())
    if not dated:
        return [], None
    first, last = _busiest_window(dated, opened + closed, max_months)
    # Bugs opened (and closed) before the window still count in its backlog.
    open_bugs = sum(change for month, change in backlog_change.items() if month < first)
    trend = []
    for month in range(first, last + 1):
        open_bugs += backlog_change[month]
        trend.append(
            TrendPoint(
                month=_month_name(month),
                opened=opened[month],
                closed=closed[month],
                open_at_month_end=open_bugs,
            )
        )
    window = TrendWindow(
        first_month=_month_name(dated[0]),
        last_month=_month_name(dated[-1]),
        months=dated[-1] - dated[0] + 1,
        opened_outside=sum(n for month, n in opened.items() if not first <= month <= last),
        closed_outside=sum(n for month, n in closed.items() if not first <= month <= last),
    )
    return trend, window


def _busiest_window(months: Sequence[int], dates: Counter[int], size: int) -> tuple[int, int]:
    """First and last month of the trend: every month from the first date to the last when
    they fit in `size`, else the `size` consecutive months holding the most dates; on a tie,
    the one centred nearest the median date (then the later one), so that a lone sentinel date
    at either end never wins. `months` are the sorted months with a date."""
    if months[-1] - months[0] < size:
        return months[0], months[-1]
    # A best window can always start at a month with a date (moving its start forward to the
    # next such month loses nothing), or end at the last one.
    before = [0, *accumulate(dates[month] for month in months)]
    starts = {min(month, months[-1] - size + 1) for month in months}
    counts = {
        start: before[bisect_right(months, start + size - 1)] - before[bisect_left(months, start)]
        for start in starts
    }
    median = _median_month(months, dates, before[-1])
    most = max(counts.values())
    best = min(
        (start for start, count in counts.items() if count == most),
        key=lambda start: (abs(2 * start + size - 1 - 2 * median), -start),
    )
    return best, best + size - 1


def _median_month(months: Sequence[int], dates: Counter[int], total: int) -> int:
    """The (lower) median month of all dates."""
    seen = 0
    for month in months:
        seen += dates[month]
        if 2 * seen >= total:
            return month
    return months[-1]
