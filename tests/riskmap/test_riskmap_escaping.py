"""Bug data is shown, never obeyed: in Markdown, in the terminal and in HTML.

The Markdown checks parse the report with markdown-it-py (CommonMark with GFM tables and
strikethrough) instead of searching for escape sequences: what matters is the document a
renderer builds, not how the escaping is spelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from taskrisk.analysis import analyse
from taskrisk.model import BugRecord
from taskrisk.render import OutputFormat, RenderOptions, render
from taskrisk.render.layout import printable

BugFactory = Callable[..., BugRecord]

HOSTILE_COMPONENT = (
    "api|gw <img src=x onerror=alert(1)> *bold* _em_ [link](https://x.invalid) "
    "![i](https://y.invalid) ~~gone~~ `code` &lt; <!-- c -->\nsecond line"
)
HOSTILE_FILE = "src/a|b`c.py\nnext.py"
HOSTILE_GAP = "no test\r\nfor | pipes <b>or</b> tags"
# ESC starts a colour sequence, CSI (0x9b) is one on its own in 8-bit terminals, BEL rings,
# backspace and CR overwrite, U+202E reverses the rest of the line.
TERMINAL_ATTACK = "evil\x1b[31mRED\x1b[0m\x9b2J\x07\x08\u202eabc\rover"
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def markdown_tokens(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)


def shown_text(inline: Token) -> str:
    """What a reader sees of an inline token: its text and code, markup removed."""
    return "".join(
        child.content for child in inline.children or [] if child.type in {"text", "code_inline"}
    )


def tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Every table as rows of cell texts, the header row first."""
    found: list[list[list[str]]] = []
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            found[-1].append([])
        elif token.type in {"th_open", "td_open"}:
            found[-1][-1].append(shown_text(tokens[index + 1]))
    return found


def test_markdown_shows_hostile_bug_data_as_text(make_bug: BugFactory) -> None:
    bugs = [make_bug(component=HOSTILE_COMPONENT, file=HOSTILE_FILE, testing_gap=HOSTILE_GAP)]
    markdown = render(analyse(bugs), OutputFormat.MARKDOWN)
    assert isinstance(markdown, str)

    tokens = markdown_tokens(markdown)
    inline = [child for token in tokens for child in token.children or []]
    kinds = {token.type for token in tokens} | {child.type for child in inline}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "em_open", "s_open"}
    steps = sum(token.type == "list_item_open" for token in tokens)
    assert sum(child.type == "strong_open" for child in inline) == steps  # the step summaries

    cells = [cell for table in tables(tokens) for row in table for cell in row]
    assert printable(HOSTILE_COMPONENT) in cells
    assert printable(HOSTILE_FILE).replace("`", "'") in cells
    assert printable(HOSTILE_GAP) in cells


def test_markdown_table_rows_stay_whole_whatever_the_bug_data(make_bug: BugFactory) -> None:
    bugs = [make_bug(component=HOSTILE_COMPONENT, file=HOSTILE_FILE, testing_gap=HOSTILE_GAP)]
    markdown = render(analyse(bugs), OutputFormat.MARKDOWN)
    assert isinstance(markdown, str)

    found = tables(markdown_tokens(markdown))
    assert len(found) == 9  # hotspots, 2 heat maps, 5 breakdowns, testing gaps
    for header, *rows in found:
        assert rows
        assert [len(row) for row in rows] == [len(header)] * len(rows)
    table_lines = [line for line in markdown.split("\n") if line.startswith("| ")]
    assert all(line.endswith(" |") for line in table_lines)
    # The component shows in the hotspots, its heat map row and the component breakdown.
    assert sum("second line" in line for line in table_lines) == 3


def test_markdown_leaves_words_with_underscores_alone(make_bug: BugFactory) -> None:
    markdown = render(analyse([make_bug(category="data_integrity")]), OutputFormat.MARKDOWN)
    assert isinstance(markdown, str)
    assert "| data_integrity |" in markdown


@pytest.mark.parametrize("color", [False, True])
def test_text_shows_control_characters_instead_of_sending_them(
    make_bug: BugFactory, color: bool
) -> None:
    text = render(
        analyse([make_bug(component=TERMINAL_ATTACK, testing_gap="one\ntwo")]),
        OutputFormat.TEXT,
        RenderOptions(color=color, width=200),
    )
    assert isinstance(text, str)

    shown = r"evil\x1b[31mRED\x1b[0m\x9b2J\x07\x08\u202eabc over"
    assert shown in text
    assert "one two" in text  # a newline in bug data does not start a new table row
    if color:
        # The only escape sequences are rich's own colours: none starts inside the bug data.
        assert "\x1b[31mRED" not in text
        assert not CONTROL_CHARACTERS.search(re.sub(r"\x1b\[[0-9;]*m", "", text))
    else:
        assert not CONTROL_CHARACTERS.search(text)


@pytest.mark.parametrize("color", [False, True])
def test_text_shows_rich_markup_in_bug_data_as_written(make_bug: BugFactory, color: bool) -> None:
    markup = "[bold red]loud[/bold red] [link=https://x.invalid]here[/link] :warning:"
    text = render(
        analyse([make_bug(component=markup)]),
        OutputFormat.TEXT,
        RenderOptions(color=color, width=200),
    )
    assert isinstance(text, str)
    assert markup in text
    assert "\x1b]8;" not in text  # no terminal hyperlink


def test_html_carries_no_control_characters_from_bug_data(make_bug: BugFactory) -> None:
    page = render(
        analyse([make_bug(component=TERMINAL_ATTACK, testing_gap=HOSTILE_GAP)]), OutputFormat.HTML
    )
    assert isinstance(page, str)
    assert not CONTROL_CHARACTERS.search(page)
    assert r"evil\x1b[31mRED" in page
    assert "for | pipes &lt;b&gt;or&lt;/b&gt; tags" in page


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("two\r\n\n lines", "two lines"),
        ("tab\there", "tab here"),
        ("\x1b[2J", r"\x1b[2J"),
        ("\u2028sep\u2029", " sep "),
        ("rtl\u202eabc", r"rtl\u202eabc"),
        ("emoji 👩\u200d💻 and\xa0nbsp", "emoji 👩\u200d💻 and\xa0nbsp"),  # joiner and NBSP stay
    ],
)
def test_printable_keeps_one_line_of_visible_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown
