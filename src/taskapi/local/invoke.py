"""``taskapi invoke EVENT.json [--function NAME]``: one function's Lambda handler on an event
file, run locally without Docker (as ``sam local invoke`` does), its return value printed as JSON.

The function is the one the event's shape belongs to unless ``--function`` names it; settings
are the ``TASKAPI_*`` variables, as for ``taskapi serve``. The relay needs a bus: with
``TASKAPI_STORE=dynamodb`` it publishes to EventBridge (``TASKAPI_AWS_ENDPOINT_URL`` for a local
endpoint); with a local store it prints the PutEvents entries it would send and sends nothing.
See docs/architecture.md#invoking-a-function-locally.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.local.environment import ENVIRONMENT
from taskapi.local.logs import LOG_FORMATS, local_logging, resolve_format
from taskapi.local.proxy import LocalLambdaContext
from taskapi.service.ports import PublishableEvent

if TYPE_CHECKING:
    from taskapi.adapters.aws.eventbridge import EventEntryBuilder


@dataclasses.dataclass(frozen=True, slots=True)
class Function:
    logical_id: str  # the function's resource in template.yaml
    handler: str  # its Handler there: module.function


FUNCTIONS = {
    "api": Function("ApiFunction", "taskapi.entrypoints.api.lambda_handler"),
    "relay": Function("RelayFunction", "taskapi.entrypoints.relay.lambda_handler"),
    "notifications": Function(
        "NotificationsFunction", "taskapi.entrypoints.notifications.lambda_handler"
    ),
    "reminders": Function("RemindersFunction", "taskapi.entrypoints.reminders.lambda_handler"),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="run a function's handler on an event file (sam local invoke, without Docker)",
        description="Run one function's Lambda handler locally on an event (events/ holds a "
        "sample for every function) and print its return value as JSON on stdout; logs go to "
        "stderr. An unhandled error prints Lambda's error object and exits 1.",
    )
    parser.add_argument(
        "event", metavar="EVENT.json", help="the event: a JSON file, or - to read stdin"
    )
    parser.add_argument(
        "--function",
        choices=list(FUNCTIONS),
        default=None,
        help="the function to run (default: the one the event's shape belongs to)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="replace {NAME} with VALUE in every string of the event (repeatable), e.g. "
        "--set workspace_id=<id> for the samples of workspace routes",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help="text (default): the function's warnings and errors as readable lines; json: "
        "every Powertools JSON line (the default with POWERTOOLS_DEV=true)",
    )
    parser.set_defaults(func=invoke)


def function_for(event: Mapping[str, Any]) -> str | None:
    """The function an event of this shape is delivered to, or None when it is not plain."""
    if "httpMethod" in event and "requestContext" in event:
        return "api"  # an API Gateway REST proxy event
    records = event.get("Records")
    if isinstance(records, list) and records:
        sources = {record.get("eventSource") for record in records if isinstance(record, dict)}
        return "relay" if sources == {"aws:dynamodb"} else None
    if event.get("source") == "aws.scheduler" or event.get("detail-type") == "Scheduled Event":
        return "reminders"
    if "detail-type" in event and "detail" in event:
        return "notifications"  # an EventBridge event from the task bus
    return None


def invoke(args: argparse.Namespace) -> int:
    try:
        event = _filled(_read_event(args.event), _placeholders(args.set))
    except (OSError, ValueError) as exc:
        print(f"taskapi invoke: {args.event}: {exc}", file=sys.stderr)
        return 2
    name = args.function or function_for(event)
    if name is None:
        print(
            f"taskapi invoke: {args.event}: not the shape of any function's event; "
            f"name one with --function ({', '.join(FUNCTIONS)})",
            file=sys.stderr,
        )
        return 2
    function = FUNCTIONS[name]
    settings = Settings.from_environment()
    print(
        f"invoking {function.logical_id} ({function.handler}), store: {settings.store}",
        file=sys.stderr,
    )
    handler = _load(function.handler)
    log_format = resolve_format(args.log_format)
    with (
        local_logging(log_format, text_stream=sys.stderr, json_stream=sys.stderr),
        _installed(name, settings) as runtime,
    ):
        status, output = _call(handler, event, function)
    print(json.dumps(output, indent=2, default=str))
    if runtime is not None and runtime.dispatcher is not None and runtime.outbox_signal.is_set():
        print(
            "the write's events wait in the local outbox: `taskapi events dispatch` delivers "
            "them (in AWS the table's stream would)",
            file=sys.stderr,
        )
    return status


def _read_event(source: str) -> dict[str, Any]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    event = json.loads(text)
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    return event


def _placeholders(assignments: Sequence[str]) -> dict[str, str]:
    values = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name.isidentifier():
            raise ValueError(f"--set takes NAME=VALUE, not {assignment!r}")
        values[name] = value
    return values


def _filled(event: Any, values: Mapping[str, str]) -> Any:
    """``event`` with every ``{NAME}`` in its strings replaced by its value."""
    if isinstance(event, str):
        for name, value in values.items():
            event = event.replace(f"{{{name}}}", value)
        return event
    if isinstance(event, dict):
        return {key: _filled(item, values) for key, item in event.items()}
    if isinstance(event, list):
        return [_filled(item, values) for item in event]
    return event


def _load(handler: str) -> Callable[[dict[str, Any], Any], Any]:
    module, _, attribute = handler.rpartition(".")
    loaded: Callable[[dict[str, Any], Any], Any] = getattr(
        importlib.import_module(module), attribute
    )
    return loaded


@contextlib.contextmanager
def _installed(name: str, settings: Settings) -> Iterator[bootstrap.Runtime | None]:
    """What the function's handler asks bootstrap for, built from ``settings``."""
    if name == "relay":
        printer = None
        if settings.store != "dynamodb":  # no bus: print the entries, build no AWS client
            printer = EntryPrinter(bootstrap.build_event_entries(settings), sys.stderr)
        relay = bootstrap.build_relay(settings, publisher=printer)
        with bootstrap.override_relay(relay):
            yield None
        return
    runtime = bootstrap.build_runtime(settings)
    if runtime.notifications is None:  # DynamoDB: in AWS these functions build their own
        notifications = bootstrap.build_notification_functions(settings)
        runtime = dataclasses.replace(runtime, notifications=notifications)
    with bootstrap.override_runtime(runtime):
        yield runtime


def _call(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], function: Function
) -> tuple[int, Any]:
    """(exit status, what to print): the return value, or Lambda's object for an error."""
    context = LocalLambdaContext(
        function_name=function.logical_id,
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{function.logical_id}",
        log_group_name=f"/aws/lambda/{function.logical_id}",
    )
    # Whatever the handler prints (EMF metrics, when enabled) goes with the logs, so stdout
    # holds only the result.
    with ENVIRONMENT.invocation(), contextlib.redirect_stdout(sys.stderr):
        try:
            return 0, handler(event, context)
        except Exception as exc:
            return 1, {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(
                    exc.__traceback__.tb_next if exc.__traceback__ else None
                ),
            }


class EntryPrinter:
    """The relay's publisher where there is no event bus (a local store): each event's
    PutEvents entry is built and checked exactly as for EventBridge, then written to
    ``stream`` instead of being sent."""

    def __init__(self, entries: EventEntryBuilder, stream: TextIO) -> None:
        self._entries = entries
        self._stream = stream

    def publish(self, events: Sequence[PublishableEvent]) -> dict[UUID, str]:
        # Here, not at the top: `taskapi --help` should not load botocore's models.
        from taskapi.adapters.aws.eventbridge import InvalidEventEntry  # noqa: PLC0415

        rejected: dict[UUID, str] = {}
        for event in events:
            try:
                entry = self._entries.build(event)
            except InvalidEventEntry as exc:
                rejected[event.event_id] = f"{type(exc).__name__}: {exc}"
                continue
            print(
                f"NOT SENT (no event bus with a local store): PutEvents entry "
                f"{json.dumps(entry, default=str)}",
                file=self._stream,
            )
        return rejected
