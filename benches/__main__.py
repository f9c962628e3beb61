"""Run the benchmarks: ``python -m benches [NAME ...]``.

With no NAME, every ``benches/bench_*.py`` module runs, in name order; ``python -m benches
cycles handler`` runs the modules whose name contains "cycles" or "handler". The machine is
described once, first, so that the figures can be pasted with their context.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

import benches
from benches import machine_description

PREFIX = "bench_"


def discover() -> list[str]:
    """Names of the bench modules (without the ``bench_`` prefix), sorted."""
    return sorted(
        info.name.removeprefix(PREFIX)
        for info in pkgutil.iter_modules(benches.__path__)
        if info.name.startswith(PREFIX) and not info.ispkg
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="run only these benches")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    selected = [n for n in available if not args.names or any(w in n for w in args.names)]
    if not selected:
        parser.error(f"no bench matches {args.names}; available: {', '.join(available)}")

    print(f"machine: {machine_description()}")
    failed: list[str] = []
    for name in selected:
        print(f"\n## {name}\n", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benches.{PREFIX}{name}")
            # An empty argv: each bench runs its defaults, not the runner's arguments.
            status = module.main([])
        except Exception:  # one broken bench must not hide the figures of the others
            traceback.print_exc()
            status = 1
        if status:
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
