"""The HTML page's charts: inline SVG heat maps and monthly trend, read back as XML.

Each <svg> of the page is parsed on its own with ElementTree: if bug data could end an element
or open a new one, the parse or the counts below would break.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest

from taskrisk.analysis import analyse
from taskrisk.model import BugRecord
from taskrisk.render import OutputFormat, render
from taskrisk.render.layout import cut_heatmap, heat_colours
from taskrisk.report import Report
from taskrisk.sources import load_bugs

BugFactory = Callable[..., BugRecord]
HOSTILE = "</svg><script>alert(1)</script>\"'&amp; <b>x</b>"


@pytest.fixture
def example_report(examples_bugs: Path) -> Report:
    return analyse(load_bugs(str(examples_bugs)).bugs)


def page_of(report: Report) -> str:
    page = render(report, OutputFormat.HTML)
    assert isinstance(page, str)
    return page


def charts(page: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, re.S)]


def with_class(root: ElementTree.Element, tag: str, name: str) -> list[ElementTree.Element]:
    return [e for e in root.iter(tag) if name in (e.get("class") or "").split()]


def defined(root: ElementTree.Element, reference: str) -> ElementTree.Element:
    """The element a `url(#id)` fill points to, which must be in the same chart."""
    match = re.fullmatch(r"url\(#([\w-]+)\)", reference)
    assert match, reference
    found = [e for e in root.iter() if e.get("id") == match.group(1)]
    assert len(found) == 1
    return found[0]


def test_the_page_has_both_heat_maps_and_the_trend_as_svg(example_report: Report) -> None:
    page = page_of(example_report)
    found = charts(page)

    assert [chart.findtext("title") for chart in found] == [
        "Heat map: component by category",
        "Heat map: layer by category",
        "Monthly trend",
    ]
    ids = [chart.get("id") for chart in found]
    assert len(set(ids)) == 3  # ids of patterns and gradients cannot collide across charts
    assert "http" not in page  # no xmlns or any other address: the page stays self-contained


def test_a_heat_map_has_one_rect_per_cell_and_marks_empty_cells(example_report: Report) -> None:
    heatmap = cut_heatmap(example_report.component_heatmap, 10).heatmap
    chart = charts(page_of(example_report))[0]

    cells = with_class(chart, "rect", "cell")
    assert len(cells) == len(heatmap.rows) * len(heatmap.columns)
    counts = [count for row in heatmap.counts for count in row]
    scores = [score for row in heatmap.scores for score in row]
    empty = [cell for cell in cells if "empty" in cell.get("class", "")]
    assert len(empty) == counts.count(0) > 0
    # Row by row, column by column: empty exactly where the heat map has no bug.
    assert ["empty" in cell.get("class", "") for cell in cells] == [c == 0 for c in counts]

    empty_fills = {cell.get("fill") for cell in empty}
    assert len(empty_fills) == 1
    pattern = defined(chart, empty_fills.pop() or "")
    assert pattern.tag == "pattern"
    assert pattern.find("line") is not None  # hatched
    highest = example_report.component_heatmap.max_score
    filled = [(cell, score) for cell, score, n in zip(cells, scores, counts, strict=True) if n]
    for cell, score in filled:
        assert cell.get("fill") == heat_colours(score / highest)[0]
    lowest_colour = heat_colours(0.0)[0]
    assert lowest_colour not in {cell.get("fill") for cell in empty}
    assert [cell.findtext("title") for cell in cells][:2] == [
        "component dependency-graph, category data_integrity: score 10 (2 bugs)",
        "component dependency-graph, category error_handling: no bugs",
    ]


def test_a_heat_map_has_a_legend_with_the_scale_and_the_empty_cell(
    example_report: Report,
) -> None:
    chart = charts(page_of(example_report))[0]
    (legend,) = with_class(chart, "g", "legend")

    texts = [text.text for text in legend.iter("text")]
    assert texts == ["score", "0", "15", "no bugs"]  # 15: the hottest cell
    (scale,) = with_class(legend, "rect", "legend-scale")
    gradient = defined(chart, scale.get("fill") or "")
    assert [stop.get("stop-color") for stop in gradient.iter("stop")][::4] == [
        heat_colours(0.0)[0],
        heat_colours(1.0)[0],
    ]
    (swatch,) = with_class(legend, "rect", "legend-empty")
    assert swatch.get("fill") == with_class(chart, "rect", "empty")[0].get("fill")


def test_the_trend_chart_has_a_bar_per_month_with_bugs_and_the_backlog_line(
    example_report: Report,
) -> None:
    chart = charts(page_of(example_report))[2]
    trend = example_report.trend

    months = with_class(chart, "rect", "month")
    assert [month.findtext("title") for month in months] == [
        f"{p.month}: {p.opened} opened, {p.closed} closed, {p.open_at_month_end} open at month end"
        for p in trend
    ]
    assert len(with_class(chart, "rect", "opened")) == sum(p.opened > 0 for p in trend)
    assert len(with_class(chart, "rect", "closed")) == sum(p.closed > 0 for p in trend)
    (line,) = with_class(chart, "polyline", "open-at-month-end")
    assert len((line.get("points") or "").split()) == len(trend)
    heights = [float(rect.get("height") or 0) for rect in with_class(chart, "rect", "opened")]
    most = max(p.opened for p in trend)
    tallest = [p.opened for p in trend if p.opened].index(most)
    assert heights.index(max(heights)) == tallest
    (legend,) = with_class(chart, "g", "legend")
    assert [text.text for text in legend.iter("text")] == [
        "opened",
        "closed",
        "open at month end",
    ]


def test_hostile_names_stay_text_in_the_charts(make_bug: BugFactory) -> None:
    bugs = [
        make_bug(component=HOSTILE, opened_at="2025-01-02"),
        make_bug(component="plain", category="other kind", opened_at="2025-02-03"),
    ]
    page = page_of(analyse(bugs))

    assert "<script" not in page
    assert "<b>" not in page
    heat_map = charts(page)[0]  # parses: nothing was closed or opened by the data
    labels = [label.findtext("title") for label in with_class(heat_map, "text", "row-label")]
    assert HOSTILE in labels
    shown = [label.text or "" for label in with_class(heat_map, "text", "row-label")]
    assert any(text.startswith("</svg><script>") and text.endswith("…") for text in shown)
    tooltips = [cell.findtext("title") for cell in with_class(heat_map, "rect", "cell")]
    assert f"component {HOSTILE}, category validation: score 2 (1 bug)" in tooltips


def test_the_html_table_marks_empty_heat_map_cells_too(example_report: Report) -> None:
    page = page_of(example_report)
    heatmap = cut_heatmap(example_report.component_heatmap, 10).heatmap
    layers = cut_heatmap(example_report.layer_heatmap, 10).heatmap
    empty = sum(row.count(0) for grid in (heatmap, layers) for row in grid.counts)

    assert page.count('<td class="heat empty" title="no bugs"></td>') == empty
    assert f"background:{heat_colours(0.0)[0]}" not in page


def test_html_with_charts_needs_neither_matplotlib_nor_rich(
    examples_bugs: Path, tmp_path: Path
) -> None:
    # A fresh interpreter where importing either fails, as on an install without the extras.
    out = tmp_path / "risk.html"
    script = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['rich'] = None\n"
        "from taskrisk.cli import main\n"
        f"sys.exit(main([{str(examples_bugs)!r}, '--format', 'html', '--out', {str(out)!r}]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0, completed.stderr
    assert out.read_text(encoding="utf-8").count("<svg ") == 3
