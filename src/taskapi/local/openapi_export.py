"""``taskapi openapi export [--out FILE] [--check]``: the API's published OpenAPI document.

It writes the document the API serves to ``schemas/openapi.json``; with ``--check`` it writes
nothing and exits 1 when the committed file is out of date, saying whether the change is
compatible or breaking without a new version. The rules: docs/api.md#versioning.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_DOCUMENT = Path("schemas/openapi.json")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    openapi = subparsers.add_parser("openapi", help="the API's published OpenAPI document")
    commands = openapi.add_subparsers(dest="openapi_command", metavar="COMMAND", required=True)
    export = commands.add_parser(
        "export", help="write the OpenAPI document the API serves (schemas/openapi.json)"
    )
    export.add_argument("--out", type=Path, default=DEFAULT_DOCUMENT, help="output file")
    export.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from the code's document (for CI)",
    )
    export.set_defaults(func=_export)


def read_committed(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _export(args: argparse.Namespace) -> int:
    # The API's modules, imported only by the command that needs them (taskapi --help).
    from taskapi.entrypoints.http import contract  # noqa: PLC0415

    out: Path = args.out
    current = contract.current_document()
    text = contract.render_document(current)
    if args.check:
        verdict = contract.review(read_committed(out), current)
        print(verdict.explain())
        fresh = out.is_file() and out.read_text(encoding="utf-8") == text
        if verdict.ok and not fresh:
            print(
                f"  {out} differs from a fresh export in form only: run `taskapi openapi export`."
            )
        return 0 if verdict.ok and fresh else 1
    unchanged = out.is_file() and out.read_text(encoding="utf-8") == text
    if not unchanged:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    print(f"{out}: {'unchanged' if unchanged else 'written'}")
    return 0
