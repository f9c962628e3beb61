"""A small HTTP proxy in front of moto server that can lose replies.

It forwards every request; for the next ``drop(target, n)`` requests whose ``X-Amz-Target``
ends with ``target`` it lets the request reach the server, reads the server's reply, and then
closes the client's connection without sending it: what a client sees when a call succeeded
but its reply was lost on the way back. botocore retries such a call by itself.
"""

from __future__ import annotations

import http.client
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit


class ReplyDropper(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        split = urlsplit(upstream)
        self.upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._lock = threading.Lock()
        self._drops: dict[str, int] = {}
        self.dropped: list[str] = []
        self.forwarded: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def drop(self, target: str, times: int = 1) -> None:
        """Lose the reply of the next ``times`` calls of ``target`` (e.g. TransactWriteItems)."""
        with self._lock:
            self._drops[target] = self._drops.get(target, 0) + times

    def should_drop(self, amz_target: str) -> bool:
        with self._lock:
            self.forwarded.append(amz_target)
            for target, left in self._drops.items():
                if left and amz_target.endswith(f".{target}"):
                    self._drops[target] = left - 1
                    self.dropped.append(amz_target)
                    return True
            return False


class _Forward(BaseHTTPRequestHandler):
    server: ReplyDropper
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            upstream.request("POST", self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            payload = reply.read()
        finally:
            upstream.close()
        if self.server.should_drop(self.headers.get("X-Amz-Target", "")):
            self.close_connection = True  # the reply was read and is never sent
            return
        self.send_response_only(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def reply_dropper(upstream: str) -> Iterator[ReplyDropper]:
    proxy = ReplyDropper(upstream)
    thread = threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
