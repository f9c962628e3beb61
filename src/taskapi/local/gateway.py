"""The local API Gateway: an HTTP server that hands every request to the Lambda handler.

Requests become API Gateway REST proxy events (``proxy``) and are handled one at a time, like
one Lambda execution environment. See docs/architecture.md#runtime-modes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taskapi.domain.text import clip
from taskapi.entrypoints.http.errors import NOT_AUTHENTICATED_MESSAGE, error_body
from taskapi.local.identity import NotAuthenticated, TokenVerifier, authorizer_claims
from taskapi.local.proxy import Handler, HttpReply, HttpRequest, LocalLambdaContext, invoke

# Outside the "taskapi" logger tree on purpose: Powertools' Logger owns "taskapi" (the service
# name) and would turn these plain access lines into Lambda-style JSON.
logger = logging.getLogger("taskapi-serve")

# API Gateway refuses larger payloads before they reach Lambda; so does the local gateway.
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
# A connection that sends (or reads) nothing for this long is closed: idle keep-alive and
# stalled requests must not hold a thread and a file descriptor for ever.
CONNECTION_TIMEOUT_SECONDS = 15.0
# Connections served at once (one thread each); further ones get a 503 straight away, so one
# client holding many idle connections cannot exhaust the process's file descriptors.
MAX_CONNECTIONS = 128


class LocalApiServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request with a token ``verifier`` accepts to
    a Lambda proxy handler, as API Gateway with a Cognito authorizer on every path does."""

    daemon_threads = True  # idle keep-alive connections must not hold up shutdown
    # The listen backlog: a burst of connections waits for accept() instead of being dropped
    # or reset (the stdlib's default is 5).
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        *,
        verifier: TokenVerifier,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.connection_timeout = connection_timeout
        self.max_connections = max_connections
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _ProxyRequestHandler)
        self._lambda_handler = handler
        self._verifier = verifier

    def verify_request(self, request: Any, client_address: Any) -> bool:  # noqa: ARG002
        with self._open_lock:
            if len(self._open) < self.max_connections:
                self._open.add(request)
                return True
        _refuse_connection(request)
        return False

    def shutdown_request(self, request: Any) -> None:
        # The slot is free before the socket closes: a client that sees the close can connect.
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # the client went away: nothing to fix here
            logger.info("%s disconnected: %s", _peer(client_address), type(error).__name__)
        else:
            logger.exception("error while serving %s", _peer(client_address))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_request_as_lambda(self, request: HttpRequest) -> HttpReply:
        context = LocalLambdaContext()
        # As API Gateway does: the id a client can quote, and that the logs carry.
        request_id = ("x-amzn-RequestId", context.aws_request_id)
        try:
            claims = authorizer_claims(self._verifier.claims(request.headers))
        except NotAuthenticated as refusal:
            # The authorizer's answer (the stack's fixed message; why goes to the log): the
            # function never runs.
            logger.info("%s %s: not authenticated: %s", request.method, request.target, refusal)
            reply = _gateway_error(
                HTTPStatus.UNAUTHORIZED, NOT_AUTHENTICATED_MESSAGE, request_id=request_id[1]
            )
            return HttpReply(reply.status, [*reply.headers, request_id], reply.body)
        reply = invoke(self._lambda_handler, request, context=context, claims=claims)
        return HttpReply(reply.status, [*reply.headers, request_id], reply.body)


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

    def setup(self) -> None:
        super().setup()
        # Every read and write of the connection times out (the stdlib then closes it).
        self.connection.settimeout(self.server.connection_timeout)

    def send_error(
        self,
        code: int,
        message: str | None = None,
        explain: str | None = None,  # noqa: ARG002 - the stdlib's long text, for its HTML page
    ) -> None:
        """The stdlib's own refusals (request line or headers too long, malformed request
        line, unsupported version): in the API's error shape instead of an HTML page."""
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message)
        # A request line that failed to parse left the HTTP/0.9 default, which would send
        # the body without a status line or headers.
        self.request_version = self.protocol_version
        self.close_connection = True
        self._send(_gateway_error(status, clip(message or status.phrase, 100)))

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
        self._send(reply)

    def _send(self, reply: HttpReply) -> None:
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        # HEAD: the headers of the GET answer (its Content-Length included), no content.
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


# Statuses with a code of their own; other 4xx are "bad_request", other 5xx "internal_error".
_GATEWAY_CODES = {
    HTTPStatus.UNAUTHORIZED: "not_authenticated",
    HTTPStatus.SERVICE_UNAVAILABLE: "service_unavailable",
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "http_version_not_supported",
}


def _gateway_error(
    status: HTTPStatus,
    message: str,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    request_id: str | None = None,
) -> HttpReply:
    """An answer of the gateway itself, for the few requests that never reach the function:
    in the shape of the deployed stack's gateway responses (template.yaml, GatewayResponses),
    so a client sees one error format wherever the answer comes from."""
    code = _GATEWAY_CODES.get(status) or (
        "internal_error" if status >= HTTPStatus.INTERNAL_SERVER_ERROR else "bad_request"
    )
    body = error_body(code, message, {"request_id": request_id or str(uuid.uuid4())})
    return HttpReply(
        int(status), [("Content-Type", "application/json"), *headers], json.dumps(body).encode()
    )


def _refuse_connection(connection: socket.socket) -> None:
    """Answer a connection over the limit with a 503 and let it go, without a thread: what
    the client already sent is read first, so that the close is not a reset."""
    reply = _gateway_error(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "the local server is at its limit of open connections; retry shortly",
        (("Retry-After", "1"), ("Connection", "close")),
    )
    head = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
    head += [f"{name}: {value}" for name, value in reply.headers]
    head.append(f"Content-Length: {len(reply.body)}")
    try:
        connection.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            connection.recv(65536)
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        connection.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # it went away first: nothing to answer


def _peer(client_address: Any) -> str:
    host, port = (client_address or ("?", "?"))[:2]
    return f"{host}:{port}"
