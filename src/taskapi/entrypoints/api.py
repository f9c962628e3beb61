"""Lambda: the HTTP API. API Gateway (REST, proxy integration) -> the routes -> TaskService.

The same handler runs behind ``taskapi serve``. See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi import bootstrap
from taskapi.entrypoints import snapstart
from taskapi.entrypoints.http import routes, workspace_routes
from taskapi.entrypoints.http.app import app, handle
from taskapi.entrypoints.http.route_metrics import timed_by_route
from taskapi.entrypoints.observability import logger, metrics, tracer

__all__ = ["app", "lambda_handler", "logger", "routes", "workspace_routes"]


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@metrics.log_metrics
@tracer.capture_lambda_handler
@timed_by_route
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)


snapstart.prepare(bootstrap.get_runtime)
