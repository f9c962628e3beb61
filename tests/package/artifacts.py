"""Building artifacts for the tests, and reading the template the way they need it.

The template is read with the infra tests' loader (not the builder's), and the expectations
below (architectures, closures) are written out here rather than taken from the builder, so
a builder that drifts from the template or from Python's import rules fails these tests.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from tools import package

from tests.infra.cfn import REPO_ROOT, source_template

PROJECT_VERSION: str = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"
]["version"]

FUNCTIONS = ("ApiFunction", "NotificationsFunction", "RelayFunction", "RemindersFunction")

# Lambda's architecture names -> the ELF machine the wheels' native code must be built for.
ELF_MACHINES = {"arm64": ("aarch64", 0xB7), "x86_64": ("x86_64", 0x3E)}


def function_properties(name: str) -> dict[str, Any]:
    """A function's properties with Globals.Function applied, from the source template."""
    template = source_template()
    defaults: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    return {**defaults, **template["Resources"][name]["Properties"]}


def artifact_dir(root: Path, name: str) -> Path:
    return root / function_properties(name)["CodeUri"]


def taskapi_modules(artifact: Path) -> set[str]:
    """The modules of the taskapi package present in an artifact, by file."""
    modules = set()
    for path in (artifact / "taskapi").rglob("*.py"):
        parts = path.relative_to(artifact).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def uv_binary() -> str:
    """The uv that `make` uses: `uv run` exports its own path as UV; else PATH or .tools."""
    candidates = [os.environ.get("UV"), shutil.which("uv"), str(REPO_ROOT / ".tools/bin/uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no uv binary: run `make setup` (it installs uv into .tools/)", pytrace=False)


def build_artifacts(root: Path, *, with_dependencies: bool) -> Path:
    functions = package.lambda_functions(package.read_template(package.TEMPLATE))
    uv = uv_binary() if with_dependencies else None
    # CI sets REQUIRE_BYTECODE (as make does for the builder): no CPython 3.13 there fails
    # the build, rather than letting the artifacts' bytecode check pass on "none at all".
    required = bool(os.environ.get("REQUIRE_BYTECODE"))
    try:
        package.build(functions, root, uv, log=lambda *_: None, require_bytecode=required)
    except package.PackagingError as error:
        pytest.fail(f"the build failed: {error}", pytrace=False)
    return root
