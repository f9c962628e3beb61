"""The `taskapi` command: one entry point, one module per subcommand family.

Each feature module exposes ``register(subparsers)``; it adds its subcommands and sets
``func`` on each parser. Imports are lazy so that ``taskapi --help`` stays fast and a
missing optional extra only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute subcommands, in help order.
_COMMAND_MODULES = (
    "taskapi.entrypoints.local_server",  # serve
    "taskapi.entrypoints.events_cli",  # events, mailbox, remind
    "taskapi.riskmap.cli",  # risk
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskapi", description="Task-management API: local server and operations tools."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int | None = args.func(args)
    return 0 if result is None else result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
