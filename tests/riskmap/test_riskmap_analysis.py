"""Exact figures on small hand-made datasets: totals, shares, cells, rankings, risk, actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from taskrisk.analysis import CATEGORY_PLAYBOOK, MAX_TREND_MONTHS, analyse
from taskrisk.layers import LayerMap, LayerRule
from taskrisk.model import (
    BugRecord,
    ChurnSnapshot,
    CoverageSnapshot,
    FileChurn,
    FileCoverage,
    Layer,
    Severity,
)
from taskrisk.report import ActionKind, Breakdown, TrendPoint, TrendWindow
from taskrisk.scoring import SeverityWeights, parse_weights

BugFactory = Callable[..., BugRecord]  # the make_bug fixture in conftest.py

API = "src/x/entrypoints/api.py"
STORE = "src/x/adapters/store.py"
RULES = "src/x/domain/rules.py"


@pytest.fixture
def bugs(make_bug: BugFactory) -> list[BugRecord]:
    """Six bugs, total score 10 + 5 + 2 + 1 + 5 + 2 = 25 with the default weights."""
    return [
        make_bug(
            severity="critical",
            component="api",
            file=API,
            category="validation",
            testing_gap="no fuzz test",
        ),
        make_bug(severity="high", component="api", file=API, category="error_handling"),
        make_bug(
            severity="medium",
            component="store",
            file=STORE,
            category="validation",
            testing_gap="no fuzz test",
        ),
        make_bug(severity="low", component="store", file=STORE, category="validation"),
        make_bug(
            severity="high",
            component="store",
            file=STORE,
            category="concurrency",
            testing_gap="no concurrency test",
        ),
        make_bug(severity="medium", component="domain", file=RULES, category="validation"),
    ]


def test_totals_and_shares_by_severity(bugs: list[BugRecord]) -> None:
    report = analyse(bugs)

    assert (report.total_bugs, report.total_score) == (6, 25)
    assert report.by_severity == [
        Breakdown(name="critical", bugs=1, share=1 / 6, score=10),
        Breakdown(name="high", bugs=2, share=2 / 6, score=10),
        Breakdown(name="medium", bugs=2, share=2 / 6, score=4),
        Breakdown(name="low", bugs=1, share=1 / 6, score=1),
    ]


def test_breakdowns_by_component_file_layer_and_category(bugs: list[BugRecord]) -> None:
    report = analyse(bugs)

    def summary(items: list[Breakdown]) -> list[tuple[str, int, float]]:
        return [(item.name, item.bugs, item.score) for item in items]

    assert summary(report.by_component) == [("api", 2, 15), ("store", 3, 8), ("domain", 1, 2)]
    assert summary(report.by_file) == [(API, 2, 15), (STORE, 3, 8), (RULES, 1, 2)]
    assert summary(report.by_layer) == [("entrypoint", 2, 15), ("adapter", 3, 8), ("domain", 1, 2)]
    # concurrency and error_handling tie at 5: the name decides.
    assert summary(report.by_category) == [
        ("validation", 4, 15),
        ("concurrency", 1, 5),
        ("error_handling", 1, 5),
    ]
    assert summary(report.by_testing_gap) == [
        ("no fuzz test", 2, 12),
        ("no concurrency test", 1, 5),
    ]
    assert report.by_component[1].share == 0.5


def test_heat_map_cells_are_severity_weighted_scores(bugs: list[BugRecord]) -> None:
    heatmap = analyse(bugs).component_heatmap

    assert (heatmap.row_axis, heatmap.column_axis) == ("component", "category")
    assert heatmap.rows == ["api", "store", "domain"]
    assert heatmap.columns == ["validation", "concurrency", "error_handling"]
    assert heatmap.scores == [[10, 0, 5], [3, 5, 0], [2, 0, 0]]
    assert heatmap.counts == [[1, 0, 1], [2, 1, 0], [1, 0, 0]]
    assert heatmap.max_score == 10


def test_layer_heat_map_uses_the_layer_rules(bugs: list[BugRecord]) -> None:
    heatmap = analyse(bugs).layer_heatmap
    assert heatmap.rows == ["entrypoint", "adapter", "domain"]
    assert heatmap.scores == [[10, 0, 5], [3, 5, 0], [2, 0, 0]]


def test_custom_weights_change_every_score(bugs: list[BugRecord]) -> None:
    weights = SeverityWeights().with_overrides(parse_weights("critical=8, high=4"))
    report = analyse(bugs, weights=weights)

    assert report.total_score == 8 + 4 + 2 + 1 + 4 + 2
    assert report.component_heatmap.scores[0] == [8, 0, 4]
    assert report.weights.describe() == "critical=8, high=4, medium=2, low=1"


def test_hotspots_carry_categories_gaps_and_ids(bugs: list[BugRecord]) -> None:
    hotspots = analyse(bugs).hotspots

    assert [(h.file, h.bug_score, h.risk_score) for h in hotspots] == [
        (API, 15, 15),
        (STORE, 8, 8),
        (RULES, 2, 2),
    ]
    store = hotspots[1]
    assert (store.component, store.layer, store.bugs) == ("store", Layer.ADAPTER, 3)
    assert store.severities == {
        Severity.CRITICAL: 0,
        Severity.HIGH: 1,
        Severity.MEDIUM: 1,
        Severity.LOW: 1,
    }
    # concurrency (one high bug, 5) outweighs validation (medium + low, 3).
    assert [(c.name, c.bugs, c.score) for c in store.categories] == [
        ("concurrency", 1, 5),
        ("validation", 2, 3),
    ]
    assert store.testing_gaps == ["no concurrency test", "no fuzz test"]
    assert store.bug_ids == ["B-3", "B-4", "B-5"]


def test_ties_are_broken_by_name_whatever_the_input_order(make_bug: BugFactory) -> None:
    tied = [
        make_bug(file="b.py", component="beta", category="zeta", severity="high"),
        make_bug(file="a.py", component="alpha", category="eta", severity="high"),
        make_bug(file="c.py", component="gamma", category="theta", severity="high"),
    ]
    for order in (tied, tied[::-1]):
        report = analyse(order)
        assert [h.file for h in report.hotspots] == ["a.py", "b.py", "c.py"]
        assert [c.name for c in report.by_component] == ["alpha", "beta", "gamma"]
        assert report.component_heatmap.columns == ["eta", "theta", "zeta"]


def test_a_component_with_two_equally_common_layers_takes_the_first_by_name(
    make_bug: BugFactory,
) -> None:
    report = analyse(
        [
            make_bug(file="shared.py", layer="service", component="b"),
            make_bug(file="shared.py", layer="domain", component="a"),
        ]
    )
    hotspot = report.hotspots[0]
    assert (hotspot.layer, hotspot.component) == (Layer.DOMAIN, "a")


def test_the_reported_layer_wins_over_the_path_unless_unknown(make_bug: BugFactory) -> None:
    report = analyse(
        [
            make_bug(file="src/x/domain/rules.py", layer="integration"),
            make_bug(file="src/x/domain/model.py", layer="unknown"),
        ]
    )
    assert {item.name for item in report.by_layer} == {"adapter", "domain"}


def test_a_custom_layer_map_is_used(make_bug: BugFactory) -> None:
    layer_map = LayerMap.with_overrides([LayerRule("*/jobs/*", Layer.SERVICE)])
    report = analyse([make_bug(file="src/jobs/nightly.py")], layer_map=layer_map)
    assert report.by_layer[0].name == "service"


def test_churn_and_coverage_raise_the_risk_score_by_the_documented_formula(
    bugs: list[BugRecord],
) -> None:
    churn = ChurnSnapshot(
        since_days=30,
        files={
            API: FileChurn(commits=2, lines_added=6, lines_deleted=4),  # 10 lines
            STORE: FileChurn(commits=5, lines_added=30, lines_deleted=10),  # 40 lines: the max
            "src/x/unrelated.py": FileChurn(commits=9, lines_added=900, lines_deleted=0),
        },
    )
    # Coverage paths are relative to src/, as coverage.py writes them.
    coverage = CoverageSnapshot(
        files={"x/entrypoints/api.py": FileCoverage(lines_valid=10, lines_covered=5)}
    )

    report = analyse(bugs, churn=churn, coverage=coverage)

    risks = {h.file: h.risk_score for h in report.hotspots}
    assert risks[API] == 15 * (1 + 10 / 40) * (1 + 0.5)  # 28.125
    assert risks[STORE] == 8 * (1 + 40 / 40) * 1  # no coverage data: factor 1
    assert risks[RULES] == 2  # neither churn nor coverage
    assert [h.file for h in report.hotspots] == [API, STORE, RULES]
    assert report.enrichment.churn_since_days == 30
    assert (report.enrichment.files_with_churn, report.enrichment.files_with_coverage) == (2, 1)


def test_ambiguous_path_suffixes_match_nothing(make_bug: BugFactory) -> None:
    coverage = CoverageSnapshot(
        files={
            "a/api.py": FileCoverage(lines_valid=10, lines_covered=0),
            "b/api.py": FileCoverage(lines_valid=10, lines_covered=10),
        }
    )
    report = analyse([make_bug(file="api.py")], coverage=coverage)
    assert report.hotspots[0].coverage is None


def test_actions_interleave_hotspots_categories_and_testing_gaps(bugs: list[BugRecord]) -> None:
    actions = analyse(bugs).actions

    assert [(a.priority, a.kind, a.target) for a in actions] == [
        (1, ActionKind.HOTSPOT, API),
        (2, ActionKind.CATEGORY, "validation"),
        (3, ActionKind.TESTING_GAP, "no fuzz test"),
        (4, ActionKind.HOTSPOT, STORE),
        (5, ActionKind.CATEGORY, "concurrency"),
        (6, ActionKind.TESTING_GAP, "no concurrency test"),
    ]
    assert actions[0].summary == f"Harden {API}"
    assert actions[0].reason == (
        "2 bugs (1 critical, 1 high, score 15) in api, entrypoint layer; "
        "mostly validation and error_handling; testing gaps: no fuzz test"
    )
    assert actions[1].summary == CATEGORY_PLAYBOOK["validation"]
    assert actions[1].reason == f"4 validation bugs (score 15) in 3 files, worst: {API}, {STORE}"
    assert actions[2].reason == f"named in 2 bugs (score 12), in {API}, {STORE}"


def test_the_action_list_is_capped(bugs: list[BugRecord]) -> None:
    assert [a.priority for a in analyse(bugs, max_actions=2).actions] == [1, 2]


def test_an_unknown_category_gets_a_generic_action(make_bug: BugFactory) -> None:
    action = analyse([make_bug(category="localisation")]).actions[1]
    assert action.summary == (
        "Review the localisation bugs together and add a regression test per root cause"
    )


def test_monthly_trend_of_opened_closed_and_open_bugs(make_bug: BugFactory) -> None:
    bugs = [
        make_bug(opened_at=date(2025, 1, 15), closed_at=date(2025, 3, 2)),
        make_bug(opened_at=date(2025, 1, 20)),
        make_bug(opened_at=date(2025, 3, 10), closed_at=date(2025, 3, 11)),
        make_bug(),  # no dates: not in the trend
        make_bug(closed_at=date(2025, 2, 1)),  # closed, opening unknown: not in the backlog
    ]

    assert analyse(bugs).trend == [
        TrendPoint(month="2025-01", opened=2, closed=0, open_at_month_end=2),
        TrendPoint(month="2025-02", opened=0, closed=1, open_at_month_end=2),
        TrendPoint(month="2025-03", opened=1, closed=2, open_at_month_end=1),
    ]


def test_the_trend_fills_empty_months_across_a_year_end(make_bug: BugFactory) -> None:
    trend = analyse(
        [make_bug(opened_at=date(2024, 11, 30)), make_bug(opened_at=date(2025, 2, 1))]
    ).trend
    assert [point.month for point in trend] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert [point.open_at_month_end for point in trend] == [1, 1, 1, 2]


def test_sentinel_dates_leave_the_trend_bounded_and_on_the_real_months(
    make_bug: BugFactory,
) -> None:
    bugs = [
        make_bug(opened_at=date(1, 1, 1)),  # .NET's and Go's "no date"
        make_bug(opened_at=date(2025, 3, 3), closed_at=date(9999, 12, 31)),  # "never closed"
        *(make_bug(opened_at=date(2025, month, 1)) for month in (1, 2, 3)),
    ]

    report = analyse(bugs)

    assert len(report.trend) == MAX_TREND_MONTHS
    assert report.trend_window == TrendWindow(
        first_month="0001-01",
        last_month="9999-12",
        months=119_988,
        opened_outside=1,
        closed_outside=1,
    )
    # The window holds the four 2025 openings; the latest such window ends in 2034-12.
    by_month = {point.month: point for point in report.trend}
    assert (report.trend[0].month, report.trend[-1].month) == ("2025-01", "2034-12")
    assert sum(point.opened for point in report.trend) == 4
    # The bug opened in year 1 was never closed: every month of the window counts it.
    assert by_month["2025-01"].open_at_month_end == 2
    assert report.trend[-1].open_at_month_end == 5


def test_the_last_month_of_the_calendar_ends_the_trend(make_bug: BugFactory) -> None:
    trend = analyse([make_bug(opened_at=date(9999, 11, 30), closed_at=date(9999, 12, 31))]).trend
    assert [point.month for point in trend] == ["9999-11", "9999-12"]


@pytest.mark.parametrize(
    ("months", "cut"), [(MAX_TREND_MONTHS, False), (MAX_TREND_MONTHS + 1, True)]
)
def test_the_trend_shows_every_month_up_to_the_cap(
    make_bug: BugFactory, months: int, cut: bool
) -> None:
    last = date(2000 + (months - 1) // 12, (months - 1) % 12 + 1, 1)
    report = analyse([make_bug(opened_at=date(2000, 1, 1)), make_bug(opened_at=last)])

    assert len(report.trend) == min(months, MAX_TREND_MONTHS)
    assert report.trend_window is not None
    assert report.trend_window.cut is cut
    assert report.trend[0].month == "2000-01"


def test_on_a_tie_the_window_nearest_the_median_date_wins(make_bug: BugFactory) -> None:
    # One date in each candidate window: neither sentinel end may take the trend.
    bugs = [
        make_bug(opened_at=date(1, 1, 1)),
        make_bug(opened_at=date(2025, 3, 4), closed_at=date(9999, 12, 31)),
    ]
    trend = analyse(bugs).trend
    assert (trend[0].month, trend[-1].month) == ("2025-03", "2035-02")


def test_the_busiest_window_wins_over_the_latest(make_bug: BugFactory) -> None:
    busy = [make_bug(opened_at=date(2010, 6, day)) for day in (1, 2, 3)]
    report = analyse([*busy, make_bug(opened_at=date(2030, 1, 1))])

    assert report.trend[0].month == "2010-06"
    assert report.trend_window is not None
    assert (report.trend_window.opened_outside, report.trend_window.closed_outside) == (1, 0)


def test_no_bugs_gives_an_empty_but_complete_report() -> None:
    report = analyse([], skipped_records=3)

    assert (report.total_bugs, report.total_score, report.skipped_records) == (0, 0, 3)
    assert [(item.name, item.bugs, item.share) for item in report.by_severity] == [
        ("critical", 0, 0.0),
        ("high", 0, 0.0),
        ("medium", 0, 0.0),
        ("low", 0, 0.0),
    ]
    assert report.hotspots == report.actions == report.trend == []
    assert report.trend_window is None
    assert report.component_heatmap.rows == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("critical", "expected SEVERITY=NUMBER"),
        ("urgent=3", "expected SEVERITY=NUMBER"),
        ("high=lots", "'lots' is not a number"),
    ],
)
def test_bad_weight_specs_are_rejected(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weights(spec)


def test_weights_must_not_increase_from_critical_to_low() -> None:
    with pytest.raises(ValueError, match=r"weight of medium \(6\) must not exceed weight of high"):
        SeverityWeights().with_overrides({Severity.MEDIUM: 6})
