"""``taskapi events dead-letters --source relay|notifications`` and ``taskapi events redrive
--source relay|notifications``: what a failed delivery left in AWS, listed, shown and
republished (docs/events.md#redriving-what-a-failed-delivery-left).

Imported only when one of those runs, so ``taskapi --help`` and the local commands never
load boto3. Every AWS or configuration failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from taskapi import bootstrap
from taskapi.adapters.aws.dead_letters import (
    DeadLetterKind,
    DeadLetterSource,
    Inspection,
    Outcome,
    inspect_all,
    redrive,
)
from taskapi.adapters.aws.stack import NoSuchStack, StackDescription
from taskapi.config import ENV_PREFIX, Settings

# The stack outputs that name each source's queue (template.yaml).
QUEUE_OUTPUTS: dict[DeadLetterSource, str] = {
    "relay": "RelayFailureQueueUrl",
    "notifications": "NotificationsDeadLetterQueueUrl",
}
DESCRIPTIONS: dict[DeadLetterSource, str] = {
    "relay": "relay failure",
    "notifications": "notification dead letter",
}
_MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
DUPLICATES_NOTE = (
    "a redriven event can reach a subscriber twice (it may have reached the bus before, or "
    "this command may stop between publishing and deleting its message): subscribers "
    "de-duplicate on detail.event_id"
)


class UsageError(Exception):
    """A configuration the command cannot work with: one line, exit 2."""


def list_dead_letters(args: argparse.Namespace) -> int:
    return _guarded(args, _list)


def redrive_dead_letters(args: argparse.Namespace) -> int:
    return _guarded(args, _redrive)


def _guarded(args: argparse.Namespace, run: Callable[[argparse.Namespace], int]) -> int:
    prefix = f"taskapi events {args.events_command}"
    try:
        return run(args)
    except UsageError as exc:
        message = str(exc)
    except NoSuchStack as exc:
        message = f"no such stack: {exc} (region {_region(args)})"
    except NoCredentialsError:
        message = "no AWS credentials (configure a profile, or set AWS_ACCESS_KEY_ID and ...)"
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in _MISSING_QUEUE:
            message = f"no such queue: {getattr(args, 'resolved_queue_url', None)}"
        else:
            message = f"AWS error: {error.get('Code', '?')}: {error.get('Message', exc)}"
    except BotoCoreError as exc:
        message = f"AWS error: {exc}"
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"{prefix}: {one_line}", file=sys.stderr)
    return 2


# -- what to talk to -------------------------------------------------------------------------


def _region(args: argparse.Namespace) -> str | None:
    if args.region:
        return str(args.region)
    explicit = os.environ.get(f"{ENV_PREFIX}AWS_REGION")
    if explicit:
        return explicit
    # The profile's region, AWS_REGION or AWS_DEFAULT_REGION, as the AWS CLI reads them.
    return boto3.session.Session().region_name


def _settings(args: argparse.Namespace) -> Settings:
    region = _region(args)
    if region is None:
        raise UsageError("no AWS region: pass --region, or set AWS_REGION (or a profile's)")
    return Settings.from_environment(aws_region=region)


def _resolve(args: argparse.Namespace, *, publishing: bool) -> DeadLetterKind:
    """The queue (and, to republish, the bus) from --stack, the options or the variables."""
    settings = _settings(args)
    source: DeadLetterSource = args.source
    args.resolved_queue_url = args.queue_url
    stack: StackDescription | None = None
    if args.stack:
        stack = bootstrap.describe_stack(settings, args.stack)
    if args.resolved_queue_url is None and stack is not None:
        args.resolved_queue_url = stack.outputs.get(QUEUE_OUTPUTS[source])
        if args.resolved_queue_url is None:
            raise UsageError(f"stack {stack.name} has no output {QUEUE_OUTPUTS[source]}")
    if args.resolved_queue_url is None:
        raise UsageError(f"name the queue: --stack NAME or --queue-url URL ({source})")
    overrides: dict[str, Any] = {}
    bus = args.bus_name or (stack.outputs.get("EventBusName") if stack else None)
    if bus is None and publishing and not os.environ.get(f"{ENV_PREFIX}EVENT_BUS_NAME"):
        raise UsageError(
            "name the bus to republish to: --stack NAME, --bus-name NAME or "
            f"{ENV_PREFIX}EVENT_BUS_NAME"
        )
    if bus is not None:
        overrides["event_bus_name"] = bus
    if stack is not None and stack.parameters.get("EventSource"):
        overrides["event_source"] = stack.parameters["EventSource"]
    settings = settings.model_copy(update=overrides)
    return bootstrap.build_dead_letters(settings, source, args.resolved_queue_url)


# -- dead-letters ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    kind = _resolve(args, publishing=False)
    inspections = inspect_all(kind)
    if args.show is not None:
        shown = [i for i in inspections if i.message.message_id == args.show]
        if not shown:
            print(f"no message {args.show} in {kind.queue.url}", file=sys.stderr)
            return 1
        print(json.dumps(_full(shown[0]), indent=2, default=str))
        return 0
    if args.limit is not None:
        inspections = inspections[: args.limit]
    if not inspections:
        print(f"no messages in {kind.queue.url}")
        return 0
    for inspection in inspections:
        for line in _describe(kind.source, inspection):
            print(line)
    blocked = sum(i.problem is not None or bool(i.unreadable) for i in inspections)
    events = sum(len(i.events) for i in inspections)
    print(
        f"{len(inspections)} message(s), {events} event(s); "
        f"{blocked} cannot be redriven as they are (left in the queue)"
    )
    return 0 if blocked == 0 else 1


def _describe(source: DeadLetterSource, inspection: Inspection) -> list[str]:
    message = inspection.message
    sent = message.sent_at.strftime("%Y-%m-%d %H:%M:%S UTC") if message.sent_at else "?"
    lines = [f"{DESCRIPTIONS[source]} {message.message_id} (sent {sent}): {inspection.summary}"]
    lines += [
        f"  event {e.event_id}  {e.event_type:<12} correlation_id {e.correlation_id or '-'}"
        for e in inspection.events
    ]
    lines += [f"  unreadable {record} (left to look into)" for record in inspection.unreadable]
    if inspection.problem is not None:
        lines.append(f"  cannot redrive: {inspection.problem}; the message stays in the queue")
    return lines


def _full(inspection: Inspection) -> dict[str, Any]:
    message = inspection.message
    try:
        body: Any = json.loads(message.body)
    except ValueError:
        body = message.body
    return {
        "message_id": message.message_id,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "receive_count": message.receive_count,
        "attributes": dict(message.attributes),
        "summary": inspection.summary,
        "problem": inspection.problem,
        "unreadable": list(inspection.unreadable),
        **inspection.details,
        "events": [
            {
                "event_id": str(e.event_id),
                "event_type": e.event_type,
                "detail": json.loads(e.model_dump_json()),
            }
            for e in inspection.events
        ],
        "body": body,
    }


# -- redrive ---------------------------------------------------------------------------------


def _redrive(args: argparse.Namespace) -> int:
    kind = _resolve(args, publishing=not args.dry_run)
    event_ids = {str(i) for i in args.event_ids or ()}
    message_ids = set(args.message_ids or ())

    def selected(inspection: Inspection) -> bool:
        if args.all:
            return True
        if inspection.message.message_id in message_ids:
            return True
        return any(str(e.event_id) in event_ids for e in inspection.events)

    outcomes = redrive(kind, selected, dry_run=args.dry_run)
    for outcome in outcomes:
        for line in _report(kind.source, outcome, dry_run=args.dry_run):
            print(line)
    found_events = {str(e.event_id) for o in outcomes for e in o.inspection.events}
    found_messages = {o.inspection.message.message_id for o in outcomes}
    missing = sorted(event_ids - found_events) + sorted(message_ids - found_messages)
    for name in missing:
        print(f"not in {kind.queue.url}: {name}", file=sys.stderr)
    events = sum(len(o.inspection.events) for o in outcomes)
    if args.dry_run:
        ready = [o for o in outcomes if o.redrivable and not o.inspection.unreadable]
        print(
            f"would redrive {len(ready)} message(s) with {events} event(s); "
            f"{len(outcomes) - len(ready)} cannot be redriven as they are; nothing changed"
        )
        failed = len(outcomes) - len(ready)
    else:
        deleted = sum(o.deleted for o in outcomes)
        published = sum(len(o.inspection.events) - len(o.rejected) for o in outcomes)
        failed = len(outcomes) - deleted
        print(
            f"redrove {deleted} message(s): {published} event(s) published; "
            f"{failed} message(s) left in the queue"
        )
        if published:
            print(f"note: {DUPLICATES_NOTE}")
    return 0 if failed == 0 and not missing else 1


def _report(source: DeadLetterSource, outcome: Outcome, *, dry_run: bool) -> list[str]:
    inspection = outcome.inspection
    lines = _describe(source, inspection)
    message_id = inspection.message.message_id
    if dry_run or not outcome.redrivable:
        if dry_run and outcome.redrivable and not inspection.unreadable:
            lines[0] = f"would redrive {lines[0]}"
        return lines
    for event_id, reason in outcome.rejected.items():
        lines.append(f"  not published: event {event_id}: {reason}")
    if outcome.deleted:
        lines.append(f"  published {len(inspection.events)} event(s); message {message_id} deleted")
    elif not inspection.events:
        lines.append(f"  no event to publish; message {message_id} kept")
    else:
        lines.append(f"  message {message_id} kept: redrive it again once the cause is fixed")
    return lines
