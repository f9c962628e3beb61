"""The local API Gateway: an HTTP server that hands every request to the Lambda handler.

Requests become API Gateway REST proxy events (``proxy``) and are handled one at a time, like
one Lambda execution environment. See docs/architecture.md#runtime-modes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taskapi.entrypoints.http.errors import error_body
from taskapi.local.proxy import Handler, HttpReply, HttpRequest, LocalLambdaContext, invoke

# Outside the "taskapi" logger tree on purpose: Powertools' Logger owns "taskapi" (the service
# name) and would turn these plain access lines into Lambda-style JSON.
logger = logging.getLogger("taskapi-serve")

# API Gateway refuses larger payloads before they reach Lambda; so does the local gateway.
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024


class LocalApiServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to a Lambda proxy handler."""

    daemon_threads = True  # idle keep-alive connections must not hold up shutdown

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        super().__init__(address, _ProxyRequestHandler)
        self._lambda_handler = handler

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_request_as_lambda(self, request: HttpRequest) -> HttpReply:
        context = LocalLambdaContext()
        reply = invoke(self._lambda_handler, request, context=context)  # one at a time
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
    code = "internal_error" if status >= HTTPStatus.INTERNAL_SERVER_ERROR else "bad_request"
    body = error_body(code, message, {"request_id": str(uuid.uuid4())})
    return HttpReply(int(status), [("Content-Type", "application/json")], json.dumps(body).encode())
