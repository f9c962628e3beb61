"""Text that leaves the service (error messages, subjects, stored errors) stays bounded; text
that comes in (titles, names) holds no control characters."""

from __future__ import annotations

import re

# C0, DEL and C1: no one-line text field (a title, a workspace name) may hold any of them. As a
# regex class body, so validators and the OpenAPI patterns say the same.
LINE_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"

ELLIPSIS = "\u2026"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


class NoControlCharacters:
    """A before-validator: refuses a string with any of ``controls`` (a regex class body)."""

    # Built once, at import, before mutmut switches a mutant on: no test can observe a mutant
    # of __init__ (with one live, every title and description would fail to validate).
    def __init__(self, controls: str, allowed: str = "") -> None:  # pragma: no mutate
        self._forbidden = re.compile(f"[{controls}]")  # pragma: no mutate
        self._allowed = allowed  # pragma: no mutate

    def __call__(self, value: object) -> object:
        found = self._forbidden.search(value) if isinstance(value, str) else None
        if found is not None:
            raise ValueError(
                f"must not contain control characters{self._allowed}; "
                f"found U+{ord(found.group()):04X} at position {found.start()}"
            )
        return value
