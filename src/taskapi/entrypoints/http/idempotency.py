"""``Idempotency-Key`` on POST /tasks: who the caller is, and the reply header of a replay.

The key is scoped to the caller, so two callers never see each other's responses; the task
service records the request in the same atomic write as the task it creates, so a retry with
the same key and body is answered with the first task and creates nothing, whatever failed in
between. See docs/api.md#idempotency-keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPLAYED_HEADER = "Idempotent-Replayed"
# The caller of an event without an identity (`taskapi invoke` on a sample event, tests); the
# local server, like API Gateway, lets no request without a token reach the function.
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
