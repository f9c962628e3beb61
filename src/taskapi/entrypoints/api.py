"""Lambda: the HTTP API. API Gateway (REST, proxy integration) -> the routes -> TaskService.

The same handler runs behind ``taskapi serve``. See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi import bootstrap
from taskapi.entrypoints import snapstart
from taskapi.entrypoints.http import routes, workspace_routes
from taskapi.entrypoints.http.app import app, handle
from taskapi.entrypoints.http.correlation import correlation_id_of, with_correlation_header
from taskapi.entrypoints.http.route_metrics import timed_by_route
from taskapi.entrypoints.observability import logger, metrics, tracer

__all__ = ["app", "lambda_handler", "logger", "routes", "workspace_routes"]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@timed_by_route
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The caller's X-Correlation-Id or the request id (Powertools' API_GATEWAY_REST path would
    # take the request id alone): in every log line, in the trace, in the events, in the reply.
    correlation_id = correlation_id_of(event)
    logger.set_correlation_id(correlation_id)
    if correlation_id is not None:
        tracer.put_annotation(key="correlation_id", value=correlation_id)
    return with_correlation_header(handle(event, context), correlation_id)


snapstart.prepare(bootstrap.get_runtime)
