"""Every bench still runs, on the smallest inputs its options allow (``make bench-check``).

A bench is code nobody runs until someone needs a figure; the cold-start bench stopped working
when tasks moved under workspaces and nothing noticed. These runs prove each one can still
produce its table: they assert that it exited 0 (a bench exits non-zero when a request got an
unexpected status) and printed the rows it exists for, never a timing. They start processes
and a moto server, so they are not in ``make test``'s time budget: CI runs them after it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# (module, smallest arguments, text its output must contain)
RUNS = [
    ("bench_cold_start", ["--runs", "1"],
     ["| floor: resolver + one GetItem ", "| floor + validation (Pydantic) ", "| api ",
      "| api (deployed, .pyc) ", "| api (deployed, no .pyc) "]),
    ("bench_contention", ["--workspaces", "2", "--writers", "1", "--edits", "2"],
     ["conflicts across workspaces"]),
    ("bench_cycles", ["--sizes", "100", "--repeat", "1"], ["| chain", "| random DAG"]),
    ("bench_dynamodb", ["--sizes", "50", "--subgraphs", "5"], ["create with 10 dependencies"]),
    ("bench_handler", ["--requests", "20", "--repeat", "1"],
     ["| POST /workspaces/{w}/tasks ", "| floor: POST"]),
    ("bench_local_server", ["--requests", "20", "--seconds", "5", "--threads", "1"],
     ["| POST /workspaces/{w}/tasks "]),
    ("bench_riskmap", ["--records", "200", "--repeat", "1"], ["peak RSS"]),
]  # fmt: skip


def test_every_bench_module_is_covered_here() -> None:
    on_disk = {path.stem for path in (REPO / "benches").glob("bench_*.py")}
    assert on_disk == {module for module, _, _ in RUNS}


@pytest.mark.parametrize(("module", "arguments", "expected"), RUNS, ids=[r[0] for r in RUNS])
def test_the_bench_runs_and_prints_its_table(
    module: str, arguments: list[str], expected: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"benches.{module}", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
