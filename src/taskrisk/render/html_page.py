"""One self-contained HTML page: inline CSS and SVG charts, no scripts, no fonts or images from
elsewhere, so it can be attached to a ticket or opened offline. See docs/operations.md
("Output formats").
"""

from __future__ import annotations

from html import escape

from taskrisk.render import RenderOptions
from taskrisk.render.layout import (
    EMPTY_CELL_COLOUR,
    EMPTY_CELL_HATCH,
    Cell,
    HeatChart,
    Section,
    Table,
    headline,
    heat_colours,
    printable,
    report_sections,
)
from taskrisk.render.svg import heatmap_svg, trend_svg
from taskrisk.report import Report

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 78rem;
       padding: 0 1rem; color: #1f1f1f; line-height: 1.45; }
h1 { margin-bottom: .25rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
p.note { color: #555; margin: .3rem 0; }
table { border-collapse: collapse; margin-top: .6rem; font-size: .92rem; }
th, td { padding: .28rem .6rem; border-bottom: 1px solid #eee; vertical-align: top; }
th { text-align: left; background: #f6f6f6; }
.right { text-align: right; font-variant-numeric: tabular-nums; }
td.heat { text-align: center; min-width: 3rem; }
td.empty { background: repeating-linear-gradient(45deg, {empty} 0 3px, {hatch} 3px 4px); }
figure { margin: .8rem 0; }
svg.chart { max-width: 100%; height: auto; }
code { font-size: .88rem; }
ol li { margin-bottom: .5rem; }
""".replace("{empty}", EMPTY_CELL_COLOUR).replace("{hatch}", EMPTY_CELL_HATCH)


def render_html(report: Report, options: RenderOptions) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Bug risk report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Bug risk report</h1>",
        *(f"<p>{_html(line)}</p>" for line in headline(report)),
    ]
    for number, section in enumerate(report_sections(report, options.top), start=1):
        parts += _section(section, f"chart-{number}")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _html(text: str) -> str:
    """Everything from the report goes through here: escaped, and without control characters
    (see `printable`), which HTML forbids and a copied line would carry to a terminal."""
    return escape(printable(text))


def _section(section: Section, chart_id: str) -> list[str]:
    parts = [f"<section>\n<h2>{_html(section.title)}</h2>"]
    parts += [f'<p class="note">{_html(note)}</p>' for note in section.notes]
    if section.steps:
        parts.append("<ol>")
        parts += [
            f"<li><strong>{_html(step.summary)}</strong><br>{_html(step.reason)}</li>"
            for step in section.steps
        ]
        parts.append("</ol>")
    if section.chart is not None:
        chart = section.chart
        svg = (
            heatmap_svg(chart, section.title, chart_id)
            if isinstance(chart, HeatChart)
            else trend_svg(chart, section.title, chart_id)
        )
        parts.append(f"<figure>\n{svg}\n</figure>")
    if section.table is not None:
        parts += _table(section.table)
    parts += [f'<p class="note">{_html(note)}</p>' for note in section.footnotes]
    parts.append("</section>")
    return parts


def _table(table: Table) -> list[str]:
    header = "".join(
        f'<th class="{align}">{_html(column)}</th>'
        for column, align in zip(table.columns, table.align, strict=True)
    )
    rows = [
        "<tr>"
        + "".join(_cell(cell, align) for cell, align in zip(row, table.align, strict=True))
        + "</tr>"
        for row in table.rows
    ]
    return [
        "<table>",
        f"<thead><tr>{header}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
    ]


def _cell(cell: Cell, align: str) -> str:
    text = _html(cell.text)
    if cell.heat is not None and not cell.text:
        return '<td class="heat empty" title="no bugs"></td>'
    if cell.heat is not None:
        background, foreground = heat_colours(cell.heat)
        style = f"background:{background};color:{foreground}"
        return f'<td class="heat" style="{style}">{text}</td>'
    if cell.path and text:
        text = f"<code>{text}</code>"
    return f'<td class="{align}">{text}</td>'
