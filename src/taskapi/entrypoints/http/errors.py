"""HTTP errors: one table from exception type to status and error code, one renderer.

Every error response has the body ``{"error": code, "message": ..., "details": ...}``. The
status comes from the exception's *type* (looked up along its MRO, so a subclass answers like
its parent until it gets its own row), never from its message. Infrastructure failures are
rendered without their message: a client sees "internal error" and a request id, while the log
line carries the exception; nothing about tables, ARNs or IAM reaches the wire.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import ValidationError

from taskapi.domain.errors import (
    DependenciesNotCompleted,
    DependenciesNotFound,
    DependencyCycle,
    DomainError,
    HasDependents,
    IdempotencyKeyReused,
    InvalidPageToken,
    InvalidTransition,
    LastOwner,
    MemberNotFound,
    NotPermitted,
    TaskNotFound,
    VersionConflict,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.model import Task
from taskapi.domain.text import clip
from taskapi.domain.workspaces import Workspace
from taskapi.service.ports import StoreFailure, StoreUnavailable

# Keep error texts short: a message must never echo a large input back to the client.
MAX_MESSAGE_LENGTH = 200
MAX_FIELD_PROBLEMS = 20


class RequestRejected(Exception):
    """Base of the errors the HTTP layer itself raises (the request, not the domain, is wrong)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class RouteNotFound(RequestRejected):
    def __init__(self, path: str) -> None:
        super().__init__(f"no route matches {clip(path, 100)}")


class MethodNotAllowed(RequestRejected):
    def __init__(self, method: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"{clip(method, 20)} is not allowed here; allowed: {', '.join(allowed)}",
            {"allowed_methods": list(allowed)},
        )
        self.allowed = tuple(allowed)


class PayloadTooLarge(RequestRejected):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"the request body exceeds {limit_bytes} bytes", {"limit_bytes": limit_bytes}
        )


class UnsupportedMediaType(RequestRejected):
    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the request body must be application/json, not {clip(content_type, 60)}",
            {"supported": ["application/json"]},
        )


class MalformedBody(RequestRejected):
    """The body cannot even be read as text (bad base64, not UTF-8)."""


class InvalidPrecondition(RequestRejected):
    """A conditional header that is not well-formed, or that contradicts the body."""


class PreconditionRequired(RequestRejected):
    def __init__(self) -> None:
        super().__init__(
            "an update must say which version it is based on: send If-Match with the task's "
            'ETag (e.g. If-Match: "3") or "version" in the body'
        )


class PreconditionFailed(RequestRejected):
    def __init__(self, current: Task | Workspace) -> None:
        what = "task" if isinstance(current, Task) else "workspace"
        super().__init__(
            f"If-Match does not match the current ETag {current.etag}; re-read the {what} and "
            "retry",
            {"current_etag": current.etag, "current_version": current.version},
        )
        self.current = current


class NotAuthenticated(RequestRejected):
    """The request carries no caller identity (no authorizer vouched for it)."""

    def __init__(self) -> None:
        super().__init__(NOT_AUTHENTICATED_MESSAGE)


@dataclass(frozen=True, slots=True)
class ErrorRule:
    status: HTTPStatus
    code: str


# The table. Domain errors keep the code they carry; the rest get theirs here.
ERROR_TABLE: Final[Mapping[type[BaseException], ErrorRule]] = {
    # The domain: business outcomes.
    TaskNotFound: ErrorRule(HTTPStatus.NOT_FOUND, TaskNotFound.code),
    InvalidTransition: ErrorRule(HTTPStatus.BAD_REQUEST, InvalidTransition.code),
    DependenciesNotFound: ErrorRule(HTTPStatus.BAD_REQUEST, DependenciesNotFound.code),
    DependenciesNotCompleted: ErrorRule(HTTPStatus.BAD_REQUEST, DependenciesNotCompleted.code),
    DependencyCycle: ErrorRule(HTTPStatus.BAD_REQUEST, DependencyCycle.code),
    InvalidPageToken: ErrorRule(HTTPStatus.BAD_REQUEST, InvalidPageToken.code),
    HasDependents: ErrorRule(HTTPStatus.CONFLICT, HasDependents.code),
    IdempotencyKeyReused: ErrorRule(HTTPStatus.UNPROCESSABLE_ENTITY, IdempotencyKeyReused.code),
    VersionConflict: ErrorRule(HTTPStatus.CONFLICT, VersionConflict.code),
    WorkspaceNotFound: ErrorRule(HTTPStatus.NOT_FOUND, WorkspaceNotFound.code),
    MemberNotFound: ErrorRule(HTTPStatus.NOT_FOUND, MemberNotFound.code),
    NotPermitted: ErrorRule(HTTPStatus.FORBIDDEN, NotPermitted.code),
    LastOwner: ErrorRule(HTTPStatus.CONFLICT, LastOwner.code),
    WorkspaceNotEmpty: ErrorRule(HTTPStatus.CONFLICT, WorkspaceNotEmpty.code),
    WorkspaceVersionConflict: ErrorRule(HTTPStatus.CONFLICT, WorkspaceVersionConflict.code),
    DomainError: ErrorRule(HTTPStatus.BAD_REQUEST, DomainError.code),
    # The request itself.
    RequestValidationError: ErrorRule(HTTPStatus.BAD_REQUEST, "validation_error"),
    ValidationError: ErrorRule(HTTPStatus.BAD_REQUEST, "validation_error"),
    MalformedBody: ErrorRule(HTTPStatus.BAD_REQUEST, "malformed_body"),
    InvalidPrecondition: ErrorRule(HTTPStatus.BAD_REQUEST, "invalid_precondition"),
    NotAuthenticated: ErrorRule(HTTPStatus.UNAUTHORIZED, "not_authenticated"),
    RouteNotFound: ErrorRule(HTTPStatus.NOT_FOUND, "not_found"),
    MethodNotAllowed: ErrorRule(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed"),
    PreconditionFailed: ErrorRule(HTTPStatus.PRECONDITION_FAILED, "precondition_failed"),
    PayloadTooLarge: ErrorRule(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large"),
    UnsupportedMediaType: ErrorRule(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    # The resolver's own media-type check, which body.checked_body runs before it; kept
    # so that the resolver's refusal could never become a 500.
    RequestUnsupportedContentType: ErrorRule(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"
    ),
    PreconditionRequired: ErrorRule(HTTPStatus.PRECONDITION_REQUIRED, "precondition_required"),
    # Infrastructure (service ports).
    StoreUnavailable: ErrorRule(HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable"),
    StoreFailure: ErrorRule(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error"),
}
INTERNAL_ERROR: Final = ErrorRule(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error")

_FIXED_MESSAGES: Final[Mapping[str, str]] = {
    "validation_error": "the request is not valid",
}


def rule_for(exc: BaseException) -> ErrorRule:
    for cls in type(exc).__mro__:
        rule = ERROR_TABLE.get(cls)
        if rule is not None:
            return rule
    return INTERNAL_ERROR


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: HTTPStatus
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_server_error(self) -> bool:
        return self.status >= HTTPStatus.INTERNAL_SERVER_ERROR

    @property
    def is_retryable(self) -> bool:
        return self.status == HTTPStatus.SERVICE_UNAVAILABLE

    def proxy_response(self) -> dict[str, Any]:
        """This reply as a Lambda proxy integration response."""
        return {
            "statusCode": int(self.status),
            "headers": {"Content-Type": "application/json", **self.headers},
            "body": json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
        }


def error_reply(exc: BaseException, request_id: str) -> ErrorReply:
    """The response for ``exc``: status and code from the table, safe message and details."""
    rule = rule_for(exc)
    if isinstance(exc, StoreUnavailable):
        seconds = max(1, exc.retry_after_seconds)
        return ErrorReply(
            rule.status,
            error_body(
                rule.code,
                f"the service is busy; retry in {seconds} s",
                {"retry_after_seconds": seconds, "request_id": request_id},
            ),
            {"Retry-After": str(seconds)},
        )
    if rule.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return ErrorReply(
            rule.status, error_body(rule.code, "internal error", {"request_id": request_id})
        )
    if isinstance(exc, RequestValidationError | ValidationError):
        problems = field_problems(exc.errors())
        return ErrorReply(rule.status, error_body(rule.code, _summary(problems), problems))
    message, details = _message_and_details(exc, rule)
    body = error_body(rule.code, message, details)
    headers: dict[str, str] = {}
    if isinstance(exc, VersionConflict):
        body["current_task"] = exc.current.model_dump(mode="json")
        headers["ETag"] = exc.current.etag
    elif isinstance(exc, WorkspaceVersionConflict):
        body["current_workspace"] = exc.current.model_dump(mode="json")
        headers["ETag"] = exc.current.etag
    elif isinstance(exc, PreconditionFailed):
        headers["ETag"] = exc.current.etag
    elif isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    return ErrorReply(rule.status, body, headers)


def _message_and_details(exc: BaseException, rule: ErrorRule) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, DomainError | RequestRejected):
        return clip(exc.message, MAX_MESSAGE_LENGTH), exc.details
    return _FIXED_MESSAGES.get(rule.code, rule.status.phrase.lower()), {}


# The gateway's answer to a missing or bad token (template.yaml, GatewayResponses,
# UNAUTHORIZED), which the local gateway gives too; the function never sees such a request.
NOT_AUTHENTICATED_MESSAGE: Final = "the token is missing or not valid"


def error_body(code: str, message: str, details: Any) -> dict[str, Any]:
    """The one shape of every error the API answers, the local gateway's own included."""
    return {"error": code, "message": message, "details": details}


def field_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic/Powertools error dicts as ``{field, message}``, without the offending input."""
    problems = []
    for error in errors[:MAX_FIELD_PROBLEMS]:
        loc = [str(part) for part in error.get("loc", ())]
        message = plain_message(error)
        if error.get("type") == "json_invalid":
            # Powertools puts the character offset in loc; the decoder's reason is in ctx.
            reason = str(error.get("ctx", {}).get("error", "malformed"))
            loc, message = loc[:1], f"invalid JSON ({reason}) at offset {_offset(error)}"
        problems.append(
            {"field": ".".join(loc) or "request", "message": clip(message, MAX_MESSAGE_LENGTH)}
        )
    return problems


# Pydantic's wording for the common problems, said as a person would ("{...}" from ctx).
_PLAIN_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "required",
    "extra_forbidden": "unknown field: not part of this request",
    "too_long": "at most {max_length} {items}, not {actual_length}",
    "too_short": "at least {min_length} {items}, not {actual_length}",
    "string_too_long": "at most {max_length} characters",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


# The patterns of request parameters (openapi.py: the Idempotency-Key header, next_token) and
# what each asks for, in words: a regex is not a message for a client.
VISIBLE_ASCII_PATTERN: Final = r"^[\x21-\x7e]+$"
URL_SAFE_PATTERN: Final = r"^[A-Za-z0-9_-]+$"
_PATTERN_WORDS: Final[Mapping[str, str]] = {
    VISIBLE_ASCII_PATTERN: "must be visible ASCII characters only, without spaces",
    URL_SAFE_PATTERN: "must hold letters, digits, '-' and '_' only",
}


def plain_message(error: Mapping[str, Any]) -> str:
    """One Pydantic/Powertools error's message in plain words."""
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    loc = error.get("loc") or ("",)
    # A length check after a before-validator is Pydantic's generic too_long, text or not.
    items = "characters" if isinstance(error.get("input"), str) else "items"
    context["items"] = "dependencies" if loc[-1] == "dependencies" else items
    if kind == "string_too_short" and context.get("min_length") == 1:
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return _PATTERN_WORDS.get(str(context.get("pattern")), "is not in the expected form")
    template = _PLAIN_MESSAGES.get(kind)
    if template is not None:
        with contextlib.suppress(KeyError):  # a context without what the template names
            return template.format_map(context)
    # Our own validators' ValueErrors come prefixed; "Input should be" reads as "must be".
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if message.startswith("Input should be"):
        return "must be" + message.removeprefix("Input should be")
    return message


def _offset(error: Mapping[str, Any]) -> str:
    loc = error.get("loc", ())
    return str(loc[1]) if len(loc) > 1 else "?"


def _summary(problems: Sequence[Mapping[str, str]]) -> str:
    if not problems:
        return "the request is not valid"
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return clip(f"{first['field']}: {first['message']}{more}", MAX_MESSAGE_LENGTH)
