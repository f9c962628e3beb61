"""Module docstrings stay short and send the reader to docs/operations.md for the reasons.

Every module of `taskrisk` has a docstring of at most ten lines that names docs/operations.md,
and every section it cites there ("Scoring") exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "taskrisk"
OPERATIONS = ROOT / "docs" / "operations.md"
MAX_LINES = 10
MODULES = sorted(PACKAGE.rglob("*.py"))


def headings() -> set[str]:
    lines = OPERATIONS.read_text(encoding="utf-8").splitlines()
    return {line.lstrip("#").strip() for line in lines if re.match(r"#{1,4} ", line)}


def test_every_module_is_checked() -> None:
    names = {module.relative_to(PACKAGE).as_posix() for module in MODULES}
    assert {"__init__.py", "cli.py", "render/__init__.py", "render/svg.py"} <= names


@pytest.mark.parametrize(
    "module", MODULES, ids=[module.relative_to(PACKAGE).as_posix() for module in MODULES]
)
def test_a_module_docstring_is_short_and_points_to_the_operations_guide(module: Path) -> None:
    docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")), clean=False)

    assert docstring, f"{module.name} has no module docstring"
    assert len(docstring.strip().splitlines()) <= MAX_LINES
    assert "docs/operations.md" in docstring
    cited = re.findall(r"docs/operations\.md \((.*?)\)", docstring, re.DOTALL)
    sections = [
        " ".join(name.split()) for group in cited for name in re.findall(r'"([^"]+)"', group)
    ]
    assert set(sections) <= headings()
