"""The failure table: what an AWS error means for the caller of a port.

Throttling (and cancellations whose reasons are all throttling or ``TransactionConflict``)
becomes ``StoreUnavailable`` (503 + Retry-After); every other AWS or botocore failure becomes
``StoreFailure`` (500). The rows are data, never string matching on messages; the port error
carries a generic message, and the full detail is logged here, once.
See docs/aws.md#the-failure-table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from taskapi.service.ports import StoreFailure, StoreUnavailable

logger = logging.getLogger(__name__)

# Error codes AWS returns when a request was refused for rate, not for content.
THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
    }
)
# CancellationReasons codes of TransactWriteItems that a retry can cure.
TRANSIENT_CANCELLATION_REASONS: Final = frozenset(
    {
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "TransactionConflict",
    }
)
TRANSACTION_CANCELED: Final = "TransactionCanceledException"
NO_REASON: Final = "None"  # what DynamoDB reports for the items of a transaction that were fine

# Seconds a client should wait before retrying; botocore already backed off for ~1-2 s.
THROTTLED_RETRY_AFTER_SECONDS: Final = 2
CONFLICT_RETRY_AFTER_SECONDS: Final = 1

UNAVAILABLE_MESSAGE: Final = "the task store is busy; retry later"
FAILURE_MESSAGE: Final = "the task store failed"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[Mapping[str, Any]]:
    """The per-item reasons of a cancelled transaction, in request order (empty otherwise)."""
    reasons: Sequence[Mapping[str, Any]] = exc.response.get("CancellationReasons", ())
    return list(reasons)


def reason_codes(exc: ClientError) -> list[str]:
    return [str(reason.get("Code", NO_REASON)) for reason in cancellation_reasons(exc)]


def is_transient_cancellation(exc: ClientError) -> bool:
    """A cancelled transaction that only throttling or a conflicting transaction caused."""
    failed = [code for code in reason_codes(exc) if code != NO_REASON]
    return bool(failed) and all(code in TRANSIENT_CANCELLATION_REASONS for code in failed)


def to_port_error(exc: Exception, operation: str) -> StoreUnavailable | StoreFailure:
    """Classify ``exc`` by the failure table and log its full detail."""
    detail = _detail(exc, operation)
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in THROTTLING_CODES:
            logger.warning("AWS throttled the request", extra=detail)
            return StoreUnavailable(UNAVAILABLE_MESSAGE, THROTTLED_RETRY_AFTER_SECONDS)
        if code == TRANSACTION_CANCELED and is_transient_cancellation(exc):
            logger.warning("AWS cancelled a transaction; a retry can succeed", extra=detail)
            retry_after = (
                CONFLICT_RETRY_AFTER_SECONDS
                if set(reason_codes(exc)) <= {"TransactionConflict", NO_REASON}
                else THROTTLED_RETRY_AFTER_SECONDS
            )
            return StoreUnavailable(UNAVAILABLE_MESSAGE, retry_after)
    logger.error("AWS request failed", extra=detail, exc_info=exc)
    return StoreFailure(FAILURE_MESSAGE)


@contextmanager
def translate_aws_errors(operation: str) -> Iterator[None]:
    """Turn botocore failures inside the block into port errors; anything else (domain
    errors, port errors already translated) passes through untouched."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise to_port_error(exc, operation) from exc


def _detail(exc: Exception, operation: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"operation": operation, "error_type": type(exc).__name__}
    if isinstance(exc, ClientError):
        metadata = exc.response.get("ResponseMetadata", {})
        detail |= {
            "error_code": error_code(exc),
            "error_message": exc.response.get("Error", {}).get("Message", ""),
            "aws_request_id": metadata.get("RequestId"),
            "http_status": metadata.get("HTTPStatusCode"),
        }
        reasons = reason_codes(exc)
        if reasons:
            detail["cancellation_reasons"] = reasons
    else:
        detail["error_message"] = str(exc)
    return detail
