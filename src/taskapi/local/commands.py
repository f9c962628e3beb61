"""``taskapi events ...``, ``taskapi mailbox`` and ``taskapi remind``: the event contract and the
local notification tools.

* ``taskapi events export [--out DIR] [--check]`` writes one JSON Schema per event type
  (``DIR/<EventType>.json``); with ``--check`` it writes nothing and exits 1 when the committed
  files are out of date, explaining whether the change is compatible or needs a version bump.
* ``taskapi events dispatch`` delivers the local outbox's events due now (what the server's
  dispatcher thread does continuously); ``events dead-letters`` lists the events it set aside,
  ``events redrive`` puts them back; ``--source relay|notifications``: the AWS queues.
* ``taskapi mailbox [--limit N]`` and ``taskapi remind``: the local notifications, the reminders.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from taskapi import bootstrap
from taskapi.domain.event_schemas import published_schemas, render, review
from taskapi.service.dispatch import OutboxDispatcher
from taskapi.service.ports import DeadLetter

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

    dead = commands.add_parser(
        "dead-letters",
        help="list what failed deliveries left: the local outbox's dead letters, or (AWS) "
        "the relay failure queue or the notification dead-letter queue",
    )
    _add_source_options(dead)
    dead.add_argument("--limit", type=_positive_int, default=None, help="at most this many")
    dead.add_argument(
        "--show",
        metavar="ID",
        default=None,
        help="print one in full, as JSON: an event id (local) or an SQS message id (AWS)",
    )
    dead.set_defaults(func=_dead_letters)

    redrive = commands.add_parser(
        "redrive",
        help="deliver dead letters again: back into the local outbox, or (AWS) republished "
        "to the task bus and deleted from their queue",
    )
    _add_source_options(redrive)
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--event-id",
        dest="event_ids",
        metavar="ID",
        type=UUID,
        action="append",
        help="the dead letter to redrive (repeatable); in AWS, the message holding it",
    )
    which.add_argument(
        "--message-id",
        dest="message_ids",
        metavar="ID",
        action="append",
        help="(AWS) the SQS message to redrive (repeatable)",
    )
    which.add_argument("--all", action="store_true", help="every dead letter")
    redrive.add_argument(
        "--dry-run", action="store_true", help="say what would be redriven; change nothing"
    )
    redrive.set_defaults(func=_redrive)

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


def _local_dispatcher() -> OutboxDispatcher | None:
    dispatcher = bootstrap.get_runtime().dispatcher
    if dispatcher is None:
        print("this store has no local outbox (events leave through the relay)", file=sys.stderr)
    return dispatcher


def _dispatch(_args: argparse.Namespace) -> int:
    dispatcher = _local_dispatcher()
    if dispatcher is None:
        return 1
    dead_before = {letter.event_id for letter in dispatcher.dead_letters()}
    delivered = failed = 0
    while True:  # batch after batch, until one offers nothing (a failed event is due later)
        report = dispatcher.dispatch_pending()
        delivered += report.delivered
        failed += report.failed
        if report.offered == 0:
            break
    # Unreadable records are set aside by the store itself: count what is new.
    set_aside = len({letter.event_id for letter in dispatcher.dead_letters()} - dead_before)
    print(
        f"delivered {delivered} event(s); {failed} failed attempt(s) left to retry; "
        f"{set_aside} set aside as dead letter(s)"
        + (" (taskapi events dead-letters)" if set_aside else "")
    )
    return 0 if failed == 0 and set_aside == 0 else 1


SOURCES = ("local", "relay", "notifications")
_AWS_OPTIONS = ("stack", "queue_url", "bus_name", "region")


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="local",
        help="local (default): the local outbox; relay: the relay failure queue; "
        "notifications: the notification dead-letter queue (both AWS)",
    )
    aws = parser.add_argument_group("AWS sources (--source relay or notifications)")
    aws.add_argument("--stack", metavar="NAME", help="find the queue and bus in its outputs")
    aws.add_argument("--queue-url", metavar="URL", help="the queue (instead of --stack)")
    aws.add_argument(
        "--bus-name",
        metavar="NAME",
        help="the bus to republish to (default: the stack's, else TASKAPI_EVENT_BUS_NAME)",
    )
    aws.add_argument(
        "--region", help="default: TASKAPI_AWS_REGION, else AWS_REGION or the profile's"
    )


def _local_only(args: argparse.Namespace) -> bool:
    """Whether the local command can run with these options (else it says why)."""
    given = [f"--{name.replace('_', '-')}" for name in _AWS_OPTIONS if getattr(args, name)]
    if getattr(args, "message_ids", None):
        given.append("--message-id")
    if given:
        print(
            f"taskapi events {args.events_command}: {', '.join(given)} need --source relay "
            "or --source notifications",
            file=sys.stderr,
        )
    return not given


def _dead_letters(args: argparse.Namespace) -> int:
    if args.source != "local":
        from taskapi.local import aws_dead_letters  # noqa: PLC0415 - loads boto3

        return aws_dead_letters.list_dead_letters(args)
    if not _local_only(args):
        return 2
    dispatcher = _local_dispatcher()
    if dispatcher is None:
        return 1
    if args.show is not None:
        return _show(dispatcher, args.show)
    letters = dispatcher.dead_letters(args.limit)
    if not letters:
        print("no dead letters")
    for letter in letters:
        print(_describe(letter))
    return 0


def _show(dispatcher: OutboxDispatcher, event_id: str) -> int:
    shown = [letter for letter in dispatcher.dead_letters() if str(letter.event_id) == event_id]
    if not shown:
        print(f"not a dead letter: {event_id}", file=sys.stderr)
        return 1
    letter = shown[0]
    print(
        json.dumps(
            {
                "event_id": str(letter.event_id),
                "event_type": letter.event_type,
                "attempts": letter.attempts,
                "last_error": letter.last_error,
                "dead_lettered_at": letter.dead_lettered_at.isoformat(),
            },
            indent=2,
        )
    )
    return 0


def _redrive(args: argparse.Namespace) -> int:
    if args.source != "local":
        from taskapi.local import aws_dead_letters  # noqa: PLC0415 - loads boto3

        return aws_dead_letters.redrive_dead_letters(args)
    if not _local_only(args):
        return 2
    dispatcher = _local_dispatcher()
    if dispatcher is None:
        return 1
    report = dispatcher.redrive(None if args.all else args.event_ids, dry_run=args.dry_run)
    for letter in report.redriven:
        print(f"{'would redrive' if report.dry_run else 'redrove'} {_describe(letter)}")
    for event_id in report.not_found:
        print(f"not a dead letter: {event_id}", file=sys.stderr)
    verb = "would redrive" if report.dry_run else "redrove"
    print(f"{verb} {len(report.redriven)} dead letter(s)")
    return 0 if not report.not_found else 1


def _describe(letter: DeadLetter) -> str:
    when = letter.dead_lettered_at.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{letter.event_id}  {letter.event_type:<12} set aside {when} UTC after "
        f"{letter.attempts} attempt(s): {letter.last_error or '(no error recorded)'}"
    )


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
