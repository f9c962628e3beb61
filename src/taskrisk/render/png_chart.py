"""A PNG picture of the risk: both heat maps and the hotspots ranked by risk score.

matplotlib is an optional extra, imported only here and only when a PNG is asked for, and used
without pyplot: docs/operations.md ("Output formats", "How the code is organised").
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskrisk.errors import OutputError
from taskrisk.render import RenderOptions
from taskrisk.render.layout import (
    EMPTY_CELL_COLOUR,
    EMPTY_CELL_HATCH,
    cut_heatmap,
    heat_colours,
    printable,
)
from taskrisk.report import HeatMap, Hotspot, Report, format_score, plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap

_DPI = 100
_MAX_LABEL = 42


def render_png(report: Report, options: RenderOptions) -> bytes:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.colors import LinearSegmentedColormap  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise OutputError("PNG output needs matplotlib: pip install 'taskapi[plot]'") from exc

    colormap = LinearSegmentedColormap.from_list(
        "risk", [heat_colours(heat)[0] for heat in (0.0, 0.25, 0.5, 0.75, 1.0)]
    )
    components = cut_heatmap(report.component_heatmap, options.top).heatmap
    layers = cut_heatmap(report.layer_heatmap, options.top).heatmap
    hotspots = report.hotspots[: options.top]
    tallest = max(len(components.rows), len(layers.rows), 1)

    figure = Figure(figsize=(16, 6 + 0.45 * tallest + 0.35 * len(hotspots)), dpi=_DPI)
    FigureCanvasAgg(figure)
    figure.set_layout_engine("constrained")
    figure.suptitle(
        f"Bug risk heat map: {plural(report.total_bugs, 'bug')}, "
        f"severity-weighted score {format_score(report.total_score)}",
        fontsize=14,
    )
    grid = figure.add_gridspec(2, 2, height_ratios=[max(tallest, 3), max(len(hotspots), 3)])
    _draw_heatmap(figure.add_subplot(grid[0, 0]), components, colormap, "Component by category")
    _draw_heatmap(figure.add_subplot(grid[0, 1]), layers, colormap, "Layer by category")
    _draw_hotspots(figure.add_subplot(grid[1, :]), hotspots, colormap)

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script the font lacks is drawn as boxes; a warning per glyph on
        # standard error would only bury the command's own messages. (The filter is
        # process-wide while it lasts; it only hides these glyph warnings.)
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(label: str) -> str:
    """One line of visible text; of a long label its end: for paths the file name is what
    identifies them."""
    label = printable(label)
    return label if len(label) <= _MAX_LABEL else "..." + label[-(_MAX_LABEL - 3) :]


def _draw_heatmap(axes: Axes, heatmap: HeatMap, colormap: Colormap, title: str) -> None:
    axes.set_title(title)
    if not heatmap.rows:
        axes.text(0.5, 0.5, "no bugs", ha="center", va="center")
        axes.set_axis_off()
        return
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    highest = max(heatmap.max_score, 1e-9)
    # Cells without bugs are left out of the colour scale and hatched grey instead.
    coloured = [
        [score if count else math.nan for score, count in zip(row, counts, strict=True)]
        for row, counts in zip(heatmap.scores, heatmap.counts, strict=True)
    ]
    axes.imshow(
        coloured,
        cmap=colormap.with_extremes(bad=EMPTY_CELL_COLOUR),
        vmin=0,
        vmax=highest,
        aspect="auto",
    )
    axes.set_xticks(range(len(heatmap.columns)), [_short(c) for c in heatmap.columns])
    axes.set_yticks(range(len(heatmap.rows)), [_short(r) for r in heatmap.rows])
    axes.tick_params(axis="x", labelrotation=35)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
    for row, (scores, counts) in enumerate(zip(heatmap.scores, heatmap.counts, strict=True)):
        for column, (score, count) in enumerate(zip(scores, counts, strict=True)):
            if not count:
                hatch = Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, linewidth=0)
                hatch.set(hatch="///", edgecolor=EMPTY_CELL_HATCH)
                axes.add_patch(hatch)
            else:
                _, text_colour = heat_colours(min(score / highest, 1.0))
                axes.text(
                    column,
                    row,
                    format_score(score),
                    ha="center",
                    va="center",
                    color=text_colour,
                    fontsize=9,
                )


def _draw_hotspots(axes: Axes, hotspots: Sequence[Hotspot], colormap: Colormap) -> None:
    axes.set_title("Hotspots by risk score")
    if not hotspots:
        axes.set_axis_off()
        return
    highest = max(hotspot.risk_score for hotspot in hotspots) or 1.0
    positions = range(len(hotspots))
    axes.barh(
        positions,
        [hotspot.risk_score for hotspot in hotspots],
        color=[colormap(hotspot.risk_score / highest) for hotspot in hotspots],
        edgecolor="#888888",
    )
    axes.set_yticks(positions, [_short(hotspot.file) for hotspot in hotspots])
    axes.invert_yaxis()  # the riskiest file on top
    axes.set_xlabel("risk score")
    for position, hotspot in zip(positions, hotspots, strict=True):
        axes.text(
            hotspot.risk_score,
            position,
            f"  {plural(hotspot.bugs, 'bug')}, {_short(hotspot.component)}",
            va="center",
            fontsize=9,
        )
    axes.set_xlim(0, highest * 1.35)
