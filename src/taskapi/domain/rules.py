"""Business rules as pure functions over domain values."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from uuid import UUID

from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    InvalidTransition,
)
from taskapi.domain.model import Status

ALLOWED_TRANSITIONS: Mapping[Status, tuple[Status, ...]] = {
    Status.PENDING: (Status.IN_PROGRESS, Status.COMPLETED),
    Status.IN_PROGRESS: (Status.COMPLETED,),
    Status.COMPLETED: (Status.PENDING,),
}

# Given a batch of task ids, return the dependency list of each one that exists. Stores
# implement it with one round trip per call (SQL IN, DynamoDB BatchGetItem).
DependencyFetcher = Callable[[Collection[UUID]], Mapping[UUID, Sequence[UUID]]]


def check_transition(current: Status, target: Status) -> None:
    """Refuse a status change that the workflow does not allow (same status is no change)."""
    if current == target:
        return
    allowed = ALLOWED_TRANSITIONS[current]
    if target not in allowed:
        raise InvalidTransition(current, target, allowed)


def check_dependencies_exist(requested: Iterable[UUID], found: Collection[UUID]) -> None:
    missing = [dep for dep in requested if dep not in found]
    if missing:
        raise DependenciesNotFound(missing)


def check_can_complete(
    dependency_statuses: Mapping[UUID, Status], *, stays_completed: bool = False
) -> None:
    """A task may be completed only when every dependency is completed. (``stays_completed``:
    the task already was, and the write changes its dependencies; the error says so.)"""
    blocking = [dep for dep, status in dependency_statuses.items() if status != Status.COMPLETED]
    if blocking:
        raise DependenciesNotCompleted(blocking, stays_completed=stays_completed)


def find_cycle(
    task_id: UUID, dependencies: Sequence[UUID], fetch: DependencyFetcher
) -> list[UUID] | None:
    """Return the cycle that giving ``task_id`` these ``dependencies`` would close, or None.

    A cycle exists exactly when ``task_id`` is reachable from one of its new dependencies by
    following dependency edges. The search is a breadth-first walk, level by level:

    * iterative, so a chain of any depth is fine (no recursion limit);
    * every node is expanded once, so the work is linear in the reachable subgraph (diamond
      ladders stay linear, unlike a DFS that un-marks visited nodes);
    * each level costs one ``fetch`` call for the whole frontier, so a store can batch it.

    The returned path starts and ends with ``task_id``: ``[task_id, d, ..., task_id]``.
    Edges stored for ``task_id`` itself are ignored: the new ``dependencies`` replace them.
    """
    # Nodes are keyed by their 128-bit integer: hashing an int is a C call, hashing a UUID a
    # Python one, and the walk hashes every edge it follows (docs/performance.md).
    target = task_id.int
    parent: dict[int, int | None] = {}
    node_of: dict[int, UUID] = {}
    frontier: list[UUID] = []
    for dep in dependencies:
        key = dep.int
        if key == target:
            return [task_id, task_id]
        if key not in parent:
            parent[key] = None
            node_of[key] = dep
            frontier.append(dep)

    while frontier:
        edges = fetch(frontier)
        next_frontier: list[UUID] = []
        for node in frontier:
            node_key = node.int
            for dep in edges.get(node, ()):
                key = dep.int
                if key == target:
                    return _path_to(node_key, parent, node_of, task_id)
                if key not in parent:
                    parent[key] = node_key
                    node_of[key] = dep
                    next_frontier.append(dep)
        frontier = next_frontier
    return None


def _path_to(
    node: int, parent: Mapping[int, int | None], node_of: Mapping[int, UUID], task_id: UUID
) -> list[UUID]:
    chain: list[UUID] = []
    current: int | None = node
    while current is not None:
        chain.append(node_of[current])
        current = parent[current]
    chain.reverse()
    return [task_id, *chain, task_id]


def check_no_cycle(task_id: UUID, dependencies: Sequence[UUID], fetch: DependencyFetcher) -> None:
    cycle = find_cycle(task_id, dependencies, fetch)
    if cycle is not None:
        raise DependencyCycle(cycle)
