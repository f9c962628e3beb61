"""Which hexagonal layer a file belongs to, guessed from its path by rules checked in order.

The pattern syntax and why `DEFAULT_RULES` is ordered as it is: docs/operations.md ("Layers");
the order is also commented where it matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from taskrisk.model import Layer, normalise_path

_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class LayerRule:
    pattern: str
    layer: Layer

    def matches(self, path: str) -> bool:
        """`path` is already lower-cased and normalised (see `LayerMap.layer_of`)."""
        pattern = self.pattern.lower()
        if not _GLOB_CHARACTERS.intersection(pattern):
            return pattern in path
        # A leading "/" lets "*/handlers/*" match "handlers/x.py" at the top of the tree too.
        return fnmatchcase(path, pattern) or fnmatchcase("/" + path, pattern)


def _rules(layer: Layer, *patterns: str) -> tuple[LayerRule, ...]:
    return tuple(LayerRule(pattern, layer) for pattern in patterns)


DEFAULT_RULES: tuple[LayerRule, ...] = (
    # Infrastructure first: a handler directory inside infra/ or cdk/ is still deployment code.
    *_rules(
        Layer.INFRASTRUCTURE,
        "template.yaml",
        "template.yml",
        "samconfig.toml",
        "serverless.yml",
        "*.tf",
        "*.tfvars",
        "*infra*",
        "*cdk*",
        "*cloudformation*",
        "*dockerfile*",
        "*bootstrap*",
        "*/config.py",
        "*/settings.py",
    ),
    *_rules(
        Layer.ENTRYPOINT,
        "*/handlers/*",
        "*handler.py",
        "*handlers.py",
        "*entrypoints*",
        "*api.py",
        "*/app.py",
        "*lambda_function.py",
        "*/routes/*",
        "*cli.py",
    ),
    # Before domain and model: "adapters/dynamodb_models.py" is persistence code.
    *_rules(
        Layer.ADAPTER,
        "*adapters*",
        "*dynamodb*",
        "*repository*",
        "*eventbridge*",
        "*sqlite*",
        "*/clients/*",
        "*integrations*",
        "*notifier*",
        "*publisher*",
    ),
    # Before model: "domain/model.py" is the domain model, not a transport schema.
    *_rules(Layer.DOMAIN, "*domain*"),
    *_rules(Layer.MODEL, "*models*", "*model.py", "*schemas*", "*schema.py"),
    *_rules(Layer.SERVICE, "*service*", "*use_cases*", "*usecases*"),
)


@dataclass(slots=True)
class LayerMap:
    """Rules checked in order; files no rule matches are `Layer.UNKNOWN`."""

    rules: tuple[LayerRule, ...] = DEFAULT_RULES
    # Bug lists repeat the same few hundred files many times over: classify each path once.
    _cache: dict[str, Layer] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def with_overrides(
        cls, overrides: Iterable[LayerRule], *, keep_defaults: bool = True
    ) -> LayerMap:
        """User rules go first so they win; the defaults still catch everything else."""
        rules = tuple(overrides) + (DEFAULT_RULES if keep_defaults else ())
        return cls(rules=rules)

    def layer_of(self, path: str) -> Layer:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        candidate = normalise_path(path).lower()
        layer = next((rule.layer for rule in self.rules if rule.matches(candidate)), Layer.UNKNOWN)
        self._cache[path] = layer
        return layer
