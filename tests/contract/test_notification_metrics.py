"""The notification function's outcome metrics (EMF, the service's namespace): what the
dashboard's "notification outcomes" widget reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from taskapi.entrypoints import notifications as notifications_lambda
from taskapi.entrypoints.observability import SERVICE_NAME, metrics
from tests.contract.test_notifications_eventbridge import PREVIOUS_MAJOR, Wired, load, wired

__all__ = ["wired"]  # the fixture, shared with the handler's contract tests


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def emitted(output: str) -> dict[str, float]:
    """Metric name -> value of every EMF line of the service's namespace in ``output``."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == metrics.namespace
            assert directive["Dimensions"] == [["service"]]
            assert blob["service"] == SERVICE_NAME
            for metric in directive["Metrics"]:
                value: Any = blob[metric["Name"]]
                values[metric["Name"]] = value[0] if isinstance(value, list) else value
    return values


def test_a_handled_event_counts_as_handled_with_the_notifications_sent(
    wired: Wired, capsys: pytest.CaptureFixture[str]
) -> None:
    wired.invoke(load("task_created"))

    assert emitted(capsys.readouterr().out) == {
        "NotificationEventsHandled": 1,
        "NotificationsSent": 1,
    }


def test_a_redelivery_counts_as_a_duplicate(
    wired: Wired, capsys: pytest.CaptureFixture[str]
) -> None:
    wired.invoke(load("task_created"))
    capsys.readouterr()

    wired.invoke(load("task_created"))

    assert emitted(capsys.readouterr().out) == {"NotificationEventsDuplicate": 1}


def test_an_event_nobody_is_notified_of_counts_as_handled_only(
    wired: Wired, capsys: pytest.CaptureFixture[str]
) -> None:
    wired.invoke(load("task_deleted"))

    assert emitted(capsys.readouterr().out) == {"NotificationEventsHandled": 1}


@pytest.mark.usefixtures("wired")
def test_an_unknown_detail_type_and_a_v1_event_count_as_ignored(
    capsys: pytest.CaptureFixture[str], wired: Wired
) -> None:
    unknown = {**load("task_created"), "detail-type": "SomethingElse"}
    v1 = load(next(iter(sorted(p.stem for p in PREVIOUS_MAJOR.glob("*.json")))), PREVIOUS_MAJOR)

    wired.invoke(unknown)
    first = emitted(capsys.readouterr().out)
    wired.invoke(v1)
    second = emitted(capsys.readouterr().out)

    assert first == second == {"NotificationEventsIgnored": 1}


def test_every_outcome_has_a_metric() -> None:
    assert set(notifications_lambda.EVENT_OUTCOME_METRICS) == {"handled", "duplicate", "ignored"}
