"""GitHub-flavoured Markdown: for pull requests, wikis and the golden test."""

from __future__ import annotations

from taskrisk.render import RenderOptions
from taskrisk.render.layout import Cell, Section, Table, headline, report_sections
from taskrisk.report import Report


def render_markdown(report: Report, options: RenderOptions) -> str:
    lines = ["# Bug risk report", "", *headline(report)]
    for section in report_sections(report, options.top):
        lines += ["", *_section(section)]
    return "\n".join(lines) + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}"]
    for note in section.notes:
        lines += ["", note]
    if section.steps:
        lines.append("")
        lines += [
            f"{number}. **{_inline(step.summary)}**: {_inline(step.reason)}"
            for number, step in enumerate(section.steps, start=1)
        ]
    if section.table is not None:
        lines += ["", *_table(section.table)]
    for note in section.footnotes:
        lines += ["", note]
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
        path = cell.text.replace("`", "'")  # a backtick would end the code span
        return f"`{path}`"
    return _inline(cell.text)


def _inline(text: str) -> str:
    # Pipes, asterisks and backticks in bug data must not change the document's structure.
    # Underscores stay: GitHub does not read them as emphasis inside words (data_integrity).
    escaped = text.replace("\\", "\\\\")
    for marker in ("|", "*", "`"):
        escaped = escaped.replace(marker, "\\" + marker)
    return escaped
