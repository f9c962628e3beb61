"""Risk map benchmark: synthetic bug exports through parsing, analysis and every renderer.

    .venv/bin/python benches/bench_riskmap.py                 # 100,000 records, seed 6
    .venv/bin/python benches/bench_riskmap.py --records 20000 --repeat 1

Each stage is timed on its own (best of --repeat runs, perf_counter), then run once more
under tracemalloc for its peak Python allocation. Then the whole command,
`taskapi risk bugs.json --format markdown --out ...`, runs once in a fresh interpreter, for
the wall time and peak resident set size (getrusage ru_maxrss) a user would see; the
benchmark process's own ru_maxrss is printed last. Figures go in docs/performance.md ("Risk map").
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from taskrisk.analysis import analyse
from taskrisk.model import BugRecord
from taskrisk.render import OutputFormat, RenderOptions, render
from taskrisk.report import Report
from taskrisk.sources import load_bugs

COMPONENTS = [f"component-{n:02d}" for n in range(40)]
LAYER_DIRECTORIES = ["entrypoints", "service", "domain", "adapters", "models", "infra", "misc"]
CATEGORIES = [
    "validation",
    "data_integrity",
    "error_handling",
    "concurrency",
    "performance",
    "serialization",
    "observability",
    "architecture",
    "security",
    "configuration",
    "localisation",
    "documentation",
]
SEVERITIES = ["critical", "high", "medium", "low"]
SEVERITY_SHARES = [5, 20, 45, 30]
TESTING_GAPS = [f"no test for case {n}" for n in range(60)]
FIRST_DAY = date(2024, 1, 1)


def synthetic_records(count: int, seed: int) -> list[dict[str, Any]]:
    """Realistic-looking skew: a few components and files collect most bugs."""
    rng = random.Random(seed)
    files = [f"src/app/{rng.choice(LAYER_DIRECTORIES)}/module_{n:04d}.py" for n in range(2_000)]
    records = []
    for number in range(count):
        opened = FIRST_DAY + timedelta(days=rng.randrange(730))
        record: dict[str, Any] = {
            "id": f"BUG-{number}",
            "title": f"Synthetic bug {number}",
            "severity": rng.choices(SEVERITIES, SEVERITY_SHARES)[0],
            "component": COMPONENTS[min(int(rng.paretovariate(1.2)) - 1, len(COMPONENTS) - 1)],
            "file": files[min(int(rng.paretovariate(0.8)) - 1, len(files) - 1)],
            "category": rng.choice(CATEGORIES),
            "description": "Generated for the benchmark.",
            "status": "open",
            "opened_at": opened.isoformat(),
        }
        if rng.random() < 0.6:
            record["testing_gap"] = rng.choice(TESTING_GAPS)
        if rng.random() < 0.7:
            record["status"] = "closed"
            record["closed_at"] = (opened + timedelta(days=rng.randrange(60))).isoformat()
        records.append(record)
    return records


def write_inputs(records: list[dict[str, Any]], directory: Path) -> tuple[Path, Path]:
    json_path = directory / "bugs.json"
    json_path.write_text(json.dumps(records), encoding="utf-8")
    csv_path = directory / "bugs.csv"
    columns = list(dict.fromkeys(key for record in records for key in record))
    with csv_path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    return json_path, csv_path


def best_time(stage: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        stage()
        timings.append(time.perf_counter() - start)
    return min(timings)


def peak_allocation(stage: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        stage()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def max_rss_mib() -> float:
    # ru_maxrss is KiB on Linux and bytes on macOS.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / divisor


# Runs the command and prints its own peak RSS in KiB. VmHWM belongs to the new process
# image; ru_maxrss would also count the pages of the benchmark process it was forked from.
_CLI_PROBE = """
import resource, sys
from pathlib import Path
from taskapi.local.cli import main
code = main(sys.argv[1:])
status = Path("/proc/self/status")
lines = status.read_text().splitlines() if status.exists() else []
peak = [line.split()[1] for line in lines if line.startswith("VmHWM:")]
print(peak[0] if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def run_cli(json_path: Path, out: Path) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one `taskapi risk` run in a fresh interpreter."""
    command = [sys.executable, "-c", _CLI_PROBE, "risk", str(json_path)]
    command += ["--format", "markdown", "--out", str(out)]
    start = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, int(completed.stderr.split()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per stage (best kept)")
    args = parser.parse_args(argv)

    records = synthetic_records(args.records, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        json_path, csv_path = write_inputs(records, Path(scratch))
        bugs: list[BugRecord] = load_bugs(str(json_path)).bugs
        report: Report = analyse(bugs)
        options = RenderOptions(top=10, width=160)

        stages: list[tuple[str, Callable[[], object]]] = [
            ("parse JSON + validate", lambda: load_bugs(str(json_path))),
            ("parse CSV + validate", lambda: load_bugs(str(csv_path))),
            ("analysis", lambda: analyse(bugs)),
            ("parse JSON + analysis", lambda: analyse(load_bugs(str(json_path)).bugs)),
        ]
        stages += [
            (f"render {output_format}", lambda f=output_format: render(report, f, options))
            for output_format in OutputFormat
        ]

        print(
            f"records: {args.records:,} (seed {args.seed}); distinct files "
            f"{len(report.by_file):,}, components {len(report.by_component)}, "
            f"categories {len(report.by_category)}"
        )
        print(
            f"input size: JSON {json_path.stat().st_size / 2**20:.1f} MiB, "
            f"CSV {csv_path.stat().st_size / 2**20:.1f} MiB"
        )
        print(
            f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}"
            f" ({platform.system()} {platform.machine()})"
        )
        print()
        print(f"| {'stage':<24} | {'time (s)':>9} | {'peak traced (MiB)':>17} | {'output':>10} |")
        print(f"| {'-' * 24} | {'-' * 8}: | {'-' * 16}: | {'-' * 9}: |")
        for name, stage in stages:
            seconds = best_time(stage, args.repeat)
            peak = peak_allocation(stage) / 2**20
            produced = stage() if name.startswith("render") else None
            size = f"{len(produced) / 1024:,.0f} KiB" if isinstance(produced, str | bytes) else ""
            print(f"| {name:<24} | {seconds:>9.3f} | {peak:>17.1f} | {size:>10} |")
        cli_seconds, cli_rss = run_cli(json_path, Path(scratch) / "report.md")
    print()
    print(
        f"taskapi risk bugs.json --format markdown (fresh process): {cli_seconds:.2f} s, "
        f"peak RSS {cli_rss:.0f} MiB"
    )
    print(f"benchmark process peak RSS (ru_maxrss): {max_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
