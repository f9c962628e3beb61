"""The optional TOML settings file (`--layers FILE`): layer rules, weights, column names and
severity aliases, so that a team's tracker export can be read as is.

This module only validates; `sources.load_settings` reads the file. The format, with an example
(`examples/layers.toml`): docs/operations.md ("Overriding them: the settings file").
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskrisk.layers import LayerMap, LayerRule
from taskrisk.model import BugRecord, LayerName, Severity
from taskrisk.scoring import SeverityWeights


class RiskMapSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    replace_default_layers: bool = False
    layers: dict[str, LayerName] = Field(default_factory=dict)
    weights: dict[Severity, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    columns: dict[str, str] = Field(default_factory=dict)
    severity_aliases: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _columns_name_record_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        known = BugRecord.model_fields.keys()
        for source, target in columns.items():
            if target not in known:
                raise ValueError(
                    f"column {source!r} maps to {target!r}, which is not a bug record field "
                    f"({', '.join(known)})"
                )
        return columns

    @field_validator("severity_aliases")
    @classmethod
    def _aliases_ignore_case(cls, aliases: dict[str, Severity]) -> dict[str, Severity]:
        return {alias.strip().lower(): severity for alias, severity in aliases.items()}

    def layer_map(self) -> LayerMap:
        rules = [LayerRule(pattern, layer) for pattern, layer in self.layers.items()]
        return LayerMap.with_overrides(rules, keep_defaults=not self.replace_default_layers)

    def severity_weights(self, overrides: dict[Severity, float] | None = None) -> SeverityWeights:
        """Defaults, then this file's `[weights]`, then the command line's `--weights`."""
        return SeverityWeights().with_overrides(self.weights | (overrides or {}))
