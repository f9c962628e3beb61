"""Errors the risk map reports to its user.

Every failure a user can fix (a bad file, a bad field, a missing optional extra) is a
`RiskMapError` whose message is one complete sentence: the CLI prints it as is and exits 2.
"""

from __future__ import annotations


class RiskMapError(Exception):
    """A problem with the input or the options, explained in the message."""


class InputError(RiskMapError):
    """An input file (bugs, settings, git history, coverage) cannot be used."""


class OutputError(RiskMapError):
    """A report cannot be produced in the requested format or written where asked."""
