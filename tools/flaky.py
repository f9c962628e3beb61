"""Run the whole suite once per random-order seed and report every test that failed in any run.

    .venv/bin/python tools/flaky.py [--seeds 20] [--first-seed N] [--out DIR] [-- PYTEST ARGS]

Each run is ``pytest -p randomly --randomly-seed=<seed>`` (seeds ``N``, ``N+1``, ...; ``N`` is
random unless given, and printed), with a JUnit XML report per run under ``--out``. A test that
failed in some runs but not all is *flaky*; one that failed in every run is simply *failing*.
Reproduce one with the seed shown: ``pytest -p randomly --randomly-seed=<seed> <test id>``
(the order, and so the failure, may need the whole suite). Exit 1 if any test failed.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Run:
    seed: int
    exit_code: int
    seconds: float
    tests: int
    failed: frozenset[str]
    report_missing: bool = False


@dataclass(slots=True)
class Summary:
    runs: list[Run] = field(default_factory=list)

    def failures(self) -> dict[str, list[int]]:
        """Every test that failed in any run, with the seeds it failed under."""
        seeds: dict[str, list[int]] = defaultdict(list)
        for run in self.runs:
            for test in run.failed:
                seeds[test].append(run.seed)
        return dict(sorted(seeds.items()))

    def broken_runs(self) -> list[Run]:
        """Runs that failed without a failing test to show for it (a crash, a collection
        error, an interrupted session)."""
        return [run for run in self.runs if run.exit_code != 0 and not run.failed]

    def ok(self) -> bool:
        return bool(self.runs) and not self.failures() and not self.broken_runs()


def failed_tests(report: Path) -> tuple[int, frozenset[str]]:
    """How many test cases a JUnit XML report holds, and the ids of those that failed or
    errored (in setup, call or teardown)."""
    root = ET.parse(report).getroot()  # noqa: S314 - our own pytest's report
    cases = list(root.iter("testcase"))
    failed = {
        _test_id(case)
        for case in cases
        if case.find("failure") is not None or case.find("error") is not None
    }
    return len(cases), frozenset(failed)


def _test_id(case: ET.Element) -> str:
    # As pytest writes it: classname "tests.unit.test_x" (or "tests.unit.test_x.TestClass").
    classname, name = case.get("classname", ""), case.get("name", "")
    return f"{classname}::{name}" if classname else name


def run_once(seed: int, out: Path, pytest_args: Sequence[str]) -> Run:
    report = out / f"seed-{seed}.xml"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "randomly",
        f"--randomly-seed={seed}",
        f"--junitxml={report}",
        "-q",
        "--no-header",
        *pytest_args,
    ]
    started = time.monotonic()
    completed = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
    seconds = time.monotonic() - started
    (out / f"seed-{seed}.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if not report.exists():
        return Run(seed, completed.returncode, seconds, 0, frozenset(), report_missing=True)
    tests, failed = failed_tests(report)
    return Run(seed, completed.returncode, seconds, tests, failed)


def report(summary: Summary) -> str:
    lines = [f"{len(summary.runs)} run(s):"]
    lines += [
        f"  seed {run.seed}: {run.tests} tests, {len(run.failed)} failed, exit {run.exit_code}, "
        f"{run.seconds:.0f} s" + (" (no report: see its log)" if run.report_missing else "")
        for run in summary.runs
    ]
    failures = summary.failures()
    for test, seeds in failures.items():
        kind = "failing" if len(seeds) == len(summary.runs) else "FLAKY"
        lines.append(f"{kind}: {test} (seeds {', '.join(map(str, seeds))})")
    for run in summary.broken_runs():
        lines.append(f"run with seed {run.seed} failed with no failing test: see its log")
    if summary.ok():
        lines.append(f"no test failed in any of {len(summary.runs)} run(s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=20, help="how many runs (default 20)")
    parser.add_argument("--first-seed", type=int, default=None, help="default: random")
    parser.add_argument("--out", type=Path, default=Path("build/flaky"), help="reports, logs")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to every pytest run")
    args = parser.parse_args(argv)
    # A test order, not a secret.
    first = args.first_seed if args.first_seed is not None else random.randrange(1, 10**6)  # noqa: S311
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{args.seeds} run(s), seeds {first}..{first + args.seeds - 1}, reports in {args.out}")
    summary = Summary()
    for seed in range(first, first + args.seeds):
        run = run_once(seed, args.out, args.pytest_args)
        summary.runs.append(run)
        failed = ", ".join(sorted(run.failed)) or "none"
        print(f"seed {seed}: {run.tests} tests, {run.seconds:.0f} s, failed: {failed}", flush=True)
    print(report(summary))
    return 0 if summary.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
