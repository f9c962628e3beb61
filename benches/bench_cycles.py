"""Cycle detection (``taskapi.domain.rules.find_cycle``) on large dependency graphs.

    .venv/bin/python -m benches cycles
    .venv/bin/python -m benches.bench_cycles --sizes 1000 10000 --repeat 3

The store is a dict from task id to its dependency ids, read through a ``fetch`` function like
the repositories' ``dependencies_of``, so the figures are the algorithm's own cost: what a real
store adds is one round trip per fetch call (a SQL ``IN`` query, a DynamoDB ``BatchGetItem``
per 100 keys), and the table counts those calls.

Shapes, each about N nodes:

* chain: t0 -> t1 -> ... (each task depends on the next): the deepest graph, N levels;
* diamonds: a ladder of N/3 diamonds, 2**(N/3) distinct paths from top to bottom; a search
  that re-visits nodes is exponential here;
* random DAG: each task depends on up to three of the next 100 tasks: wide and shallow-ish.

Two searches per graph: "new edge, no cycle" gives a brand-new task a dependency on the root
(everything reachable is read, nothing found); "closing edge" makes the deepest task depend on
the root, which closes the longest cycle the graph allows.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from uuid import UUID

from benches import best_of, markdown_table
from taskapi.domain.rules import DependencyFetcher, find_cycle

Graph = dict[UUID, tuple[UUID, ...]]

DEFAULT_SIZES = (1_000, 10_000, 100_000)


def ids(count: int) -> list[UUID]:
    return [UUID(int=n + 1) for n in range(count)]


def chain(size: int) -> tuple[Graph, UUID, UUID]:
    """The graph, its root (depends on everything) and its deepest task."""
    nodes = ids(size)
    graph: Graph = {a: (b,) for a, b in pairwise(nodes)}
    graph[nodes[-1]] = ()
    return graph, nodes[0], nodes[-1]


def diamonds(size: int) -> tuple[Graph, UUID, UUID]:
    rungs = max(1, (size - 1) // 3)
    nodes = ids(3 * rungs + 1)
    graph: Graph = {}
    for rung in range(rungs):
        top, left, right, bottom = nodes[3 * rung : 3 * rung + 4]
        graph[top] = (left, right)
        graph[left] = graph[right] = (bottom,)
    graph[nodes[-1]] = ()
    return graph, nodes[0], nodes[-1]


def random_dag(size: int, seed: int = 42) -> tuple[Graph, UUID, UUID]:
    rng = random.Random(seed)
    nodes = ids(size)
    graph: Graph = {}
    for index, task in enumerate(nodes):
        later = nodes[index + 1 : index + 101]
        # The next task is always a dependency, so the root reaches every task.
        extra = rng.sample(later[1:], k=min(2, max(0, len(later) - 1)))
        graph[task] = tuple(later[:1] + extra)
    return graph, nodes[0], nodes[-1]


SHAPES = {"chain": chain, "diamonds": diamonds, "random DAG": random_dag}


def dict_fetcher(graph: Graph) -> DependencyFetcher:
    def fetch(task_ids: Collection[UUID]) -> Mapping[UUID, Sequence[UUID]]:
        return {i: graph[i] for i in task_ids if i in graph}

    return fetch


@dataclass
class CountingFetcher:
    """Counts round trips and ids read; used in a separate, untimed run."""

    graph: Graph
    calls: int = 0
    ids_read: int = 0

    def __call__(self, task_ids: Collection[UUID]) -> Mapping[UUID, Sequence[UUID]]:
        self.calls += 1
        self.ids_read += len(task_ids)
        return {i: self.graph[i] for i in task_ids if i in self.graph}


def measure(
    graph: Graph, task: UUID, dependencies: list[UUID], repeat: int
) -> tuple[int, int, int | None, float]:
    counter = CountingFetcher(graph)
    path = find_cycle(task, dependencies, counter)
    fetch = dict_fetcher(graph)
    seconds = best_of(lambda: find_cycle(task, dependencies, fetch), repeat)
    return counter.calls, counter.ids_read, None if path is None else len(path) - 1, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (best kept)")
    args = parser.parse_args(argv)

    rows: list[list[object]] = []
    for shape, build in SHAPES.items():
        for size in args.sizes:
            graph, root, deepest = build(size)
            new_task = UUID(int=0)  # not in the graph
            cases = {"new edge, no cycle": (new_task, [root]), "closing edge": (deepest, [root])}
            for case, (task, dependencies) in cases.items():
                calls, read, cycle_length, seconds = measure(graph, task, dependencies, args.repeat)
                rows.append(
                    [
                        shape,
                        f"{len(graph):,}",
                        case,
                        f"{calls:,}",
                        f"{read:,}",
                        "-" if cycle_length is None else f"{cycle_length:,}",
                        f"{seconds * 1e3:.2f}",
                        f"{seconds / max(read, 1) * 1e6:.2f}",
                    ]
                )
    headers = [
        "shape",
        "nodes",
        "search",
        "fetch calls",
        "ids read",
        "cycle edges",
        "best (ms)",
        "µs per id",
    ]
    print(f"find_cycle, in-memory fetch, best of {args.repeat} (time.perf_counter)\n")
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
