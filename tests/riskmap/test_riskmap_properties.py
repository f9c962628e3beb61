"""Invariants of the analysis over generated bug lists (Hypothesis, project settings profile)."""

from __future__ import annotations

import math
from datetime import date

from hypothesis import assume, given
from hypothesis import strategies as st

from taskrisk.analysis import MAX_TREND_MONTHS, analyse
from taskrisk.model import BugRecord, Severity
from taskrisk.report import Breakdown, Report
from taskrisk.scoring import SeverityWeights

SEVERITIES = list(Severity)  # most severe first

bug_records = st.builds(
    BugRecord,
    id=st.text("abc123-", min_size=1, max_size=6),
    title=st.just("generated bug"),
    severity=st.sampled_from(SEVERITIES),
    component=st.sampled_from(["api", "store", "events", "mail"]),
    file=st.sampled_from(
        [
            "src/app/entrypoints/api.py",
            "src/app/domain/rules.py",
            "src/app/adapters/dynamodb.py",
            "src/app/service/tasks.py",
            "template.yaml",
            "docs/notes.md",
        ]
    ),
    category=st.sampled_from(["validation", "concurrency", "performance", "error_handling"]),
    testing_gap=st.none() | st.sampled_from(["no fuzz test", "no failure injection"]),
    opened_at=st.none() | st.dates(date(2024, 1, 1), date(2025, 12, 31)) | st.dates(),
)
bug_lists = st.lists(bug_records, max_size=30)


@st.composite
def monotone_weights(draw: st.DrawFn) -> SeverityWeights:
    """Any valid weights: non-negative and never increasing from critical to low."""
    values = sorted(
        (draw(st.integers(min_value=0, max_value=20)) for _ in SEVERITIES), reverse=True
    )
    return SeverityWeights(**dict(zip([s.value for s in SEVERITIES], values, strict=True)))


def assert_conserved(items: list[Breakdown], report: Report) -> None:
    assert sum(item.bugs for item in items) == report.total_bugs
    assert math.isclose(sum(item.score for item in items), report.total_score)
    if report.total_bugs:
        assert math.isclose(sum(item.share for item in items), 1.0)


def assert_ranked(items: list[Breakdown]) -> None:
    keys = [(-item.score, item.name) for item in items]
    assert keys == sorted(keys)


@given(bug_lists, monotone_weights())
def test_every_breakdown_accounts_for_every_bug(
    bugs: list[BugRecord], weights: SeverityWeights
) -> None:
    report = analyse(bugs, weights=weights)

    assert report.total_bugs == len(bugs)
    for breakdown in (
        report.by_severity,
        report.by_layer,
        report.by_component,
        report.by_file,
        report.by_category,
    ):
        assert_conserved(breakdown, report)
    for heatmap in (report.component_heatmap, report.layer_heatmap):
        assert sum(map(sum, heatmap.counts)) == len(bugs)
        assert math.isclose(sum(map(sum, heatmap.scores)), report.total_score)
    assert sum(hotspot.bugs for hotspot in report.hotspots) == len(bugs)
    assert len(report.trend) <= MAX_TREND_MONTHS
    outside = report.trend_window.opened_outside if report.trend_window else 0
    assert sum(point.opened for point in report.trend) + outside == sum(
        bug.opened_at is not None for bug in bugs
    )


@given(bug_lists)
def test_every_ranking_is_score_descending_then_name(bugs: list[BugRecord]) -> None:
    report = analyse(bugs)
    for breakdown in (report.by_layer, report.by_component, report.by_file, report.by_category):
        assert_ranked(breakdown)
    hotspot_keys = [(-hotspot.risk_score, hotspot.file) for hotspot in report.hotspots]
    assert hotspot_keys == sorted(hotspot_keys)


@given(bug_lists.flatmap(lambda bugs: st.tuples(st.just(bugs), st.permutations(bugs))))
def test_the_report_does_not_depend_on_input_order(
    original_and_shuffled: tuple[list[BugRecord], list[BugRecord]],
) -> None:
    original, shuffled = original_and_shuffled
    assert analyse(original) == analyse(shuffled)


@given(
    st.lists(bug_records, min_size=1, max_size=30),
    st.data(),
    monotone_weights(),
)
def test_raising_a_severity_never_lowers_a_score(
    bugs: list[BugRecord], data: st.DataObject, weights: SeverityWeights
) -> None:
    index = data.draw(st.integers(0, len(bugs) - 1), label="bug")
    bug = bugs[index]
    current = SEVERITIES.index(bug.severity)
    higher = data.draw(st.sampled_from(SEVERITIES[: current + 1]), label="raised to")
    raised = [*bugs[:index], bug.model_copy(update={"severity": higher}), *bugs[index + 1 :]]

    before, after = analyse(bugs, weights=weights), analyse(raised, weights=weights)

    assert after.total_score >= before.total_score
    for field in ("by_component", "by_file", "by_category", "by_layer"):
        scores_before = {item.name: item.score for item in getattr(before, field)}
        for item in getattr(after, field):
            assert item.score >= scores_before[item.name]
    risk_before = {hotspot.file: hotspot.risk_score for hotspot in before.hotspots}
    for hotspot in after.hotspots:
        assert hotspot.risk_score >= risk_before[hotspot.file]
    row = before.component_heatmap.rows.index(bug.component)
    column = before.component_heatmap.columns.index(bug.category)
    row_after = after.component_heatmap.rows.index(bug.component)
    column_after = after.component_heatmap.columns.index(bug.category)
    assert (
        after.component_heatmap.scores[row_after][column_after]
        >= before.component_heatmap.scores[row][column]
    )


@given(st.lists(bug_records, min_size=1, max_size=30), st.data())
def test_with_default_weights_a_higher_severity_strictly_raises_the_total(
    bugs: list[BugRecord], data: st.DataObject
) -> None:
    candidates = [i for i, bug in enumerate(bugs) if bug.severity is not Severity.CRITICAL]
    assume(candidates)
    index = data.draw(st.sampled_from(candidates), label="bug")
    current = SEVERITIES.index(bugs[index].severity)
    higher = data.draw(st.sampled_from(SEVERITIES[:current]), label="raised to")
    raised = [
        *bugs[:index],
        bugs[index].model_copy(update={"severity": higher}),
        *bugs[index + 1 :],
    ]

    assert analyse(raised).total_score > analyse(bugs).total_score
