"""The source tree stays walkable (docs/architecture.md): a folder carries the technology, a
module docstring points to the docs instead of repeating them, a route is short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGES = [SRC / "taskapi", SRC / "taskrisk"]
MAX_DOCSTRING_LINES = 10
MAX_ROUTE_LINES = 25
ROUTE_MODULES = ("routes.py", "workspace_routes.py")
# Technologies that name a folder; a module named after one belongs in that folder.
TECHNOLOGY_PREFIXES = ("dynamodb_", "sqlite_", "aws_", "http_", "notifier_", "eventbridge_")


def modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in package.rglob("*.py"))


def test_the_tree_is_not_empty() -> None:
    assert len(modules()) > 50


@pytest.mark.parametrize("layer", ["adapters", "entrypoints"])
def test_no_module_carries_a_technology_prefix_its_folder_should(layer: str) -> None:
    root = SRC / "taskapi" / layer
    prefixed = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.stem.startswith(TECHNOLOGY_PREFIXES)
    ]
    assert prefixed == []


def test_module_docstrings_are_short_and_the_rationale_lives_in_docs() -> None:
    long = {}
    for path in modules():
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
        if docstring and len(docstring.splitlines()) > MAX_DOCSTRING_LINES:
            long[str(path.relative_to(SRC))] = len(docstring.splitlines())
    assert long == {}


def test_route_functions_are_short() -> None:
    http = SRC / "taskapi" / "entrypoints" / "http"
    trees = [ast.parse((http / name).read_text(encoding="utf-8")) for name in ROUTE_MODULES]
    lengths = {
        node.name: node.end_lineno - node.lineno + 1
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.end_lineno is not None
        and any(_is_route(decorator) for decorator in node.decorator_list)
    }
    assert len(lengths) >= 15  # health, openapi.json, the task and the workspace routes
    assert {name: n for name, n in lengths.items() if n > MAX_ROUTE_LINES} == {}


def _is_route(decorator: ast.expr) -> bool:
    # @app.get(...), @app.post(...), ...
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and isinstance(decorator.func.value, ast.Name)
        and decorator.func.value.id == "app"
    )
