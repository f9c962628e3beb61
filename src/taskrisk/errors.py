"""Errors the risk map reports to its user: one complete sentence each, printed as is by the
CLI, which exits 2. See docs/operations.md ("How the code is organised").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the CLI imports this module for every command
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails


class RiskMapError(Exception):
    """A problem with the input or the options, explained in the message."""


class InputError(RiskMapError):
    """An input file (bugs, settings, git history, coverage) cannot be used."""


class OutputError(RiskMapError):
    """A report cannot be produced in the requested format or written where asked."""


def error_location(error: ErrorDetails) -> str:
    """`weights.low`: where Pydantic found the problem, empty for the model as a whole."""
    return ".".join(str(part) for part in error["loc"])


def error_message(error: ErrorDetails) -> str:
    """Pydantic's message without the "Value error, " it puts before our own ValueErrors."""
    return error["msg"].removeprefix("Value error, ")


def first_problem(exc: ValidationError) -> str:
    """The first problem of a failed validation on one line: `weights.low: <message>`."""
    error = exc.errors(include_url=False)[0]
    where = error_location(error)
    return f"{where}: {error_message(error)}" if where else error_message(error)
