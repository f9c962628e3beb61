"""Who the caller is, as API Gateway's authorizer established it: the identity workspaces
name their members by, and the scope of an ``Idempotency-Key`` (with the workspace, so two
callers never see each other's responses). See docs/api.md#authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from taskapi.entrypoints.http.app import app
from taskapi.entrypoints.http.correlation import correlation_id_of
from taskapi.entrypoints.http.errors import NotAuthenticated
from taskapi.service.commands import Access

# The reply header of a create answered from the record of an earlier one with the same key.
REPLAYED_HEADER = "Idempotent-Replayed"
# The caller of a request without an identity (an invocation no authorizer saw). It is never a
# member of anything: the workspace routes answer it 401.
ANONYMOUS_CALLER = "anonymous"


def caller_of(event: Mapping[str, Any]) -> str:
    """Who is calling, as API Gateway's authorizer established it: the Cognito user's
    ``sub`` claim (Cognito mode), else the IAM principal (IAM mode)."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    subject = claims.get("sub") if isinstance(claims, Mapping) else None
    if subject:
        return f"cognito:{subject}"
    identity = context.get("identity") or {}
    principal = identity.get("userArn") or identity.get("caller")
    return f"iam:{principal}" if principal else ANONYMOUS_CALLER


def current_caller() -> str:
    """The caller of the request being handled; ``NotAuthenticated`` (401) if it has none."""
    caller = caller_of(app.current_event.raw_event)
    if caller == ANONYMOUS_CALLER:
        raise NotAuthenticated
    return caller


def access_to(workspace_id: UUID) -> Access:
    """The current caller, asking about ``workspace_id``, on behalf of the request's
    correlation id (which every event the request causes carries)."""
    event = app.current_event.raw_event
    return Access(workspace_id, current_caller(), correlation_id_of(event))
