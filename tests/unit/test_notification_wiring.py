"""How bootstrap wires the notification service: the outbox dispatcher delivers events to it
locally (mailbox file), and the AWS mode picks SES and builds no mailbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.adapters.memory import InMemoryUnitOfWorkFactory
from taskapi.config import Settings
from taskapi.service.commands import CreateTask, UpdateTask
from tests.fakes.subscribers import RecordingSubscriber
from tests.fakes.workspaces import create_workspace


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_local_events_reach_the_mailbox_through_the_dispatcher(store: str, tmp_path: Path) -> None:
    runtime = bootstrap.build_runtime(Settings(store=store, data_dir=tmp_path))  # type: ignore[arg-type]
    assert runtime.dispatcher is not None
    access = create_workspace(runtime, "Team")
    design = runtime.service.create(access, CreateTask(title="Design"))
    runtime.service.create(
        access,
        CreateTask(title="Build", dependencies=(design.task_id,), assignee="ben@example.com"),
    )
    runtime.service.update(access, design.task_id, UpdateTask(status="completed"), design.version)

    report = runtime.dispatcher.dispatch_pending()

    assert (report.delivered, report.failed) == (3, 0)
    entries = [
        json.loads(line)
        for line in (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [(e["kind"], e["recipient"]) for e in entries] == [
        ("task_assigned", "ben@example.com"),
        ("task_unblocked", "ben@example.com"),
    ]
    assert {e["workspace_id"] for e in entries} == {str(access.workspace_id)}
    assert all(e["subject"].startswith("[Team] ") for e in entries)


def test_a_redelivery_after_a_restart_is_not_notified_twice(tmp_path: Path) -> None:
    # The server delivered the event, then died before marking it sent: the restarted server
    # offers it again, and the idempotency records (in SQLite) recognise it.
    settings = Settings(store="sqlite", data_dir=tmp_path)
    first_run = bootstrap.build_runtime(settings)
    recorder = RecordingSubscriber()
    assert first_run.dispatcher is not None
    first_run.dispatcher.subscribe(recorder)
    access = create_workspace(first_run)
    first_run.service.create(access, CreateTask(title="Review", assignee="ana@example.com"))
    first_run.dispatcher.dispatch_pending()
    [event] = recorder.delivered

    restarted = bootstrap.build_runtime(settings)
    assert restarted.notifications is not None
    outcome = restarted.notifications.consumer(event)

    assert outcome.duplicate is True
    assert len((tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()) == 1


@pytest.mark.usefixtures("fake_aws_credentials")
def test_the_aws_mode_builds_without_calling_aws_and_keeps_no_mailbox(tmp_path: Path) -> None:
    settings = Settings(store="dynamodb", data_dir=tmp_path, aws_endpoint_url="http://127.0.0.1:9")

    notifications = bootstrap.build_notifications(settings, uow_factory=InMemoryUnitOfWorkFactory())

    assert notifications.mailbox is None
    assert not (tmp_path / "mailbox.jsonl").exists()
