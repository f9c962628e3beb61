"""GitHub-flavoured Markdown: for pull requests, wikis and the golden test. What is escaped and
why: docs/operations.md ("Output formats").
"""

from __future__ import annotations

import re

from taskrisk.render import RenderOptions
from taskrisk.render.layout import Cell, Section, Table, headline, printable, report_sections
from taskrisk.report import Report

# What could change the document's structure if bug data carried it: backslash escapes, code
# spans, emphasis, table cells, links and images, strikethrough, math, raw HTML and character
# references. `_` only where it can start or end emphasis: data_integrity stays as it is.
_MARKDOWN_SYNTAX = re.compile(r"[\\`*|\[\]~$<]|&(?=#?[0-9A-Za-z]+;)|_(?![^\W_])|(?<![^\W_])_")
_REPLACEMENTS = {"<": "&lt;", "&": "&amp;"}


def render_markdown(report: Report, options: RenderOptions) -> str:
    lines = ["# Bug risk report", "", *map(_inline, headline(report))]
    for section in report_sections(report, options.top):
        lines += ["", *_section(section)]
    return "\n".join(lines) + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {_inline(section.title)}"]
    for note in section.notes:
        lines += ["", _inline(note)]
    if section.steps:
        lines.append("")
        lines += [
            f"{number}. **{_inline(step.summary)}**: {_inline(step.reason)}"
            for number, step in enumerate(section.steps, start=1)
        ]
    if section.table is not None:
        lines += ["", *_table(section.table)]
    for note in section.footnotes:
        lines += ["", _inline(note)]
    return lines


def _table(table: Table) -> list[str]:
    rule = ["---:" if align == "right" else "---" for align in table.align]
    lines = [_row([_inline(column) for column in table.columns]), _row(rule)]
    lines += [_row([_cell(cell) for cell in row]) for row in table.rows]
    return lines


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(cell: Cell) -> str:
    if cell.path and cell.text:
        # Inside a code span only a backtick (it would end the span) and, in a table, a pipe
        # (it would end the cell: GFM reads `\|` there as a pipe) mean anything.
        path = printable(cell.text).replace("`", "'").replace("|", "\\|")
        return f"`{path}`"
    return _inline(cell.text)


def _inline(text: str) -> str:
    """Text shown as written: on one line, every Markdown construct in it escaped."""
    return _MARKDOWN_SYNTAX.sub(_escape, printable(text))


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    return _REPLACEMENTS.get(character, "\\" + character)
