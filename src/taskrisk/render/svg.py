"""The HTML page's charts as inline SVG, drawn by hand from the layout: no dependency (HTML
works without matplotlib), and every label escaped and made printable like the rest of the
page. See docs/operations.md ("Output formats")."""

from __future__ import annotations

import math
from html import escape

from taskrisk.render.layout import (
    EMPTY_CELL_COLOUR,
    EMPTY_CELL_HATCH,
    HeatChart,
    TrendChart,
    heat_colours,
    printable,
)
from taskrisk.report import format_score, plural

# Text widths are estimated, not measured: about 7 px per character at 12 px.
_FONT_SIZE = 12
_CHAR_WIDTH = 7.0
_ROW_LABEL_CHARS = 28
_COLUMN_LABEL_CHARS = 24
_CELL_HEIGHT = 28
_MIN_CELL_WIDTH = 48
_LEGEND_HEIGHT = 44
_OPENED_COLOUR = "#f6963c"
_CLOSED_COLOUR = "#4c78a8"
_OPEN_COLOUR = "#a5141e"
_TREND_HEIGHT = 180
_TREND_WIDTH = 720


def _text(text: str) -> str:
    """Escaped for element content and attribute values alike."""
    return escape(printable(text), quote=True)


def _fit(text: str, limit: int) -> str:
    """One line, at most `limit` characters; the full text goes into a <title> tooltip."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _open_svg(chart_id: str, title: str, width: float, height: float) -> list[str]:
    # No xmlns: inside an HTML page the parser places <svg> in the SVG namespace, and the page
    # stays free of any address.
    size = f'width="{_number(width)}" height="{_number(height)}"'
    return [
        f'<svg id="{chart_id}" class="chart" role="img" aria-labelledby="{chart_id}-title" '
        f'{size} viewBox="0 0 {_number(width)} {_number(height)}" '
        f'font-family="system-ui, sans-serif" font-size="{_FONT_SIZE}">',
        f'<title id="{chart_id}-title">{_text(title)}</title>',
    ]


def heatmap_svg(chart: HeatChart, title: str, chart_id: str) -> str:
    """One <rect class="cell"> per cell (`empty` and hatched when it has no bugs), row and
    column labels, and a legend: the colour scale from 0 to the highest score, and the empty
    cell's pattern labelled "no bugs"."""
    heatmap = chart.heatmap
    rows = [_fit(row, _ROW_LABEL_CHARS) for row in heatmap.rows]
    columns = [_fit(column, _COLUMN_LABEL_CHARS) for column in heatmap.columns]
    scores = [format_score(score) for row in heatmap.scores for score in row]
    cell_width = max(_MIN_CELL_WIDTH, _CHAR_WIDTH * max(map(len, scores), default=1) + 14)
    left = 12 + _CHAR_WIDTH * max(map(len, rows), default=1)
    # Column labels are turned 45 degrees: they need about 0.71 of their length up and right.
    slant = 0.71 * _CHAR_WIDTH * max(map(len, columns), default=1)
    top = 12 + slant
    grid_width, grid_height = cell_width * len(columns), _CELL_HEIGHT * len(rows)
    width = max(left + grid_width + slant, left + 360) + 12
    height = top + grid_height + _LEGEND_HEIGHT + 12

    empty = f"{chart_id}-empty"
    scale = f"{chart_id}-scale"
    stops = "".join(
        f'<stop offset="{heat:.2f}" stop-color="{heat_colours(heat)[0]}"/>'
        for heat in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    parts = _open_svg(chart_id, title, width, height)
    parts += [
        "<defs>",
        f'<pattern id="{empty}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{EMPTY_CELL_COLOUR}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{EMPTY_CELL_HATCH}" stroke-width="2"/>'
        "</pattern>",
        f'<linearGradient id="{scale}">{stops}</linearGradient>',
        "</defs>",
    ]
    for index, (label, full) in enumerate(zip(columns, heatmap.columns, strict=True)):
        x, y = left + cell_width * (index + 0.5), top - 6
        parts.append(
            f'<text class="column-label" transform="translate({_number(x)},{_number(y)}) '
            f'rotate(-45)">{_text(label)}<title>{_text(full)}</title></text>'
        )
    for row_index, (label, full) in enumerate(zip(rows, heatmap.rows, strict=True)):
        y = top + _CELL_HEIGHT * row_index
        parts.append(
            f'<text class="row-label" x="{_number(left - 8)}" y="{_number(y + 18)}" '
            f'text-anchor="end">{_text(label)}<title>{_text(full)}</title></text>'
        )
        cells = zip(
            heatmap.columns, heatmap.scores[row_index], heatmap.counts[row_index], strict=True
        )
        for column_index, (column, score, count) in enumerate(cells):
            x = left + cell_width * column_index
            where = f'x="{_number(x)}" y="{_number(y)}"'
            size = f'width="{_number(cell_width)}" height="{_CELL_HEIGHT}"'
            about = f"{heatmap.row_axis} {full}, {heatmap.column_axis} {column}: "
            if not count:
                parts.append(
                    f'<rect class="cell empty" {where} {size} fill="url(#{empty})" '
                    f'stroke="#ffffff"><title>{_text(about + "no bugs")}</title></rect>'
                )
                continue
            background, foreground = heat_colours(chart.heat(score))
            tooltip = f"{about}score {format_score(score)} ({plural(count, 'bug')})"
            parts += [
                f'<rect class="cell" {where} {size} fill="{background}" stroke="#ffffff">'
                f"<title>{_text(tooltip)}</title></rect>",
                f'<text class="score" x="{_number(x + cell_width / 2)}" y="{_number(y + 18)}" '
                f'text-anchor="middle" fill="{foreground}">{format_score(score)}</text>',
            ]
    parts += _heat_legend(left, top + grid_height + 16, chart.highest, scale, empty)
    parts.append("</svg>")
    return "\n".join(parts)


def _heat_legend(x: float, y: float, highest: float, scale: str, empty: str) -> list[str]:
    bar = 160
    return [
        '<g class="legend">',
        f'<text x="{_number(x)}" y="{_number(y + 10)}">score</text>',
        f'<rect class="legend-scale" x="{_number(x + 44)}" y="{_number(y)}" width="{bar}" '
        f'height="12" fill="url(#{scale})" stroke="#999999"/>',
        f'<text x="{_number(x + 44)}" y="{_number(y + 26)}">0</text>',
        f'<text x="{_number(x + 44 + bar)}" y="{_number(y + 26)}" text-anchor="end">'
        f"{format_score(highest)}</text>",
        f'<rect class="legend-empty" x="{_number(x + 230)}" y="{_number(y)}" width="18" '
        f'height="12" fill="url(#{empty})" stroke="#999999"/>',
        f'<text x="{_number(x + 254)}" y="{_number(y + 10)}">no bugs</text>',
        "</g>",
    ]


def _tick_step(highest: int) -> int:
    """1, 2 or 5 times a power of ten, giving at most five steps up to `highest`."""
    magnitude: int = 10 ** max(0, math.floor(math.log10(max(highest, 1) / 5)))
    return next(step * magnitude for step in (1, 2, 5, 10) if highest <= 5 * step * magnitude)


def trend_svg(chart: TrendChart, title: str, chart_id: str) -> str:
    """Bars of bugs opened and closed per month, a line of the bugs open at month end, one
    <rect class="month"> per month carrying its numbers as a tooltip, and a legend."""
    points = chart.points
    slot = min(36.0, max(6.0, _TREND_WIDTH / max(len(points), 1)))
    left, top, plot_height = 44.0, 34.0, float(_TREND_HEIGHT)
    highest = max((max(p.opened, p.closed, p.open_at_month_end) for p in points), default=0)
    step = _tick_step(highest)
    ceiling = max(step, math.ceil(highest / step) * step)
    width = max(left + slot * len(points), 420) + 16
    height = top + plot_height + 30

    def y_of(value: int) -> float:
        return top + plot_height * (1 - value / ceiling)

    parts = _open_svg(chart_id, title, width, height)
    for value in range(0, ceiling + 1, step):
        y = _number(y_of(value))
        parts += [
            f'<line class="grid" x1="{_number(left)}" y1="{y}" '
            f'x2="{_number(left + slot * len(points))}" y2="{y}" stroke="#e4e4e4"/>',
            f'<text x="{_number(left - 6)}" y="{y}" dy="4" text-anchor="end">{value}</text>',
        ]
    label_every = math.ceil(56 / slot)
    line = []
    for index, point in enumerate(points):
        x = left + slot * index
        month = _text(point.month)
        tooltip = _text(
            f"{point.month}: {point.opened} opened, {point.closed} closed, "
            f"{point.open_at_month_end} open at month end"
        )
        parts.append(
            f'<rect class="month" x="{_number(x)}" y="{_number(top)}" width="{_number(slot)}" '
            f'height="{_number(plot_height)}" fill="transparent"><title>{tooltip}</title></rect>'
        )
        for kind, value, offset, colour in (
            ("opened", point.opened, 0.1, _OPENED_COLOUR),
            ("closed", point.closed, 0.5, _CLOSED_COLOUR),
        ):
            if value:
                bar_top = y_of(value)
                parts.append(
                    f'<rect class="{kind}" x="{_number(x + slot * offset)}" '
                    f'y="{_number(bar_top)}" width="{_number(slot * 0.4)}" '
                    f'height="{_number(top + plot_height - bar_top)}" fill="{colour}">'
                    f"<title>{month}: {value} {kind}</title></rect>"
                )
        line.append(f"{_number(x + slot / 2)},{_number(y_of(point.open_at_month_end))}")
        if index % label_every == 0:
            parts.append(
                f'<text class="month-label" x="{_number(x + slot / 2)}" '
                f'y="{_number(top + plot_height + 18)}" text-anchor="middle">{month}</text>'
            )
    parts.append(
        f'<polyline class="open-at-month-end" points="{" ".join(line)}" fill="none" '
        f'stroke="{_OPEN_COLOUR}" stroke-width="2"><title>open at month end</title></polyline>'
    )
    parts += _trend_legend(left)
    parts.append("</svg>")
    return "\n".join(parts)


def _trend_legend(x: float) -> list[str]:
    parts = ['<g class="legend">']
    for offset, (label, colour) in zip(
        (0, 90, 180),
        (("opened", _OPENED_COLOUR), ("closed", _CLOSED_COLOUR), ("open at month end", "")),
        strict=True,
    ):
        left = x + offset
        if colour:
            parts.append(
                f'<rect x="{_number(left)}" y="6" width="12" height="12" fill="{colour}"/>'
            )
        else:
            parts.append(
                f'<line x1="{_number(left)}" y1="12" x2="{_number(left + 12)}" y2="12" '
                f'stroke="{_OPEN_COLOUR}" stroke-width="2"/>'
            )
        parts.append(f'<text x="{_number(left + 18)}" y="16">{label}</text>')
    parts.append("</g>")
    return parts
