"""Which methods each path accepts: the resolver's routes, recorded as they are registered.

Powertools answers 404 for a known path with an unknown method; HTTP wants 405 with an
``Allow`` header. The table also tells the handler whether a request goes to a route that
takes a body, so body checks apply to real routes only (an unknown path stays a 404).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Methods whose routes take a request body in this API.
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# The label of a request no route takes (a 404 or a 405).
UNMATCHED = "unmatched"
_PARAMETER = re.compile(r"<([^/<>]+)>")


def _compile(rule: str) -> re.Pattern[str]:
    # "/tasks/<task_id>" -> ^/tasks/[^/]+/*$ (the REST resolver ignores trailing slashes too)
    parts = re.split(r"<[^/<>]+>", rule.rstrip("/"))
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "/*$")


@dataclass(slots=True)
class _Rule:
    pattern: re.Pattern[str]
    methods: list[str] = field(default_factory=list)


class RouteTable:
    def __init__(self) -> None:
        self._rules: dict[str, _Rule] = {}
        # The last answer of rule_taking: a POST, PUT or PATCH asks it twice (body checks,
        # then the route label of its metric line) with the same method and path. Routes are
        # all added at import, before the first request, so no answer outlives an add.
        self._last: tuple[str, str, str | None] | None = None

    def add(self, rule: str, methods: Iterable[str]) -> None:
        entry = self._rules.setdefault(rule, _Rule(_compile(rule)))
        entry.methods.extend(m.upper() for m in methods if m.upper() not in entry.methods)
        self._last = None

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """Every method some route accepts at ``path`` (literal and templated rules alike);
        HEAD wherever GET is (the handler answers it as GET)."""
        allowed = {
            method
            for entry in self._rules.values()
            if entry.pattern.match(path)
            for method in entry.methods
        }
        if "GET" in allowed:
            allowed.add("HEAD")
        return tuple(sorted(allowed))

    def rule_taking(self, method: str, path: str) -> str | None:
        """The rule (``/workspaces/<workspace_id>``) of the route that takes ``method`` at
        ``path`` (HEAD where GET is); None when none does (the request is a 404 or a 405)."""
        method = method.upper()
        method = "GET" if method == "HEAD" else method
        last = self._last  # one read: another thread may replace it, never half-way
        if last is not None and last[0] == method and last[1] == path:
            return last[2]
        found = next(
            (
                rule
                for rule, entry in self._rules.items()
                if method in entry.methods and entry.pattern.match(path)
            ),
            None,
        )
        self._last = (method, path, found)
        return found

    def label(self, method: str, path: str) -> str:
        """The route a request went to as metrics and logs name it: its method and the rule
        it matched (``GET /workspaces/{workspace_id}``), never its path; ``unmatched`` when
        no route takes it."""
        method = method.upper()
        rule = self.rule_taking(method, path)
        return UNMATCHED if rule is None else _label(method, rule)

    def takes_body(self, method: str, path: str) -> bool:
        method = method.upper()
        return method in METHODS_WITH_BODY and self.rule_taking(method, path) is not None


@functools.cache
def _label(method: str, rule: str) -> str:
    template = _PARAMETER.sub(r"{\g<1>}", rule)
    return f"{method} {template}"
