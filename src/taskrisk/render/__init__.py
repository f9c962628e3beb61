"""Report renderers, one module per output format, each imported only when its format is asked
for. See docs/operations.md ("Output formats", "How the code is organised").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskrisk.report import Report


class OutputFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    HTML = "html"
    PNG = "png"

    @property
    def is_binary(self) -> bool:
        return self is OutputFormat.PNG


DEFAULT_TOP = 10
DEFAULT_WIDTH = 120


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """`top` caps the rows of every ranked table and heat map (the JSON output is complete);
    `color` and `width` only matter to the terminal renderer."""

    top: int = DEFAULT_TOP
    color: bool = False
    width: int = DEFAULT_WIDTH


def render(
    report: Report, output_format: OutputFormat, options: RenderOptions | None = None
) -> str | bytes:
    options = options or RenderOptions()
    # Imports are local on purpose: see the module docstring.
    match output_format:
        case OutputFormat.TEXT:
            from taskrisk.render.terminal import render_text  # noqa: PLC0415

            return render_text(report, options)
        case OutputFormat.MARKDOWN:
            from taskrisk.render.markdown import render_markdown  # noqa: PLC0415

            return render_markdown(report, options)
        case OutputFormat.JSON:
            return report.model_dump_json(indent=2) + "\n"
        case OutputFormat.HTML:
            from taskrisk.render.html_page import render_html  # noqa: PLC0415

            return render_html(report, options)
        case OutputFormat.PNG:
            from taskrisk.render.png_chart import render_png  # noqa: PLC0415

            return render_png(report, options)
