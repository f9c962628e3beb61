"""Shared helpers for the risk map tests: a bug factory and paths to the committed data."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskrisk.model import BugRecord

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_bug() -> Callable[..., BugRecord]:
    """Valid bugs with overridable fields; ids are unique within one test."""
    numbers = itertools.count(1)

    def make(**fields: Any) -> BugRecord:
        record = {
            "id": f"B-{next(numbers)}",
            "title": "something broke",
            "severity": "medium",
            "component": "api",
            "file": "src/app/entrypoints/api.py",
            "category": "validation",
        }
        return BugRecord.model_validate(record | fields)

    return make


@pytest.fixture
def examples_bugs() -> Path:
    return REPOSITORY_ROOT / "examples" / "bugs.json"


@pytest.fixture
def coverage_fixture() -> Path:
    return REPOSITORY_ROOT / "examples" / "coverage.xml"
