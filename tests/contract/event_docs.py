"""Reads the machine-checked parts of docs/events.md: each JSON block preceded by a marker.

``<!-- example: NAME -->`` or ``<!-- example: NAME.detail -->``: the whole EventBridge event
``fixtures/eventbridge/NAME.json``, or its detail. ``<!-- pattern: NAME -->``: an event pattern.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
FIXTURES = Path(__file__).parent / "fixtures" / "eventbridge"

_BLOCK = re.compile(r"<!-- (example|pattern): ([\w.-]+) -->\s*```json\n(.*?)```", re.DOTALL)


def marked_blocks(kind: str) -> dict[str, Any]:
    """Every block of ``kind`` ("example" or "pattern"), parsed, by name."""
    text = DOC.read_text(encoding="utf-8")
    return {name: json.loads(body) for k, name, body in _BLOCK.findall(text) if k == kind}


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded
