"""``If-Match`` (RFC 9110, section 13.1.1): the HTTP spelling of "write only if the task is
still at the version I read".

A task's ETag is its version in quotes (``"3"``): a strong validator. ``If-Match`` uses the
strong comparison, so a weak tag (``W/"3"``) never matches, and ``*`` matches any current
version. A header that is not a list of entity tags is a client error (400), not a mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from taskapi.domain.model import Task
from taskapi.domain.workspaces import Workspace
from taskapi.entrypoints.http.errors import InvalidPrecondition, PreconditionFailed

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
IF_MATCH_PATTERN = rf"^\s*(?:\*|{_ENTITY_TAG}(?:\s*,\s*{_ENTITY_TAG})*)\s*$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_VERSION = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True, slots=True)
class IfMatch:
    """A parsed ``If-Match``: ``*``, or the versions named by its strong tags."""

    any_version: bool
    versions: frozenset[int]

    @classmethod
    def parse(cls, header: str) -> IfMatch:
        if len(header) > 1024 or not _IF_MATCH.fullmatch(header):
            raise InvalidPrecondition(
                'If-Match must be "*" or a list of entity tags such as "3" (with the quotes)',
                {"header": "If-Match"},
            )
        if header.strip() == "*":
            return cls(any_version=True, versions=frozenset())
        versions = frozenset(
            int(opaque)
            for weak, opaque in _TAG.findall(header)
            # Weak tags never match (strong comparison); tags we never issue cannot match.
            if not weak and _VERSION.fullmatch(opaque)
        )
        return cls(any_version=False, versions=versions)

    @property
    def single_version(self) -> int | None:
        """The one version this condition allows, when it names exactly one."""
        if self.any_version or len(self.versions) != 1:
            return None
        return next(iter(self.versions))

    def expected_version(self, read_current: Callable[[], Task | Workspace]) -> int:
        """The version a conditional write must expect. Reads the task (or workspace) only
        when the header names something other than exactly one version (``*``, or a list):
        one named version is what the write is conditional on, read or not."""
        single = self.single_version
        if single is not None:
            return single
        current = read_current()
        if self.any_version or current.version in self.versions:
            return current.version
        raise PreconditionFailed(current)


def version_for_update(
    if_match: str, body_version: int | None, read_current: Callable[[], Task | Workspace]
) -> int | None:
    """The version an update with ``If-Match`` and the body's ``version`` must expect: the
    header's (412 when stale), or None when the body's version is the condition. That is when
    the header names no one version (``*``, or a list) and allows the body's: a stale one is
    then the body's 409 with the current state, as without the header. A body naming another
    version than the header does is a 400."""
    condition = IfMatch.parse(if_match)
    if (
        body_version is not None
        and condition.single_version is None
        and (condition.any_version or body_version in condition.versions)
    ):
        return None
    expected = condition.expected_version(read_current)
    if body_version is not None and body_version != expected:
        raise InvalidPrecondition(
            "version in the body and If-Match name different versions",
            {"version": body_version, "if_match": if_match[:100]},
        )
    return expected
