"""``find_cycle`` against networkx as the oracle.

The graphs are dependency graphs: an edge ``a -> b`` means "a depends on b". Each example is a
random DAG (edges only go forward in a random order of the nodes, so it cannot have a cycle),
one task in it and a candidate list of new dependencies for that task. Adding the edges
``task -> dep`` closes a cycle exactly when ``dep == task`` or the task is reachable from a dep.

Besides the answer, the tests pin down the cost model the stores rely on: one ``fetch`` call per
BFS level (a SQL ``IN`` / DynamoDB ``BatchGetItem`` round trip), each node read at most once, and
nothing read outside the subgraph reachable from the new dependencies.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Collection, Sequence
from itertools import pairwise
from uuid import UUID

import networkx as nx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from taskapi.domain.rules import find_cycle

MAX_NODES = 30


def node(index: int) -> UUID:
    return UUID(int=index + 1)


class RecordingFetcher:
    """A ``DependencyFetcher`` over a graph that records every batch it is asked for.

    It also fails the test as soon as more ids are read than the graph has nodes: a search that
    re-reads nodes is exponential on diamond ladders, and should fail fast rather than hang.
    """

    def __init__(self, graph: nx.DiGraph) -> None:
        self._graph = graph
        self.calls: list[list[UUID]] = []
        self._read_budget = graph.number_of_nodes()

    def __call__(self, task_ids: Collection[UUID]) -> dict[UUID, list[UUID]]:
        batch = list(task_ids)
        self.calls.append(batch)
        self._read_budget -= len(batch)
        if self._read_budget < 0:
            raise AssertionError(
                f"read more ids than the {self._graph.number_of_nodes()} nodes of the graph"
            )
        return {i: list(self._graph.successors(i)) for i in batch if i in self._graph}

    @property
    def reads(self) -> Counter[UUID]:
        return Counter(i for batch in self.calls for i in batch)


@st.composite
def dags(draw: st.DrawFn) -> nx.DiGraph:
    """A random DAG: edges only go from an earlier to a later node of a random permutation.

    Each node draws up to three predecessors, so paths run deep and fan in (diamonds), which is
    where a search that re-reads nodes or recurses would go wrong.
    """
    size = draw(st.integers(min_value=1, max_value=MAX_NODES))
    order = draw(st.permutations([node(i) for i in range(size)]))
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    for later in range(1, size):
        earlier = draw(st.lists(st.integers(0, later - 1), unique=True, max_size=3))
        graph.add_edges_from((order[i], order[later]) for i in earlier)
    return graph


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[nx.DiGraph, UUID, list[UUID]]:
    """A DAG, a task in it and a candidate (duplicate-free) dependency list for that task."""
    graph = draw(dags())
    nodes: list[UUID] = list(graph.nodes)
    task = draw(st.sampled_from(nodes))
    # The task itself is a candidate only in a one-node graph: otherwise self-dependencies
    # would crowd out the searches (the explicit test below covers them too).
    candidates = [n for n in nodes if n != task] or nodes
    dependencies = draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1, max_size=4))
    # Random picks rarely close a cycle in a sparse DAG; half the time, aim for one by adding
    # a node the task is reachable from.
    upstream: list[UUID] = sorted(nx.ancestors(graph, task))
    aim_for_a_cycle: bool = bool(upstream) and draw(st.booleans(), label="aim for a cycle")
    if aim_for_a_cycle:
        dependencies = [*dict.fromkeys([*dependencies, draw(st.sampled_from(upstream))])]
    return graph, task, dependencies


def without_own_edges(graph: nx.DiGraph, task: UUID) -> nx.DiGraph:
    """The stored graph as the search sees it: the task's stored edges are being replaced."""
    trimmed = graph.copy()
    trimmed.remove_edges_from(list(graph.out_edges(task)))
    return trimmed


def with_new_edges(graph: nx.DiGraph, task: UUID, dependencies: Sequence[UUID]) -> nx.DiGraph:
    changed = without_own_edges(graph, task)
    changed.add_edges_from((task, dep) for dep in dependencies)
    return changed


def oracle_closes_cycle(graph: nx.DiGraph, task: UUID, dependencies: Sequence[UUID]) -> bool:
    return any(dep == task or nx.has_path(graph, dep, task) for dep in dependencies)


def bfs_distances(graph: nx.DiGraph, sources: Sequence[UUID]) -> dict[UUID, int]:
    """Edge count from the nearest source to every node reachable from the sources."""
    distances: dict[UUID, int] = nx.multi_source_dijkstra_path_length(graph, set(sources))
    return distances


@given(scenarios())
def test_finds_a_cycle_exactly_when_networkx_does(
    scenario: tuple[nx.DiGraph, UUID, list[UUID]],
) -> None:
    graph, task, dependencies = scenario
    path = find_cycle(task, dependencies, RecordingFetcher(graph))

    expected = oracle_closes_cycle(graph, task, dependencies)
    event("closes a cycle" if expected else "acyclic")
    assert (path is not None) == expected
    if path is None:
        return

    changed = with_new_edges(graph, task, dependencies)
    assert path[0] == task
    assert path[-1] == task
    assert all(changed.has_edge(a, b) for a, b in pairwise(path)), path
    assert len(set(path[:-1])) == len(path) - 1, "the cycle must be simple"
    # Breadth-first search reports a shortest cycle through the new edges: the error names
    # the fewest tasks a user has to look at.
    if task in dependencies:
        assert path == [task, task]
    else:
        distance = bfs_distances(without_own_edges(graph, task), dependencies)[task]
        assert len(path) - 1 == 1 + distance


@given(scenarios())
def test_reads_only_the_reachable_subgraph_once_per_node_and_one_batch_per_level(
    scenario: tuple[nx.DiGraph, UUID, list[UUID]],
) -> None:
    graph, task, dependencies = scenario
    fetch = RecordingFetcher(graph)
    path = find_cycle(task, dependencies, fetch)

    searched = without_own_edges(graph, task)
    distances = bfs_distances(searched, dependencies) if dependencies else {}
    reachable = set(distances) - {task}
    reads = fetch.reads
    event(f"BFS levels read: {len(fetch.calls)}")

    assert all(fetch.calls), "never a round trip for an empty batch"
    assert max(reads.values(), default=1) == 1, "a node was read twice"
    assert task not in reads, "the task's own stored edges are being replaced, not read"
    assert set(reads) <= reachable
    assert sum(reads.values()) <= len(reachable)
    levels = 0 if not reachable else max(distances[i] for i in reachable) + 1
    assert levels <= nx.dag_longest_path_length(searched.subgraph(reachable)) + 1
    if path is None:
        # Nothing found: the whole reachable subgraph was read, one batch per BFS level.
        assert set(reads) == reachable
        assert len(fetch.calls) == levels
    elif task in dependencies:
        assert fetch.calls == []
    else:
        # Found at the level where the task first appears; no level after it was read.
        assert len(fetch.calls) == distances[task]


# -- explicit shapes ------------------------------------------------------------------------


def diamond_ladder(rungs: int) -> tuple[nx.DiGraph, UUID, UUID]:
    """``rungs`` diamonds in a row: top_i -> left_i, right_i -> top_(i+1).

    There are 2**rungs distinct paths from the first top to the last: a search that re-visits
    nodes (a DFS that un-marks them) takes exponential time here.
    """
    graph = nx.DiGraph()
    tops = [node(3 * i) for i in range(rungs + 1)]
    for i in range(rungs):
        left, right = node(3 * i + 1), node(3 * i + 2)
        graph.add_edges_from([(tops[i], left), (tops[i], right)])
        graph.add_edges_from([(left, tops[i + 1]), (right, tops[i + 1])])
    return graph, tops[0], tops[-1]


@pytest.mark.parametrize("rungs", [1, 2, 10, 500])
def test_diamond_ladder_without_a_cycle_reads_each_node_once(rungs: int) -> None:
    graph, first, _ = diamond_ladder(rungs)
    new_task = node(10 * rungs + 10)  # not in the graph: it cannot close a cycle
    fetch = RecordingFetcher(graph)

    assert find_cycle(new_task, [first], fetch) is None
    assert set(fetch.reads) == set(graph.nodes)
    assert sum(fetch.reads.values()) == 3 * rungs + 1
    assert len(fetch.calls) == 2 * rungs + 1


@pytest.mark.parametrize("rungs", [1, 2, 10, 500])
def test_diamond_ladder_closed_into_a_cycle_is_found_in_linear_work(rungs: int) -> None:
    graph, first, last = diamond_ladder(rungs)
    fetch = RecordingFetcher(graph)

    path = find_cycle(last, [first], fetch)

    assert path is not None
    assert len(path) == 2 * rungs + 2  # last, then a top and a side per rung, then last
    assert all(graph.has_edge(a, b) for a, b in pairwise(path[1:]))
    assert sum(fetch.reads.values()) == 3 * rungs  # every node except the task itself


CHAIN_LENGTH = 10_000


def test_a_chain_deeper_than_the_recursion_limit_is_closed_without_recursion() -> None:
    assert sys.getrecursionlimit() < CHAIN_LENGTH, "the chain must out-grow a recursive search"
    chain = [node(i) for i in range(CHAIN_LENGTH)]
    graph = nx.DiGraph(list(pairwise(chain)))  # each task depends on the next one
    fetch = RecordingFetcher(graph)

    path = find_cycle(chain[-1], [chain[0]], fetch)

    assert path == [chain[-1], *chain]
    assert len(path) == CHAIN_LENGTH + 1
    assert len(fetch.calls) == CHAIN_LENGTH - 1


def test_a_self_dependency_is_a_cycle_found_without_reading_the_store() -> None:
    task = node(0)
    fetch = RecordingFetcher(nx.DiGraph([(task, node(1))]))

    assert find_cycle(task, [node(1), task], fetch) == [task, task]
    assert fetch.calls == []
