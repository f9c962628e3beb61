"""The API's per-route latency metric: one EMF line per request, its ``route`` dimension the
rule the request matched (never the path), in exactly the form Powertools writes.
(api_helpers imports the API handler, so the routes are registered.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.entrypoints.http import route_metrics
from taskapi.entrypoints.observability import SERVICE_NAME, metrics
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import TASKS, call, create, installed


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in Lambda (the local server turns EMF lines off).
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def latency_lines(output: str) -> list[dict[str, Any]]:
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [blob for blob in blobs if route_metrics.ROUTE_LATENCY in blob]


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("GET", "/workspaces/w1/tasks/t1", "GET /workspaces/{workspace_id}/tasks/{task_id}"),
        ("post", "/workspaces/w1/tasks", "POST /workspaces/{workspace_id}/tasks"),
        ("HEAD", "/workspaces/w1/tasks", "HEAD /workspaces/{workspace_id}/tasks"),
        ("GET", "/health", "GET /health"),
        ("GET", "/workspaces/w1/tasks/t1/", "GET /workspaces/{workspace_id}/tasks/{task_id}"),
        ("PATCH", "/health", "unmatched"),  # a 405
        ("GET", "/no/such/route", "unmatched"),
        ("BREW", "/workspaces/w1/tasks", "unmatched"),
    ],
)
def test_the_route_is_the_rule_matched_not_the_path(method: str, path: str, label: str) -> None:
    assert route_metrics.route_label({"httpMethod": method, "path": path}) == label


def test_the_line_is_the_metric_set_powertools_writes() -> None:
    label = "GET /workspaces/{workspace_id}/tasks/{task_id}"

    now = int(time.time() * 1000)

    line = route_metrics.emf_line(label, 12.34567, now)

    assert json.loads(line) == route_metrics.emf_metric_set(label, 12.346, now)
    assert json.loads(line)["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": metrics.namespace,
            "Dimensions": [["route", "service"]],
            "Metrics": [{"Name": "RouteLatency", "Unit": "Milliseconds"}],
        }
    ]


@pytest.mark.usefixtures("harness", "metrics_on")
def test_every_request_writes_its_route_latency(capsys: pytest.CaptureFixture[str]) -> None:
    task = create()
    capsys.readouterr()

    call("GET", f"{TASKS}/{task['task_id']}")
    call("GET", "/nowhere")
    lines = latency_lines(capsys.readouterr().out)

    assert [(line["route"], line["service"]) for line in lines] == [
        ("GET /workspaces/{workspace_id}/tasks/{task_id}", SERVICE_NAME),
        ("unmatched", SERVICE_NAME),
    ]
    assert all(line["RouteLatency"][0] > 0 for line in lines)


@pytest.mark.usefixtures("harness")
def test_no_line_when_metrics_are_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    call("GET", "/health")

    assert latency_lines(capsys.readouterr().out) == []
