"""Local logs (``taskapi.local.logs``) on requests served by the local gateway: by default a
person reads one access line per request and the functions' warnings as short lines, never
Powertools' JSON or the EMF metric lines; both are there when asked for."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.domain.workspaces import Role
from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.observability import logger as function_logger
from taskapi.local.cli import build_parser
from taskapi.local.gateway import serving
from taskapi.local.identity import member_identity
from taskapi.local.logs import local_logging, resolve_format
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import StoreUnavailable
from taskapi.service.workspaces import WorkspaceService
from tests.fakes.builders import OWNER, WORKSPACE_ID
from tests.fakes.clock import SequentialIds
from tests.fakes.service import PAGE_TOKEN_SECRET, ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits
from tests.tokens import ALICE, bearer, local_server

Send = Callable[..., int]
TASKS = f"/workspaces/{WORKSPACE_ID}/tasks"


@pytest.fixture(autouse=True)
def _no_powertools_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "POWERTOOLS_LOG_LEVEL",
        "LOG_LEVEL",
        "POWERTOOLS_DEV",
        "POWERTOOLS_METRICS_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def served_api(pool_dir: Path, *, failing_commit: int | None = None) -> Iterator[Send]:
    """The API on a free port, on the in-memory store, accepting ``pool_dir``'s tokens;
    ``send(title[, content_type])`` POSTs a task to the store's workspace, as Alice (one of
    its members), and returns the status. Commit number ``failing_commit`` fails as a
    throttled store."""
    wrap = None
    if failing_commit is not None:
        wrap = lambda inner: FailingCommits(  # noqa: E731
            inner, StoreUnavailable("throttled"), on_commit=failing_commit
        )
    harness = build_service(wrap=wrap)
    join(harness, member_identity(ALICE))
    server = local_server(lambda_handler, pool_dir)
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    auth = bearer(pool_dir)

    def send(title: str, content_type: str = "application/json") -> int:
        body = json.dumps({"title": title}).encode()
        connection.request("POST", TASKS, body, {"Content-Type": content_type, **auth})
        response = connection.getresponse()
        response.read()
        return response.status

    services = bootstrap.override_services(harness.service, harness.workspaces)
    with services, serving(server, poll_interval=0.05):
        try:
            yield send
        finally:
            connection.close()


def join(harness: ServiceHarness, member: str) -> None:
    """Make ``member`` a member of the harness's workspace, through a workspace service on
    the same store but not the wrapped units of work: no commit a test counts."""
    store = InMemoryUnitOfWorkFactory(harness.store)
    service = WorkspaceService(
        store, harness.clock, SequentialIds(), PageTokenCodec(PAGE_TOKEN_SECRET)
    )
    service.put_member(OWNER, WORKSPACE_ID, member, Role.MEMBER)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "taskapi-serve"]


def test_text_logs_are_an_access_line_per_request_and_one_short_line_per_warning(
    pool_dir: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    text, json_lines = io.StringIO(), io.StringIO()
    with (
        caplog.at_level(logging.INFO, logger="taskapi-serve"),
        local_logging("text", text_stream=text, json_stream=json_lines),
        served_api(pool_dir, failing_commit=2) as send,
    ):
        statuses = [send("saved"), send("refused: the store is throttled")]

    assert statuses == [201, 503]
    assert [line.split('"')[1] for line in access_lines(caplog)] == [f"POST {TASKS}"] * 2
    # The write's own log line and the EMF metrics of the created task: not on the console.
    [warning] = text.getvalue().splitlines()
    assert " WARNING store unavailable " in warning
    assert warning.endswith("(StoreUnavailable: throttled)")
    # The route, status and error code the risk map groups by (docs/operations.md), then the
    # exception: still one short line.
    assert "route='POST /workspaces/{workspace_id}/tasks' status=503 " in warning
    assert "error=service_unavailable" in warning
    assert len(warning) < 160
    assert json_lines.getvalue() == ""
    assert '"_aws"' not in capsys.readouterr().out


def test_powertools_log_level_lowers_the_threshold_of_the_text_lines(
    pool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet, verbose = io.StringIO(), io.StringIO()
    with local_logging("text", text_stream=quiet), served_api(pool_dir) as send:
        assert send("refused", content_type="text/plain") == 415
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    with local_logging("text", text_stream=verbose), served_api(pool_dir) as send:
        assert send("refused", content_type="text/plain") == 415

    assert quiet.getvalue() == ""  # an INFO record, under the default threshold
    [refused] = verbose.getvalue().splitlines()
    assert " INFO request refused error=unsupported_media_type" in refused
    assert not refused.lstrip().startswith("{")


def test_json_logs_are_powertools_lines_with_the_invocation_keys(pool_dir: Path) -> None:
    text, json_lines = io.StringIO(), io.StringIO()
    with (
        local_logging("json", text_stream=text, json_stream=json_lines),
        served_api(pool_dir) as send,
    ):
        assert send("as in Lambda", content_type="text/plain") == 415

    [refused] = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert (refused["message"], refused["level"]) == ("request refused", "INFO")
    assert refused["error"] == "unsupported_media_type"
    assert refused["correlation_id"] == refused["function_request_id"]
    assert text.getvalue() == ""


def test_metric_lines_are_printed_when_the_environment_asks_for_them(
    pool_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    with local_logging("text", text_stream=io.StringIO()), served_api(pool_dir) as send:
        assert send("counted") == 201

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [line["TaskCreated"] for line in emf if "TaskCreated" in line] == [[1.0]]
    # and the request's latency on its own line (entrypoints/http/route_metrics.py)
    [latency] = [line for line in emf if "RouteLatency" in line]
    assert latency["route"].startswith("POST /workspaces/{workspace_id}/tasks")


def test_everything_is_put_back_afterwards() -> None:
    powertools = function_logger.registered_handler
    handlers = list(logging.getLogger(function_logger.name).handlers)
    level = powertools.level

    with local_logging("text", text_stream=io.StringIO()):
        assert powertools.level > logging.CRITICAL
        assert len(logging.getLogger(function_logger.name).handlers) == len(handlers) + 1
        assert os.environ["POWERTOOLS_METRICS_DISABLED"] == "true"

    assert powertools.level == level
    assert logging.getLogger(function_logger.name).handlers == handlers
    assert "POWERTOOLS_METRICS_DISABLED" not in os.environ


def test_the_format_is_text_unless_asked_or_powertools_dev_mode_is_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_format(None) == "text"
    assert resolve_format("json") == "json"
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    assert resolve_format(None) == "json"
    assert resolve_format("text") == "text"


def test_serve_and_invoke_take_a_log_format() -> None:
    parser = build_parser()

    assert parser.parse_args(["serve", "--log-format", "json"]).log_format == "json"
    assert parser.parse_args(["invoke", "e.json", "--log-format", "text"]).log_format == "text"
    assert parser.parse_args(["serve"]).log_format is None
