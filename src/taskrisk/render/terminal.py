"""The default output: rich tables, with a coloured heat map when the terminal takes colour.
Bug data is printed as text, never as markup or control codes: docs/operations.md ("Output
formats").
"""

from __future__ import annotations

import io

from taskrisk.errors import OutputError
from taskrisk.render import RenderOptions
from taskrisk.render.layout import (
    Cell,
    Section,
    Table,
    headline,
    heat_colours,
    printable,
    report_sections,
)
from taskrisk.report import Report

try:
    from rich import box
    from rich.console import Console
    from rich.padding import Padding
    from rich.style import Style
    from rich.table import Table as RichTable
    from rich.text import Text
except ModuleNotFoundError as exc:  # pragma: no cover - rich ships with the cli extra
    raise OutputError("text output needs rich: pip install 'taskapi[cli]'") from exc


def render_text(report: Report, options: RenderOptions) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=options.width,
        force_terminal=options.color,
        color_system="truecolor" if options.color else None,
        no_color=not options.color,
        highlight=False,
        emoji=False,
    )
    console.print(_text("Bug risk report", style="bold"))
    for line in headline(report):
        console.print(_text(line))
    for section in report_sections(report, options.top):
        console.print()
        _print_section(console, section, color=options.color)
    if options.color:
        return buffer.getvalue()
    # rich pads every line to the full width; a file or a pipe should not keep the padding.
    # split("\n"), not splitlines(): that would also break at separators inside bug data.
    return "\n".join(line.rstrip() for line in buffer.getvalue().split("\n"))


def _text(text: str, style: str | Style = "") -> Text:
    """Everything printed goes through here. A `Text`, never markup: a "[bold]" in a title is
    shown as written; and no control character reaches the terminal (see `printable`)."""
    return Text(printable(text), style=style)


def _print_section(console: Console, section: Section, *, color: bool) -> None:
    console.print(_text(section.title, style="bold underline"))
    for note in section.notes:
        console.print(_text(note, style="dim"))
    for number, step in enumerate(section.steps, start=1):
        console.print(_text(f"{number}. {step.summary}", style="bold"))
        console.print(Padding(_text(step.reason), (0, 0, 0, 3)))
    if section.table is not None:
        for table in _split_prose(section.table):
            console.print(_rich_table(table, color=color))
    for note in section.footnotes:
        console.print(_text(note, style="dim"))


def _split_prose(table: Table) -> list[Table]:
    """A terminal is too narrow for names, numbers and sentences side by side: the prose
    columns go to a second table, keyed by the first column (the rank)."""
    if not table.prose:
        return [table]
    plain = [index for index in range(len(table.columns)) if index not in table.prose]
    details = [0, *sorted(table.prose)]

    def pick(indexes: list[int], prose: frozenset[int]) -> Table:
        return Table(
            columns=[table.columns[index] for index in indexes],
            align=[table.align[index] for index in indexes],
            rows=[[row[index] for index in indexes] for row in table.rows],
            prose=prose,
        )

    return [pick(plain, frozenset()), pick(details, frozenset(range(1, len(details))))]


def _rich_table(table: Table, *, color: bool) -> RichTable:
    # Names and numbers keep their natural width; prose columns wrap, sharing what is left.
    rich_table = RichTable(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=bool(table.prose)
    )
    for index, (column, align) in enumerate(zip(table.columns, table.align, strict=True)):
        prose = index in table.prose
        rich_table.add_column(
            _text(column), justify=align, overflow="fold", ratio=1 if prose else None
        )
    for row in table.rows:
        rich_table.add_row(*(_rich_cell(cell, color=color) for cell in row))
    return rich_table


def _rich_cell(cell: Cell, *, color: bool) -> Text:
    if cell.heat is not None and color and not cell.text:
        return _text("·", style="dim")  # no bugs: no heat colour, which a low score would have
    if cell.heat is not None and color:
        background, foreground = heat_colours(cell.heat)
        return _text(f" {cell.text} ", style=Style(color=foreground, bgcolor=background))
    return _text(cell.text, style="cyan" if cell.path and color else "")
