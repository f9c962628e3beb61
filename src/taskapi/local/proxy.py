"""Plain HTTP <-> API Gateway REST proxy events (payload format 1.0), without sockets.

``taskapi serve`` uses these to put the Lambda handler behind a local HTTP server, and tests
use ``invoke`` to call the handler exactly as the local server does. The event has the shape
API Gateway gives a ``/{proxy+}`` resource with a Lambda proxy integration: single- and
multi-value headers and query strings, ``pathParameters.proxy``, a request context with the
request id, stage and source IP, and a body that is text, or base64 when it is not UTF-8.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from taskapi.local.environment import ENVIRONMENT

LOCAL_STAGE = "local"
# API Gateway's integration timeout: the most a request can take.
REQUEST_TIMEOUT_MS = 29_000


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str  # the request target as sent: path and query string, e.g. /tasks?limit=5
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    client_ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class LocalLambdaContext:
    """The attributes of a Lambda context that Powertools reads, for a local invocation."""

    function_name: str = "taskapi-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:taskapi-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/taskapi-local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + REQUEST_TIMEOUT_MS)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def _single_and_multi(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    # API Gateway keeps the last value in the single-value map and every value in the other;
    # both are null when there is nothing.
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {key: values[-1] for key, values in multi.items()}, multi


def _merge_header_names(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    # HTTP header names are case-insensitive; group every spelling under the first one seen.
    spelling: dict[str, str] = {}
    return [(spelling.setdefault(name.lower(), name), value) for name, value in headers]


def to_proxy_event(
    request: HttpRequest,
    *,
    request_id: str | None = None,
    stage: str = LOCAL_STAGE,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event for ``request``; ``claims``: what a Cognito
    authorizer verified, put where API Gateway puts them (``requestContext.authorizer``)."""
    split = urlsplit(request.target)
    # API Gateway's REST proxy events carry the path as it was sent, still percent-encoded
    # (a member identity with a "/" is sent as %2F and stays one path segment); query
    # values are decoded.
    path = split.path or "/"
    query, multi_query = _single_and_multi(parse_qsl(split.query, keep_blank_values=True))
    headers, multi_headers = _single_and_multi(_merge_header_names(request.headers))
    body: str | None = None
    encoded = False
    if request.body:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(request.body).decode("ascii"), True
    request_id = request_id or str(uuid.uuid4())
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method.upper(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method.upper(),
            "path": path,
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": request.client_ip,
                "userAgent": (headers or {}).get("User-Agent"),
            },
            "accountId": "000000000000",
            "apiId": "local",
            **({} if claims is None else {"authorizer": {"claims": dict(claims)}}),
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def from_proxy_response(response: Mapping[str, Any]) -> HttpReply:
    """The HTTP reply described by a Lambda proxy integration response."""
    headers: list[tuple[str, str]] = []
    multi: Mapping[str, Sequence[Any]] = response.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    for name, value in (response.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
    return HttpReply(status=int(response["statusCode"]), headers=headers, body=body)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def invoke(
    handler: Handler,
    request: HttpRequest,
    *,
    context: LocalLambdaContext | None = None,
    claims: Mapping[str, str] | None = None,
) -> HttpReply:
    """Call a Lambda proxy handler as API Gateway would, and read its answer as HTTP."""
    context = context or LocalLambdaContext()
    event = to_proxy_event(request, request_id=context.aws_request_id, claims=claims)
    with ENVIRONMENT.invocation():
        response = handler(event, context)
    return from_proxy_response(response)
