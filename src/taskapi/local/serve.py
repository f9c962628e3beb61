"""``taskapi serve``: the API on a local port, with the embedded store and the outbox pump.

It never runs without delivering events: with a store whose outbox only a stream relay
delivers (DynamoDB in stream mode) it refuses to start. See docs/architecture.md#runtime-modes.
"""

from __future__ import annotations

import argparse
import gc
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.local.gateway import LocalApiServer, serving
from taskapi.local.identity import KeyFileError, TokenVerifier
from taskapi.local.logs import LOG_FORMATS, local_logging, resolve_format
from taskapi.local.pump import OutboxPump

logger = logging.getLogger("taskapi-serve")
# How often the HTTP thread looks for a shutdown request: Ctrl-C ends the server within this.
SHUTDOWN_POLL_SECONDS = 0.05
DEFAULT_DATA_DIR = Settings().data_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the API locally (the Lambda handler behind an HTTP server)",
        description="Serve the task API on a local port, with the embedded store and the "
        "in-process event dispatcher. Local state lives in TASKAPI_DATA_DIR (default .taskapi).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file (default <data dir>/taskapi.db)"
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help="text (default): one line per request, and the functions' warnings and errors "
        "as readable lines (POWERTOOLS_LOG_LEVEL=INFO for more); json: every Powertools JSON "
        "line on stdout, as in Lambda (the default with POWERTOOLS_DEV=true)",
    )
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `taskapi --help` should not pay for building the API.
    from taskapi.entrypoints.api import lambda_handler  # noqa: PLC0415

    _configure_logging()
    overrides: dict[str, Any] = {} if args.db is None else {"db_path": args.db}
    settings = Settings.from_environment(**overrides)
    runtime = bootstrap.build_runtime(settings)
    if runtime.dispatcher is None:
        # No silent mode: writes whose events this process would never deliver.
        print(f"taskapi serve: not starting: {_no_delivery(settings)}", file=sys.stderr)
        return 2
    try:
        # The local user pool's key: created now if this data directory has none yet.
        verifier = TokenVerifier.for_data_dir(settings.data_dir)
    except KeyFileError as error:
        print(f"taskapi serve: not starting: {error}", file=sys.stderr)
        return 2
    server = LocalApiServer((args.host, args.port), lambda_handler, verifier=verifier)
    pump = OutboxPump(runtime.dispatcher, runtime.outbox_signal)
    stop_requested = threading.Event()
    _on_signals(stop_requested.set, signal.SIGINT, signal.SIGTERM)

    log_format = resolve_format(args.log_format)
    with local_logging(log_format, text_stream=sys.stderr), bootstrap.override_runtime(runtime):
        pump.start()
        with serving(server, poll_interval=SHUTDOWN_POLL_SECONDS):
            where = {
                "memory": "in memory",
                "sqlite": str(settings.sqlite_path),
                "dynamodb": f"table {settings.table_name}, outbox polled by this process",
            }[settings.store]
            print(
                f"taskapi listening on {server.url} (store: {settings.store}, {where})", flush=True
            )
            print(
                f"  API docs: {server.url}/swagger (a token, as for every path)   stop: Ctrl-C",
                flush=True,
            )
            for line in token_hint(settings, server.url):
                print(line, flush=True)
            if log_format == "text":
                print(
                    "  logs: a line per request, and warnings (JSON: --log-format json)", flush=True
                )
            stop_requested.wait()
            logger.info("shutting down")
        # The final delivery, once the server no longer takes writes.
        pump.stop()
    # Everything is stopped and flushed, and the process is about to end: spare it the
    # interpreter's final garbage collection of every object (about half a second), the OS
    # frees the memory anyway.
    gc.freeze()
    return 0


def token_hint(settings: Settings, url: str) -> list[str]:
    """How to call this server: every request needs a token from its data directory."""
    custom = settings.data_dir != DEFAULT_DATA_DIR
    data_dir = f"TASKAPI_DATA_DIR={shlex.quote(str(settings.data_dir))} " if custom else ""
    return [
        "  auth: every request needs a token (Authorization: Bearer ...), for any e-mail:",
        f"    TOKEN=$({data_dir}taskapi token --user alice@example.com)",
        f'    curl -H "Authorization: Bearer $TOKEN" {url}/workspaces',
        "  tasks live in workspaces (/workspaces/{id}/tasks): the README's walk-through makes one",
    ]


def _no_delivery(settings: Settings) -> str:
    return (
        f"with TASKAPI_STORE={settings.store} and TASKAPI_OUTBOX_MODE={settings.outbox_mode} "
        "only the table's stream relay (in AWS) delivers events, and this server runs none, "
        "so its writes would notify nobody; set TASKAPI_OUTBOX_MODE=polling to deliver them "
        "from this process (for a table no deployed stack relays: DynamoDB Local, moto), "
        "or use TASKAPI_STORE=sqlite"
    )


def _on_signals(callback: Callable[[], None], *signals: signal.Signals) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        callback()

    for signum in signals:
        signal.signal(signum, handle)


def _configure_logging() -> None:
    # The access log is for people: plain lines on stderr. (The functions' own logs go where
    # and how local_logging says.)
    if not logger.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(stream)
        logger.setLevel(logging.INFO)
        logger.propagate = False
