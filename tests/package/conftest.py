"""Each test process builds the artifacts once: the code only (fast) and, for the dependency
checks, complete with the locked wheels (uv's cache makes a rebuild take seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.package.artifacts import build_artifacts


@pytest.fixture(scope="session")
def code_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_artifacts(tmp_path_factory.mktemp("code-artifacts"), with_dependencies=False)


@pytest.fixture(scope="session")
def full_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_artifacts(tmp_path_factory.mktemp("full-artifacts"), with_dependencies=True)
