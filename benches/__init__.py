"""Benchmarks: scripts that print figures, never assertions about time.

``python -m benches [NAME ...]`` runs every ``benches/bench_*.py`` module (or those whose name
contains one of the NAMEs). A module takes part by defining ``main(argv: list[str] | None)``;
the runner calls ``main([])`` so that each one runs its defaults, and a module can also be run
on its own with its own options: ``python -m benches.bench_cycles --repeat 3``.

The helpers below are shared so that every bench times and reports the same way.
"""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager


def best_of(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds.

    The minimum is the figure least disturbed by the rest of the machine; the garbage collector
    is paused while timing so that a collection triggered by earlier work is not billed here.
    """
    times: list[float] = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def usable_cpus() -> int:
    """What ``nproc`` prints: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_description() -> str:
    description = (
        f"{usable_cpus()} CPUs ({cpu_model()}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )
    if hasattr(os, "getloadavg"):
        # Figures from a busy machine are not comparable with those from an idle one.
        description += f", load average {os.getloadavg()[0]:.2f} at start"
    return description


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (text left-aligned, numbers right-aligned) to paste into the docs."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) or _is_figure(row[i]) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "| "
        + " | ".join(
            "-" * (w - 1) + ":" if right else "-" * w
            for w, right in zip(widths, numeric, strict=True)
        )
        + " |"
    )
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _is_figure(value: object) -> bool:
    """A formatted number ("1,234.5") or the dash that stands for "none" in a number column."""
    if not isinstance(value, str):
        return False
    return value == "-" or value.replace(",", "").replace(".", "").isdigit()


@contextmanager
def aws_endpoint(endpoint_url: str | None = None) -> Iterator[str]:
    """The endpoint to use: the given one, or a moto server started for the bench."""
    if endpoint_url is not None:
        yield endpoint_url
        return
    from tests.moto_server import start_server  # noqa: PLC0415 - only when needed

    process, port = start_server()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
