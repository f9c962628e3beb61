"""``taskapi events ...``, ``taskapi mailbox`` and ``taskapi remind``: the event contract and the
local notification tools.

* ``taskapi events export [--out DIR] [--check]`` writes one JSON Schema per event type
  (``DIR/<EventType>.json``); with ``--check`` it writes nothing and exits 1 when the committed
  files are out of date, explaining whether the change is compatible or needs a version bump.
* ``taskapi events dispatch`` delivers the local outbox's pending events now (what the server's
  dispatcher thread does continuously).
* ``taskapi mailbox [--limit N]`` shows the latest notifications of the local mailbox file.
* ``taskapi remind`` runs the reminder job once, as the schedule does in AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from taskapi import bootstrap
from taskapi.domain.event_schemas import published_schemas, render, review

DEFAULT_SCHEMA_DIR = Path("schemas/events")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = subparsers.add_parser("events", help="published event schemas and the local outbox")
    commands = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)

    export = commands.add_parser(
        "export", help="write the JSON Schema of every event type (schemas/events/*.json)"
    )
    export.add_argument("--out", type=Path, default=DEFAULT_SCHEMA_DIR, help="output directory")
    export.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files differ from the models (for CI)",
    )
    export.set_defaults(func=_export)

    dispatch = commands.add_parser("dispatch", help="deliver the local outbox's pending events")
    dispatch.set_defaults(func=_dispatch)

    mailbox = subparsers.add_parser("mailbox", help="show the latest local notifications")
    mailbox.add_argument("--limit", type=_positive_int, default=20, help="how many (default 20)")
    mailbox.set_defaults(func=_mailbox)

    remind = subparsers.add_parser("remind", help="run the reminder job once")
    remind.set_defaults(func=_remind)


# -- events export ---------------------------------------------------------------------


def read_committed(directory: Path) -> dict[str, dict[str, Any]]:
    """The schemas in ``directory``, keyed by event type (the file name)."""
    if not directory.is_dir():
        return {}
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def _export(args: argparse.Namespace) -> int:
    out: Path = args.out
    current = published_schemas()
    if args.check:
        reviews = review(read_committed(out), current)
        for verdict in reviews:
            print(verdict.explain())
        return 0 if all(verdict.ok for verdict in reviews) else 1
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in current.items():
        path = out / f"{name}.json"
        text = render(schema)
        unchanged = path.exists() and path.read_text(encoding="utf-8") == text
        if not unchanged:
            path.write_text(text, encoding="utf-8")
        print(f"{path}: {'unchanged' if unchanged else 'written'}")
    stale = sorted({path.stem for path in out.glob("*.json")} - current.keys())
    for name in stale:
        print(f"{out / name}.json: no such event type any more (left in place)", file=sys.stderr)
    return 0


# -- events dispatch -------------------------------------------------------------------


def _dispatch(_args: argparse.Namespace) -> int:
    dispatcher = bootstrap.get_runtime().dispatcher
    if dispatcher is None:
        print("this store has no local outbox (events leave through the relay)", file=sys.stderr)
        return 1
    delivered = failed = 0
    while True:  # batch after batch, until a batch delivers nothing new
        report = dispatcher.dispatch_pending()
        delivered += report.delivered
        failed += report.failed
        if report.delivered == 0:
            break
    print(f"delivered {delivered} event(s); {failed} failed attempt(s) left pending")
    return 0 if failed == 0 else 1


# -- mailbox ---------------------------------------------------------------------------


def _mailbox(args: argparse.Namespace) -> int:
    mailbox = bootstrap.get_mailbox()
    entries = mailbox.recent(args.limit)
    if not entries:
        print(f"no notifications in {mailbox.path}")
        return 0
    rows = [
        (
            entry.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.kind.value,
            entry.recipient,
            entry.subject,
        )
        for entry in entries
    ]
    try:
        from rich.console import Console  # noqa: PLC0415 - the cli extra is optional
        from rich.table import Table  # noqa: PLC0415
    except ModuleNotFoundError:
        for sent_at, kind, recipient, subject in rows:
            print(f"{sent_at}  {kind:<15} {recipient:<30} {subject}")
        return 0
    table = Table(title=f"{len(rows)} latest notification(s) in {mailbox.path}")
    for column in ("sent at (UTC)", "kind", "to", "subject"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0


# -- remind ----------------------------------------------------------------------------


def _remind(_args: argparse.Namespace) -> int:
    run = bootstrap.get_notification_service().send_reminders()
    print(
        f"{run.due_soon} task(s) due soon: {run.sent} reminded, "
        f"{run.already_reminded} already reminded, {len(run.failed)} failed"
    )
    return 0 if not run.failed else 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
