"""Business rules: status workflow, dependency checks and cycle detection."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from uuid import UUID

import pytest

from taskapi.domain import rules
from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    InvalidTransition,
)
from taskapi.domain.model import Status


def ids(count: int) -> list[UUID]:
    return [UUID(int=n) for n in range(1, count + 1)]


# -- status transitions ---------------------------------------------------------------------

ALLOWED = {
    (Status.PENDING, Status.IN_PROGRESS),
    (Status.PENDING, Status.COMPLETED),
    (Status.IN_PROGRESS, Status.COMPLETED),
    (Status.COMPLETED, Status.PENDING),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(Status, Status) if pair in ALLOWED or pair[0] == pair[1]],
)
def test_allowed_transitions_pass(current: Status, target: Status) -> None:
    rules.check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (Status.IN_PROGRESS, Status.PENDING, ["completed"]),
        (Status.COMPLETED, Status.IN_PROGRESS, ["pending"]),
    ],
)
def test_refused_transitions_name_the_allowed_targets(
    current: Status, target: Status, allowed: list[str]
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        rules.check_transition(current, target)
    assert raised.value.details == {"from": current, "to": target, "allowed": allowed}
    assert f"allowed: {', '.join(allowed)}" in raised.value.message


def test_the_transition_table_is_exactly_the_workflow() -> None:
    table = {(a, b) for a, targets in rules.ALLOWED_TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    refused = {p for p in itertools.product(Status, Status) if p not in ALLOWED and p[0] != p[1]}
    assert len(refused) == 2  # the two parametrised above


# -- dependency checks ----------------------------------------------------------------------


def test_completion_is_blocked_by_every_incomplete_dependency_in_order() -> None:
    a, b, c, d = ids(4)
    with pytest.raises(DependenciesNotCompleted) as raised:
        rules.check_can_complete(
            {a: Status.COMPLETED, b: Status.IN_PROGRESS, c: Status.COMPLETED, d: Status.PENDING}
        )
    assert raised.value.blocking == (b, d)
    assert raised.value.details == {"blocking_dependencies": [str(b), str(d)]}
    assert str(b) in raised.value.message
    assert str(a) not in raised.value.message


def test_completion_with_all_or_no_dependencies_completed_passes() -> None:
    rules.check_can_complete({})
    rules.check_can_complete(dict.fromkeys(ids(3), Status.COMPLETED))


def test_missing_dependencies_are_named_in_request_order() -> None:
    a, b, c = ids(3)
    with pytest.raises(DependenciesNotFound) as raised:
        rules.check_dependencies_exist([c, a, b], found={a})
    assert raised.value.missing == (c, b)
    assert raised.value.details == {"missing_dependencies": [str(c), str(b)]}


def test_dependencies_that_all_exist_pass() -> None:
    rules.check_dependencies_exist(ids(2), found=set(ids(3)))


# -- cycle detection ------------------------------------------------------------------------


class Graph:
    """A dependency graph as a ``DependencyFetcher`` that records every batch it is asked."""

    def __init__(self, edges: Mapping[UUID, Sequence[UUID]]) -> None:
        self.edges = edges
        self.batches: list[list[UUID]] = []

    def __call__(self, task_ids: Collection[UUID]) -> dict[UUID, Sequence[UUID]]:
        self.batches.append(list(task_ids))
        return {i: self.edges[i] for i in task_ids if i in self.edges}

    @property
    def fetched(self) -> list[UUID]:
        return [i for batch in self.batches for i in batch]


def test_no_cycle_returns_none() -> None:
    t, a, b, c = ids(4)
    graph = Graph({a: [b], b: [c], c: []})
    assert rules.find_cycle(t, [a], graph) is None


def test_no_dependencies_needs_no_reads() -> None:
    graph = Graph({})
    assert rules.find_cycle(UUID(int=1), [], graph) is None
    assert graph.batches == []


def test_self_dependency_is_the_shortest_cycle() -> None:
    t, a = ids(2)
    graph = Graph({a: []})
    assert rules.find_cycle(t, [a, t], graph) == [t, t]
    assert graph.batches == []  # found without reading anything


def test_a_two_task_cycle() -> None:
    t, a = ids(2)
    assert rules.find_cycle(t, [a], Graph({a: [t]})) == [t, a, t]


def test_the_path_of_a_simple_chain() -> None:
    t, a, b, c = ids(4)
    graph = Graph({a: [b], b: [c], c: [t]})
    assert rules.find_cycle(t, [a], graph) == [t, a, b, c, t]
    assert graph.batches == [[a], [b], [c]]  # one batched read per level


def test_the_shortest_path_is_reported_when_several_close_the_cycle() -> None:
    t, a, b, c, d = ids(5)
    graph = Graph({a: [b], b: [c], c: [t], d: [t]})
    assert rules.find_cycle(t, [a, d], graph) == [t, d, t]


def test_the_stored_edges_of_the_task_itself_are_ignored() -> None:
    t, a = ids(2)
    # t currently depends on a; giving it new dependencies replaces that edge.
    assert rules.find_cycle(t, [], Graph({t: [a], a: []})) is None
    assert rules.find_cycle(a, [t], Graph({t: [a], a: []})) == [a, t, a]


def test_a_diamond_reports_one_path_and_reads_the_shared_node_once() -> None:
    t, a, b, shared = ids(4)
    graph = Graph({a: [shared], b: [shared], shared: [t]})
    assert rules.find_cycle(t, [a, b], graph) == [t, a, shared, t]
    assert graph.fetched.count(shared) == 1


def test_a_diamond_ladder_is_linear_not_exponential() -> None:
    """30 stacked diamonds: 2**30 paths, 120 nodes. A DFS that un-marks visited nodes walks
    every path; the breadth-first walk reads each node once."""
    t = UUID(int=10**9)
    edges: dict[UUID, list[UUID]] = {}
    levels = 30
    for level in range(levels):
        top, left, right, bottom = (UUID(int=4 * level + k + 1) for k in range(4))
        edges[top] = [left, right]
        edges[left] = [bottom]
        edges[right] = [bottom]
        edges[bottom] = [UUID(int=4 * (level + 1) + 1)] if level < levels - 1 else []
    graph = Graph(edges)

    assert rules.find_cycle(t, [UUID(int=1)], graph) is None
    assert len(graph.fetched) == len(set(graph.fetched)) == len(edges)

    edges[UUID(int=4 * levels)] = [t]  # the last bottom now leads back: a cycle
    path = rules.find_cycle(t, [UUID(int=1)], Graph(edges))
    assert path is not None
    assert (path[0], path[-1], len(path)) == (t, t, 3 * levels + 2)


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    depth = 20_000
    t = UUID(int=10**9)
    chain = ids(depth)
    edges = {a: [b] for a, b in itertools.pairwise(chain)} | {chain[-1]: [t]}
    path = rules.find_cycle(t, [chain[0]], Graph(edges))
    assert path == [t, *chain, t]


def test_check_no_cycle_raises_with_the_path() -> None:
    t, a, b = ids(3)
    with pytest.raises(DependencyCycle) as raised:
        rules.check_no_cycle(t, [a], Graph({a: [b], b: [t]}))
    assert raised.value.path == (t, a, b, t)
    assert raised.value.details == {"cycle": [str(t), str(a), str(b), str(t)]}
    assert " -> ".join([str(t), str(a), str(b), str(t)]) in raised.value.message
