"""``taskapi serve``: the Lambda handler behind a local HTTP server, plus the outbox dispatcher.

Each HTTP request becomes an API Gateway REST proxy event (``http_proxy``) and goes to the very
``lambda_handler`` that runs in AWS, so local behaviour is production behaviour. What API
Gateway and the stream relay do in AWS is done here in-process:

* requests are handled one at a time, like one Lambda execution environment: connections are
  accepted concurrently, but Powertools keeps per-invocation state (the resolver's current
  event, the metrics to flush) in process-wide objects, so two events must never be resolved
  at once;
* committed events are delivered by a background thread running the outbox dispatcher, woken
  by every commit and, to retry failed deliveries, every few seconds. Its log lines go through
  the same logger as the handler's, without a request's keys (those are kept per thread).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.entrypoints.http_proxy import (
    Handler,
    HttpReply,
    HttpRequest,
    LocalLambdaContext,
    invoke,
)
from taskapi.service.dispatch import OutboxDispatcher

# Outside the "taskapi" logger tree on purpose: Powertools' Logger owns "taskapi" (the service
# name) and would turn these plain access lines into Lambda-style JSON.
logger = logging.getLogger("taskapi-serve")

# API Gateway refuses larger payloads before they reach Lambda; so does the local gateway.
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024


# -- the HTTP side -------------------------------------------------------------------------


class LocalApiServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to a Lambda proxy handler."""

    daemon_threads = True  # idle keep-alive connections must not hold up shutdown

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        super().__init__(address, _ProxyRequestHandler)
        self._lambda_handler = handler
        self._invocation_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_request_as_lambda(self, request: HttpRequest) -> HttpReply:
        context = LocalLambdaContext()
        with self._invocation_lock:
            reply = invoke(self._lambda_handler, request, context=context)
        # As API Gateway does: the id a client can quote, and that the logs carry.
        headers = [*reply.headers, ("x-amzn-RequestId", context.aws_request_id)]
        return HttpReply(reply.status, headers, reply.body)


@contextmanager
def serving(server: LocalApiServer, poll_interval: float = 0.5) -> Iterator[LocalApiServer]:
    """``server`` answering requests from a background thread for the duration; on the way out
    it stops taking requests, closes its socket and its thread ends. (A shorter
    ``poll_interval`` only makes that quicker.)"""
    thread = threading.Thread(
        target=server.serve_forever, args=(poll_interval,), name="http", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()  # waits for serve_forever to return
        server.server_close()
        thread.join()


class _ProxyRequestHandler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    # Headers and body go out as separate writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms per keep-alive request).
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        # The stdlib dispatches a request to do_<METHOD> and answers 501 itself when there is
        # none. Like API Gateway's ANY method, hand every method to the function instead: it
        # knows which ones a path allows (405 with Allow).
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _proxy(self) -> None:
        started = time.perf_counter()
        reply = self._reply()
        # Logged before the reply goes out, so the line is there by the time a client has it.
        logger.info(
            '%s "%s %s" %d %.1f ms',
            self.client_address[0],
            self.command,
            self.path,
            reply.status,
            (time.perf_counter() - started) * 1000,
        )
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reply(self) -> HttpReply:
        try:
            body = self._read_body()
        except _GatewayRefusal as refusal:
            self.close_connection = True
            return refusal.reply
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
        )
        try:
            return self.server.handle_request_as_lambda(request)
        except Exception:
            # The handler maps every error itself; reaching this is a bug in the handler.
            logger.exception("the Lambda handler raised")
            return _gateway_error(HTTPStatus.BAD_GATEWAY, "Internal server error")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _GatewayRefusal(HTTPStatus.BAD_REQUEST, "Invalid Content-Length") from None
        if length < 0:
            raise _GatewayRefusal(HTTPStatus.BAD_REQUEST, "Invalid Content-Length")
        if length > GATEWAY_MAX_BODY_BYTES:
            raise _GatewayRefusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Too Long")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _GatewayRefusal(HTTPStatus.BAD_REQUEST, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            if len(body) + size > GATEWAY_MAX_BODY_BYTES:
                raise _GatewayRefusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Request Too Long")
            body += self.rfile.read(size)
            self.rfile.readline(1024)  # the CRLF after each chunk

    def log_message(self, format: str, *args: Any) -> None:
        # Everything the stdlib would print to stderr (requests and errors alike) goes to the
        # server's logger; _proxy adds the access line with the timing.
        logger.warning(format, *args)


class _GatewayRefusal(Exception):
    """A request the gateway refuses before invoking the function (as API Gateway would)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.reply = _gateway_error(status, message)


def _gateway_error(status: HTTPStatus, message: str) -> HttpReply:
    """An answer of the gateway itself, for the few requests that never reach the function:
    in the shape of the deployed stack's gateway responses (template.yaml, GatewayResponses),
    so a client sees one error format wherever the answer comes from."""
    body = {
        "error": "internal_error" if status >= HTTPStatus.INTERNAL_SERVER_ERROR else "bad_request",
        "message": message,
        "details": {"request_id": str(uuid.uuid4())},
    }
    return HttpReply(int(status), [("Content-Type", "application/json")], json.dumps(body).encode())


# -- the outbox dispatcher thread ------------------------------------------------------------


class OutboxPump:
    """Runs ``dispatcher`` in a background thread: as soon as ``wake`` is set (the service sets
    it after every commit), and every ``retry_seconds`` so failed deliveries are retried.
    ``stop()`` delivers what is pending one last time, then joins the thread."""

    def __init__(
        self,
        dispatcher: OutboxDispatcher,
        wake: threading.Event,
        *,
        retry_seconds: float = 5.0,
        batch_size: int = 100,
    ) -> None:
        self._dispatcher = dispatcher
        self._wake = wake
        self._retry_seconds = retry_seconds
        self._batch_size = batch_size
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("the outbox dispatcher did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._retry_seconds)
            # Clear before dispatching: a commit during the run sets it again, so it is not lost.
            self._wake.clear()
            self._drain()
        self._drain()  # the final delivery, after the server stopped taking writes

    def _drain(self) -> None:
        while True:
            try:
                report = self._dispatcher.dispatch_pending(self._batch_size)
            except Exception:
                # The store itself failed; the events stay pending and are retried next time.
                logger.exception("outbox dispatch failed")
                return
            # A full batch of successes means there may be more; a failure waits for the retry.
            if report.failed or report.delivered < self._batch_size:
                return


# -- the command ---------------------------------------------------------------------------


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
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `taskapi --help` should not pay for building the API.
    from taskapi.entrypoints.api import lambda_handler  # noqa: PLC0415

    _configure_logging()
    overrides: dict[str, Any] = {} if args.db is None else {"db_path": args.db}
    settings = Settings(**overrides)
    runtime = bootstrap.build_runtime(settings)
    server = LocalApiServer((args.host, args.port), lambda_handler)
    pump = None
    if runtime.dispatcher is not None:
        pump = OutboxPump(runtime.dispatcher, runtime.outbox_signal)
    stop_requested = threading.Event()
    _on_signals(stop_requested.set, signal.SIGINT, signal.SIGTERM)

    with bootstrap.override_runtime(runtime):
        if pump is not None:
            pump.start()
        with serving(server):
            where = {
                "memory": "in memory",
                "sqlite": str(settings.sqlite_path),
                "dynamodb": f"table {settings.table_name}",
            }[settings.store]
            print(
                f"taskapi listening on {server.url} (store: {settings.store}, {where})", flush=True
            )
            print(f"  API docs: {server.url}/swagger   stop: Ctrl-C", flush=True)
            stop_requested.wait()
            logger.info("shutting down")
        # The final delivery, once the server no longer takes writes.
        if pump is not None:
            pump.stop()
    return 0


def _on_signals(callback: Callable[[], None], *signals: signal.Signals) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        callback()

    for signum in signals:
        signal.signal(signum, handle)


def _configure_logging() -> None:
    # The access log is for people: plain lines on stderr. (The handler's own logs stay
    # structured JSON on stdout, as in Lambda.)
    if not logger.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(stream)
        logger.setLevel(logging.INFO)
        logger.propagate = False
