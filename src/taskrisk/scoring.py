"""How much a bug weighs, and how churn and coverage raise a file's risk:

    risk = bug_score * (1 + churn / max_churn) * (1 + (1 - line_rate))

The formulas and their reasons are in docs/operations.md ("Scoring"); keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, model_validator

from taskrisk.model import Severity


class SeverityWeights(BaseModel):
    """Weight of one bug per severity. Never increasing from critical to low, so that raising a
    bug's severity can never lower a score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    critical: float = Field(default=10, ge=0, allow_inf_nan=False)
    high: float = Field(default=5, ge=0, allow_inf_nan=False)
    medium: float = Field(default=2, ge=0, allow_inf_nan=False)
    low: float = Field(default=1, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _never_increasing(self) -> SeverityWeights:
        ordered = [(severity, self.of(severity)) for severity in Severity]
        for (higher, higher_weight), (lower, lower_weight) in pairwise(ordered):
            if lower_weight > higher_weight:
                raise ValueError(
                    f"weight of {lower} ({lower_weight:g}) must not exceed "
                    f"weight of {higher} ({higher_weight:g})"
                )
        return self

    def of(self, severity: Severity) -> float:
        match severity:
            case Severity.CRITICAL:
                return self.critical
            case Severity.HIGH:
                return self.high
            case Severity.MEDIUM:
                return self.medium
            case Severity.LOW:
                return self.low

    def with_overrides(self, overrides: Mapping[Severity, float]) -> SeverityWeights:
        """A copy with some weights replaced, validated as a whole (ordering included)."""
        merged = self.model_dump() | {severity.value: w for severity, w in overrides.items()}
        return SeverityWeights.model_validate(merged)

    def describe(self) -> str:
        """`critical=10, high=5, medium=2, low=1`: the spelling `--weights` accepts."""
        return ", ".join(f"{severity}={self.of(severity):g}" for severity in Severity)


_SEVERITY_NAMES = frozenset(severity.value for severity in Severity)


def parse_weights(spec: str) -> dict[Severity, float]:
    """Parse `critical=8,high=4`; raises ValueError naming the offending part."""
    weights: dict[Severity, float] = {}
    for part in spec.split(","):
        name, separator, number = part.partition("=")
        name = name.strip().lower()
        if not separator or name not in _SEVERITY_NAMES:
            accepted = ", ".join(severity.value for severity in Severity)
            raise ValueError(f"bad weight {part.strip()!r}: expected SEVERITY=NUMBER ({accepted})")
        try:
            weight = float(number)
        except ValueError:
            problem = f"{number.strip()!r} is not a number"
            raise ValueError(f"bad weight {part.strip()!r}: {problem}") from None
        weights[Severity(name)] = weight
    return weights


def churn_factor(lines_changed: int | None, max_lines_changed: int) -> float:
    """1 for an unchanged (or unknown) file, 2 for the most churned file with bugs."""
    if not lines_changed or max_lines_changed <= 0:
        return 1.0
    return 1.0 + lines_changed / max_lines_changed


def coverage_factor(line_rate: float | None) -> float:
    """1 for a fully covered (or unmeasured) file, 2 for a file no test executes."""
    if line_rate is None:
        return 1.0
    return 1.0 + (1.0 - min(max(line_rate, 0.0), 1.0))


def risk_score(bug_score: float, churn: float, coverage: float) -> float:
    """Rounded so that equal risks compare equal whatever order the factors were applied in."""
    return round(bug_score * churn * coverage, 6)
