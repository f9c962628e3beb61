"""The API's latency per route: an EMF metric ``RouteLatency`` (milliseconds), dimensions
``route`` and ``service``, in the Powertools namespace, one line per request.

``route`` is the rule the request matched (``GET /workspaces/{workspace_id}``), never its path;
``unmatched`` when no route takes it. API Gateway cannot tell the routes apart (one ``{proxy+}``
resource). On every request's path, so Powertools serialises the line once per route and a
request only fills in its timestamp and value. See docs/deployment.md#operations.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from taskapi.entrypoints.http.app import app
from taskapi.entrypoints.observability import SERVICE_NAME, metrics

ROUTE_LATENCY = "RouteLatency"
ROUTE_DIMENSION = "route"
_TIMESTAMP, _VALUE = "__timestamp__", "__value__"

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], dict[str, Any]])


def route_label(event: Mapping[str, Any]) -> str:
    """The ``route`` dimension of a request: its method and the rule it matched."""
    return app.route_table.label(str(event.get("httpMethod", "")), str(event.get("path")))


def emf_metric_set(label: str, milliseconds: float, timestamp_ms: int) -> dict[str, Any]:
    """The metric set Powertools emits for one request's latency on ``label``."""
    route_metrics = EphemeralMetrics(namespace=metrics.namespace, service=SERVICE_NAME)
    route_metrics.add_dimension(name=ROUTE_DIMENSION, value=label)
    route_metrics.add_metric(name=ROUTE_LATENCY, unit=MetricUnit.Milliseconds, value=milliseconds)
    route_metrics.set_timestamp(timestamp_ms)
    return cast(dict[str, Any], route_metrics.serialize_metric_set())


@functools.cache
def _line_parts(label: str) -> tuple[str, str, str]:
    """Powertools' EMF line for ``label``, split where the timestamp and the value go."""
    metric_set = emf_metric_set(label, 0.0, int(time.time() * 1000))
    metric_set["_aws"]["Timestamp"] = _TIMESTAMP
    metric_set[ROUTE_LATENCY] = _VALUE
    text = json.dumps(metric_set, separators=(",", ":"))
    before, rest = text.split(json.dumps(_TIMESTAMP))
    between, after = rest.split(json.dumps(_VALUE))
    return before, between, after


def emf_line(label: str, milliseconds: float, timestamp_ms: int) -> str:
    before, between, after = _line_parts(label)
    return f"{before}{timestamp_ms}{between}[{round(milliseconds, 3)}]{after}"


def record_route_latency(event: Mapping[str, Any], milliseconds: float) -> None:
    if is_metrics_disabled():
        return
    print(emf_line(route_label(event), milliseconds, int(time.time() * 1000)))


def timed_by_route(handler: Handler) -> Handler:
    """Wraps the API handler: its time per request, recorded by route."""

    @functools.wraps(handler)
    def timed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            record_route_latency(event, (time.perf_counter() - started) * 1000)

    return timed  # type: ignore[return-value]
