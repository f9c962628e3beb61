"""The composition root: per-function object graphs, and test overrides that undo themselves.

(Local wiring of the dispatcher to the notification service: test_notification_wiring.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.config import Settings


def aws_settings() -> Settings:
    # Clients are created lazily, so building the graph needs no endpoint and sends nothing.
    return Settings(store="dynamodb", aws_endpoint_url="http://127.0.0.1:1")


@pytest.mark.usefixtures("fake_aws_credentials")
def test_in_aws_the_api_runtime_has_no_dispatcher_and_no_notification_service() -> None:
    runtime = bootstrap.build_runtime(aws_settings())

    # The table's stream relay publishes the outbox; notifications run in their own functions.
    assert runtime.dispatcher is None
    assert runtime.notifications is None


def test_an_override_is_undone_when_it_ends(tmp_path: Path) -> None:
    outer = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))
    inner = bootstrap.build_runtime(Settings(store="memory", data_dir=tmp_path))

    with bootstrap.override_runtime(outer):
        with bootstrap.override_runtime(inner):
            assert bootstrap.get_runtime() is inner
        assert bootstrap.get_runtime() is outer
        assert bootstrap.get_task_service() is outer.service
