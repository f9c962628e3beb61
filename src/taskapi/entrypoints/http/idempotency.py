"""``Idempotency-Key`` for POST /tasks, on Powertools' idempotency utility.

A client that retries a create (a timeout, a dropped connection) sends the same key; the API
answers with the first response instead of creating a second task. The record key is the
header value, scoped to the caller, so two callers can never see each other's responses.
The request body is *not* part of the key: Powertools' payload validation compares a hash of
it, so the same key with a different body is reported (422) rather than silently treated as a
new request. A duplicate that arrives while the first is still running gets 409.

If the create fails, Powertools deletes the in-progress record, so a retry runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# How long a key is remembered: long enough for any sane retry policy.
KEY_LIFETIME_SECONDS = 24 * 60 * 60
KEY_PREFIX = "taskapi.create_task"
REPLAYED_HEADER = "Idempotent-Replayed"
# The caller of a request without an IAM identity (the local server, tests).
ANONYMOUS_CALLER = "anonymous"


def caller_of(event: Mapping[str, Any]) -> str:
    """Who is calling (the IAM principal in AWS), to scope idempotency keys per caller."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("userArn") or identity.get("caller") or ANONYMOUS_CALLER)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What is remembered for a key, and returned again on a retry."""

    status_code: int
    headers: dict[str, str]
    body: dict[str, Any]
    replayed: bool = False

    def to_record(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "headers": self.headers, "body": self.body}

    @classmethod
    def from_record(cls, record: dict[str, Any], *, replayed: bool) -> StoredResponse:
        return cls(
            status_code=int(record["status_code"]),
            headers=dict(record["headers"]),
            body=dict(record["body"]),
            replayed=replayed,
        )


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:  # noqa: ARG001
    # Powertools calls this hook only when it answers from a stored record.
    return {**response, "replayed": True}


def idempotency_config(context: LambdaContext | None = None) -> IdempotencyConfig:
    """How a create request is keyed and checked (see ``idempotency_request``)."""
    config = IdempotencyConfig(
        event_key_jmespath="[caller, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=KEY_LIFETIME_SECONDS,
        raise_on_no_idempotency_key=True,
        response_hook=_mark_replayed,
    )
    if context is not None:
        # Lets Powertools expire an in-progress record when this invocation times out.
        config.register_lambda_context(context)
    return config


def idempotency_request(caller: str, key: str, body: Any) -> dict[str, Any]:
    """The data Powertools keys (caller and key) and validates (body) for one request."""
    return {"caller": caller, "key": key, "body": body}


def respond_once(
    store: BasePersistenceLayer,
    *,
    key: str,
    caller: str,
    body: Any,
    context: LambdaContext | None,
    respond: Callable[[], StoredResponse],
) -> StoredResponse:
    """Run ``respond`` at most once per (caller, key) while the key lives; replay its result."""
    config = idempotency_config(context)

    def run(request: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001 - Powertools hashes it
        return respond().to_record()

    once = idempotent_function(
        run,
        data_keyword_argument="request",
        persistence_store=store,
        config=config,
        key_prefix=KEY_PREFIX,
    )
    record: dict[str, Any] = once(request=idempotency_request(caller, key, body))
    return StoredResponse.from_record(record, replayed=bool(record.get("replayed")))
