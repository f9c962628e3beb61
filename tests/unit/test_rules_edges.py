"""Cycle detection when the store returns no edges for a node: a dependency deleted while the
walk runs, or one the store does not have, is a dead end, not an error."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from uuid import UUID

from taskapi.domain import rules


def test_a_node_the_store_does_not_return_ends_its_path() -> None:
    task, gone, kept, leaf = (UUID(int=i) for i in range(1, 5))
    edges: dict[UUID, Sequence[UUID]] = {kept: [leaf], leaf: [task]}

    def fetch(ids: Collection[UUID]) -> dict[UUID, Sequence[UUID]]:
        return {i: edges[i] for i in ids if i in edges}

    assert rules.find_cycle(task, [gone], fetch) is None
    assert rules.find_cycle(task, [gone, kept], fetch) == [task, kept, leaf, task]
