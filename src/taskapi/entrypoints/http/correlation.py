"""The request's correlation id: the caller's ``X-Correlation-Id`` when it is a valid one,
else API Gateway's request id. Every log line of the request and every event it causes carry
it, and the response echoes it. An invalid header (empty, over 128 characters, or with a
character that is not visible ASCII) is ignored, not refused: a tracing header never fails a
request (W3C Trace Context does the same with a malformed ``traceparent``), and the echoed
header tells the caller which id was used. See docs/api.md#correlation-ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskapi.domain.events import (
    CORRELATION_ID_MAX_LENGTH,
    CORRELATION_ID_PATTERN,
    is_correlation_id,
)

CORRELATION_HEADER = "X-Correlation-Id"
_HEADER_KEY = CORRELATION_HEADER.lower()

# How the OpenAPI document shows the header on every operation (the resolver adds them): any
# string is accepted, since an invalid one is ignored, not refused; the echo is always valid.
OPENAPI_PARAMETER: dict[str, Any] = {
    "name": CORRELATION_HEADER,
    "in": "header",
    "required": False,
    "description": "Your id for this request, carried by its log lines and the events it "
    f"causes: 1 to {CORRELATION_ID_MAX_LENGTH} visible ASCII characters. Any other value is "
    "ignored (the request id is used instead), never refused.",
    "schema": {"type": "string"},
}
OPENAPI_RESPONSE_HEADER: dict[str, Any] = {
    "description": "The request's correlation id: your X-Correlation-Id when it was valid, "
    "else the request id.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": CORRELATION_ID_MAX_LENGTH,
        "pattern": CORRELATION_ID_PATTERN,
    },
}


def given_correlation_id(event: Mapping[str, Any]) -> str | None:
    """The caller's ``X-Correlation-Id`` header as sent (any case of its name), if any."""
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == _HEADER_KEY:
            return value if isinstance(value, str) else None
    return None


def correlation_id_of(event: Mapping[str, Any]) -> str | None:
    """The request's correlation id; ``None`` only for an event without a request id (not one
    API Gateway or ``taskapi serve`` sends)."""
    given = given_correlation_id(event)
    if given is not None and is_correlation_id(given):
        return given
    request_id = (event.get("requestContext") or {}).get("requestId")
    return request_id if isinstance(request_id, str) and is_correlation_id(request_id) else None


def with_correlation_header(response: dict[str, Any], correlation_id: str | None) -> dict[str, Any]:
    """The proxy response with ``X-Correlation-Id`` set (nothing to echo without an id)."""
    if correlation_id is not None:
        response["headers"] = {
            **(response.get("headers") or {}),
            CORRELATION_HEADER: correlation_id,
        }
    return response
