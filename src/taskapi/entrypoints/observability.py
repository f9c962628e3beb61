"""Powertools Logger, Tracer and Metrics for every function, configured by the standard
``POWERTOOLS_*`` environment variables (the defaults serve local runs and tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "taskapi")

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "taskapi"), service=SERVICE_NAME
)
# Tracing switches itself off outside Lambda (no X-Ray daemon to talk to).
tracer = Tracer(service=SERVICE_NAME)

# Until the first invocation of this container (or process) starts.
_cold_start = True


@contextmanager
def invocation_log_keys(
    context: LambdaContext, correlation_id: str | None = None
) -> Iterator[None]:
    """The keys Powertools' ``inject_lambda_context`` puts on every log line (cold start, the
    Lambda context, a correlation id), for this invocation's thread only, removed when it ends.

    The decorator appends them to the logger's process-wide keys, where they stay after the
    invocation: locally, the outbox dispatcher thread of ``taskapi serve`` would then log under
    the id of whichever request ran last. Keys a handler adds with
    ``logger.thread_safe_append_keys`` are removed at the end too."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
        cold_start = False  # as Powertools says: initialised before any request arrived
    keys: dict[str, object] = {
        "cold_start": cold_start,
        "function_name": context.function_name,
        "function_memory_size": context.memory_limit_in_mb,
        "function_arn": context.invoked_function_arn,
        "function_request_id": context.aws_request_id,
    }
    if correlation_id is not None:
        keys["correlation_id"] = correlation_id
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
