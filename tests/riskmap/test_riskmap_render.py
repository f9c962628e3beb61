"""Every output format, rendered from the example data, checked for content.

The Markdown report is compared exactly with tests/riskmap/golden/report.md, and the report of
the same bugs with the service's logs (examples/logs/app.log, from the fault run) with
tests/riskmap/golden/report-with-logs.md. After an intended change, regenerate them and review
the diff:

    TASKAPI_UPDATE_GOLDEN=1 .venv/bin/pytest tests/riskmap -k golden
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from matplotlib.image import imread

from taskrisk.analysis import analyse
from taskrisk.model import BugRecord, ChurnSnapshot, FileChurn
from taskrisk.render import OutputFormat, RenderOptions, render
from taskrisk.render.layout import EMPTY_CELL_COLOUR, heat_colours
from taskrisk.report import Report
from taskrisk.sources import load_bugs, load_logs, read_coverage

GOLDEN = Path(__file__).parent / "golden" / "report.md"
GOLDEN_WITH_LOGS = Path(__file__).parent / "golden" / "report-with-logs.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Churn as `git log --numstat` would report it over 90 days (fixed, so the golden file is).
CHURN = ChurnSnapshot(
    since_days=90,
    files={
        "src/taskapi/service/tasks.py": FileChurn(commits=12, lines_added=340, lines_deleted=120),
        "src/taskapi/adapters/dynamodb.py": FileChurn(commits=8, lines_added=210, lines_deleted=95),
        "src/taskapi/domain/rules.py": FileChurn(commits=5, lines_added=80, lines_deleted=60),
        "src/taskapi/entrypoints/api.py": FileChurn(commits=15, lines_added=400, lines_deleted=180),
        "template.yaml": FileChurn(commits=3, lines_added=30, lines_deleted=10),
    },
)


@pytest.fixture
def report(examples_bugs: Path, coverage_fixture: Path) -> Report:
    bugs = load_bugs(str(examples_bugs)).bugs
    return analyse(bugs, churn=CHURN, coverage=read_coverage(coverage_fixture))


def as_text(content: str | bytes) -> str:
    assert isinstance(content, str)
    return content


def test_markdown_matches_the_golden_report(report: Report) -> None:
    markdown = as_text(render(report, OutputFormat.MARKDOWN))
    if os.environ.get("TASKAPI_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(markdown, encoding="utf-8")
    assert markdown == GOLDEN.read_text(encoding="utf-8")


def test_markdown_with_logs_matches_the_golden_report(examples_bugs: Path) -> None:
    logs = load_logs(str(examples_bugs.parent / "logs" / "app.log"))
    report = analyse(load_bugs(str(examples_bugs)).bugs, logs=logs)
    markdown = as_text(render(report, OutputFormat.MARKDOWN))
    if os.environ.get("TASKAPI_UPDATE_GOLDEN") == "1":
        GOLDEN_WITH_LOGS.write_text(markdown, encoding="utf-8")
    assert markdown == GOLDEN_WITH_LOGS.read_text(encoding="utf-8")


def test_markdown_escapes_table_syntax_in_bug_data(make_bug: Callable[..., BugRecord]) -> None:
    markdown = as_text(render(analyse([make_bug(component="api|*edge*")]), OutputFormat.MARKDOWN))
    assert "| api\\|\\*edge\\* |" in markdown


def test_markdown_notes_rows_beyond_top(make_bug: Callable[..., BugRecord]) -> None:
    bugs = [make_bug(component=f"c{n:02d}", category=f"k{n:02d}") for n in range(15)]
    markdown = as_text(render(analyse(bugs), OutputFormat.MARKDOWN, RenderOptions(top=10)))
    assert "5 more component rows (score 10) not shown (--top 10)." in markdown
    assert "(other) adds up the 5 category columns beyond the first 10." in markdown


def test_json_is_the_complete_report_and_reads_back(report: Report) -> None:
    content = as_text(render(report, OutputFormat.JSON, RenderOptions(top=1)))
    assert Report.model_validate_json(content) == report
    document = json.loads(content)
    assert document["format_version"] == 1
    assert len(document["hotspots"]) == len(report.hotspots) > 1  # --top does not cut JSON


def test_html_is_self_contained_and_names_the_hotspots(report: Report) -> None:
    page = as_text(render(report, OutputFormat.HTML))

    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for hotspot in report.hotspots[:10]:
        assert f"<code>{hotspot.file}</code>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    worst_cell_colour, _ = heat_colours(1.0)
    assert f"background:{worst_cell_colour}" in page


def test_html_escapes_bug_data(make_bug: Callable[..., BugRecord]) -> None:
    page = as_text(render(analyse([make_bug(component="<script>x</script>")]), OutputFormat.HTML))
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>" not in page


def test_png_is_a_real_image_of_the_expected_size(report: Report) -> None:
    image = render(report, OutputFormat.PNG)

    assert isinstance(image, bytes)
    assert image.startswith(PNG_SIGNATURE)
    assert len(image) > 20_000
    pixels = imread(io.BytesIO(image), format="png")
    height, width, _ = pixels.shape
    assert width == 1600  # 16 inches at 100 dpi
    assert height > 800
    assert pixels.std() > 0.05  # not a blank canvas


def test_text_lists_hotspots_and_heat_maps_without_colour(report: Report) -> None:
    text = as_text(render(report, OutputFormat.TEXT, RenderOptions(width=160)))
    assert text.startswith("Bug risk report\n")
    assert report.hotspots[0].file in text
    assert "Heat map: component by category" in text
    assert "\x1b[" not in text


def test_plain_text_has_no_padding_at_line_ends(report: Report) -> None:
    text = as_text(render(report, OutputFormat.TEXT, RenderOptions(width=100)))
    assert [line for line in text.split("\n") if line != line.rstrip()] == []
    assert text.endswith("\n")


def test_text_colours_the_heat_map_when_asked(report: Report) -> None:
    text = as_text(render(report, OutputFormat.TEXT, RenderOptions(color=True, width=160)))
    red, green, blue = (int(heat_colours(1.0)[0][i : i + 2], 16) for i in (1, 3, 5))
    assert "\x1b[" in text
    assert f"48;2;{red};{green};{blue}m" in text  # the hottest cell's background


@pytest.mark.parametrize("output_format", list(OutputFormat))
def test_every_format_renders_an_empty_report(output_format: OutputFormat) -> None:
    content = render(analyse([]), output_format)
    if output_format is OutputFormat.PNG:
        assert isinstance(content, bytes)
        assert content.startswith(PNG_SIGNATURE)
    elif output_format is OutputFormat.JSON:
        assert json.loads(content)["total_bugs"] == 0
    else:
        assert "0 bugs" in as_text(content)


def test_png_of_long_and_non_latin_names_draws_without_warnings(
    make_bug: Callable[..., BugRecord],
) -> None:
    bugs = [
        make_bug(component="C" * 2_000, file="src/" + "deep/" * 300 + "x.py"),
        make_bug(component="компонент", file="src/データ/モジュール.py", category="Ошибка"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # missing glyphs, a collapsed layout
        image = render(analyse(bugs), OutputFormat.PNG)
    assert isinstance(image, bytes)
    assert image.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("output_format", list(OutputFormat))
def test_sentinel_dates_give_a_bounded_trend_in_every_format(
    make_bug: Callable[..., BugRecord], output_format: OutputFormat
) -> None:
    bugs = [
        make_bug(opened_at="0001-01-01"),
        make_bug(opened_at="2025-03-04", closed_at="9999-12-31"),
    ]
    content = render(analyse(bugs), output_format)

    if output_format is OutputFormat.PNG:
        assert isinstance(content, bytes)
        return
    text = as_text(content)
    assert len(text) < 100_000
    if output_format is OutputFormat.JSON:
        assert len(json.loads(text)["trend"]) == 120
    else:
        words = " ".join(text.split())  # the terminal wraps the note
        assert "The dates span 0001-01 to 9999-12 (119,988 months)" in words
        assert "with the most dates, 2025-03 to 2035-02." in words
        assert "2035-03" not in text


def test_empty_heat_map_cells_are_not_drawn_in_a_heat_colour(
    make_bug: Callable[..., BugRecord],
) -> None:
    # Two components, two categories, two bugs: two cells of each heat map have no bug.
    bugs = [make_bug(component="a", category="x"), make_bug(component="b", category="y")]
    report = analyse(bugs)

    text = as_text(render(report, OutputFormat.TEXT, RenderOptions(color=True, width=160)))
    palest = heat_colours(0.0)[0]
    red, green, blue = (int(palest[i : i + 2], 16) for i in (1, 3, 5))
    assert f"48;2;{red};{green};{blue}m" not in text  # no cell wears the lowest score's colour
    assert "·" in text

    pixels = imread(io.BytesIO(render(report, OutputFormat.PNG)), format="png")
    grey = [int(EMPTY_CELL_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    empty_pixels = (abs(pixels[:, :, :3] - grey) < 2 / 255).all(axis=2).sum()
    assert empty_pixels > 5_000  # hatched grey cells, not pale ones
