"""The `taskapi` command: one entry point, one module per subcommand family.

Each feature module exposes ``register(subparsers)``; it adds its subcommands and sets
``func`` on each parser. Imports are lazy so that ``taskapi --help`` stays fast and a
missing optional extra only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import taskrisk.cli
from taskapi.local import commands, invoke, openapi_export, serve, token_command

# Modules that contribute subcommands, in help order: serve; token; invoke; events, mailbox,
# remind; openapi; risk.
_COMMAND_MODULES = (serve, token_command, invoke, commands, openapi_export, taskrisk.cli)


def _version() -> str:
    try:
        return version("taskapi")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskapi", description="Task-management API: local server and operations tools."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int | None = args.func(args)
    return 0 if result is None else result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
