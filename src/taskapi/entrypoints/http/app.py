"""The API's resolver: routing, request validation, the OpenAPI document, the error table.

``handle`` is what the API function runs for each event: the body checks of ``body`` for
routes that take one, then the routes of ``routes``. See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi.domain.errors import VersionConflict
from taskapi.entrypoints.http.body import checked_body, parse_json_object
from taskapi.entrypoints.http.errors import (
    ErrorReply,
    MethodNotAllowed,
    PreconditionFailed,
    RequestRejected,
    RouteNotFound,
    error_reply,
)
from taskapi.entrypoints.http.resolver import TaskApiResolver
from taskapi.entrypoints.observability import logger, metrics

try:
    API_VERSION = package_version("taskapi")
except PackageNotFoundError:  # running from a source tree that is not installed
    API_VERSION = "0.0.0"

app = TaskApiResolver(enable_validation=True, json_body_deserializer=parse_json_object)
app.configure_openapi(
    title="taskapi",
    version=API_VERSION,
    summary="Tasks with dependencies, optimistic concurrency and idempotent creates.",
    description=(
        "A task-management REST API. Every write is conditional on the version it was based "
        "on (`version` in the body, or `If-Match` with the task's `ETag`); creates accept an "
        "`Idempotency-Key`. Errors are `{error, message, details}` with a stable `error` code."
    ),
    tags=["tasks", "operations"],
)
# Swagger UI: the /swagger route (routes.py), built on its first request.


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One API Gateway proxy event -> its proxy response."""
    method, path = str(event.get("httpMethod", "")).upper(), str(event.get("path"))
    if method == "HEAD" and "GET" in app.route_table.allowed_methods(path):
        # HEAD is GET without the content (RFC 9110, 9.3.2): answer it as GET; the HTTP front
        # (API Gateway, the local gateway) sends the headers and drops the content.
        event = {**event, "httpMethod": "GET"}
    try:
        if app.route_table.takes_body(method, path):
            event = checked_body(event)
    except RequestRejected as exc:
        # Refused before routing: the resolver never sees the request (see body.py).
        reply = error_reply(exc, request_id(event))
        logger.info("request refused", extra={"error": reply.body["error"]})
        return reply.proxy_response()
    return app.resolve(event, context)


def request_id(event: Mapping[str, Any]) -> str:
    """API Gateway's id for the request (``requestContext.requestId``): what a client can
    quote (``x-amzn-RequestId``) and what every log line of the request carries."""
    context = event.get("requestContext") or {}
    return str(context.get("requestId") or "unknown")


def handle_error(exc: Exception) -> Response[dict[str, Any]]:
    event = app.current_event
    reply = error_reply(exc, request_id(event.raw_event))
    if reply.is_server_error:
        # What the risk map groups a failure by (docs/operations.md#the-logs-source).
        failure = {
            "route": app.route_table.label(event.http_method, event.path),
            "status": int(reply.status),
            "error": reply.body["error"],
        }
        if reply.is_retryable:
            logger.warning("store unavailable", exc_info=exc, extra=failure)
        else:
            logger.exception("unhandled error", exc_info=exc, extra=failure)
    elif isinstance(exc, VersionConflict | PreconditionFailed):
        metrics.add_metric(name="VersionConflict", unit=MetricUnit.Count, value=1)
    return _response(reply)


# Every exception, including Powertools' RequestValidationError, goes through the one table.
app.exception_handler(Exception)(handle_error)


@app.not_found
def handle_not_found(_exc: NotFoundError) -> Response[dict[str, Any]]:
    method = app.current_event.http_method.upper()
    path = app.current_event.path
    allowed = app.route_table.allowed_methods(path)
    # The route table and the resolver match paths alike (a parameter is any segment), so a
    # path the table knows reached here only with a method none of its routes take.
    if allowed and method not in allowed:
        return handle_error(MethodNotAllowed(method, allowed))
    return handle_error(RouteNotFound(path))


def _response(reply: ErrorReply) -> Response[dict[str, Any]]:
    return Response(
        status_code=reply.status,
        content_type=content_types.APPLICATION_JSON,
        body=reply.body,
        headers=reply.headers,
    )
