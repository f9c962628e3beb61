"""The notification Lambda against EventBridge events shaped exactly as EventBridge delivers
them (``fixtures/eventbridge/*.json``: version, id, detail-type, source, account, time, region,
resources, detail).

The fixtures are frozen copies of schema-version-2 events. They double as a backward
compatibility check: whatever the models become, the consumer must still accept the events
already on the bus, in dead-letter queues and in archives. ``fixtures/previous_major/`` holds
the same events as version 1 (before workspaces) published them: the consumer still reads
them, and ignores them with a log line (docs/events.md#version-2-workspaces).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from taskapi import bootstrap
from taskapi.domain.event_readers import read_event
from taskapi.domain.events import parse_event
from taskapi.domain.notifications import NotificationKind
from taskapi.entrypoints import notifications as notifications_lambda
from taskapi.entrypoints.notifications import MalformedEvent, parse_detail
from tests.fakes.builders import make_workspace
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.logs import logged_lines
from tests.fakes.notifications import RecordingNotifier, notification_runtime
from tests.fakes.service import build_service
from tests.fakes.workspaces import add_workspace

FIXTURES = Path(__file__).parent / "fixtures" / "eventbridge"
PREVIOUS_MAJOR = Path(__file__).parent / "fixtures" / "previous_major"
TASK_EVENT_FIXTURES = [
    "task_created",
    "task_updated_completed",
    "task_updated_reassigned",
    "task_deleted",
]
ENVELOPE_KEYS = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}


def load(name: str, directory: Path = FIXTURES) -> dict[str, Any]:
    text = (directory / f"{name}.json").read_text(encoding="utf-8")
    envelope: dict[str, Any] = json.loads(text)
    return envelope


@dataclass
class Wired:
    notifier: RecordingNotifier
    context: FakeLambdaContext

    def invoke(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return notifications_lambda.lambda_handler(envelope, self.context)  # type: ignore[arg-type]

    def sent(self) -> list[tuple[NotificationKind, str, UUID]]:
        return [(n.kind, n.recipient, n.task_id) for n in self.notifier.sent]


@pytest.fixture
def wired() -> Iterator[Wired]:
    """The real handler, consumer and service over an in-memory store that holds the tasks
    the fixtures talk about; only the notifier is a fake."""
    tasks = build_service()
    design = parse_event(load("task_updated_completed")["detail"]).task
    build = parse_event(load("task_updated_reassigned")["detail"]).task
    build_before_reassignment = build.model_copy(
        update={"assignee": "ben@example.com", "version": build.version - 1}
    )
    add_workspace(tasks.uow_factory, make_workspace(workspace_id=design.workspace_id))
    with tasks.uow_factory(design.workspace_id) as uow:
        uow.tasks.add(design)
        uow.tasks.add(build_before_reassignment)
        uow.commit()

    notifier = RecordingNotifier()
    runtime = notification_runtime(tasks, notifier)
    with bootstrap.override_runtime(runtime):
        yield Wired(notifier=notifier, context=FakeLambdaContext())


# -- the fixtures are what EventBridge delivers -----------------------------------------


@pytest.mark.parametrize("name", [*TASK_EVENT_FIXTURES, "unknown_task_archived"])
def test_fixtures_have_exactly_the_eventbridge_envelope(name: str) -> None:
    envelope = load(name)

    assert set(envelope) == ENVELOPE_KEYS
    assert envelope["version"] == "0"
    assert envelope["source"] == "taskapi.tasks"


@pytest.mark.parametrize("name", TASK_EVENT_FIXTURES)
def test_every_published_v2_event_still_parses(name: str) -> None:
    envelope = load(name)

    event = parse_event(envelope["detail"])

    assert event.event_type == envelope["detail-type"]
    assert event.schema_version == 2
    assert event.workspace_id == event.task.workspace_id


@pytest.mark.parametrize("name", TASK_EVENT_FIXTURES)
def test_every_published_v1_event_is_still_read_without_a_workspace(name: str) -> None:
    envelope = load(name, PREVIOUS_MAJOR)

    event = read_event(envelope["detail"])

    assert event.event_type == envelope["detail-type"]
    assert (event.schema_version, event.workspace_id, event.task.workspace_id) == (1, None, None)
    assert event.before_workspaces
    assert set(envelope) == ENVELOPE_KEYS


# -- handling ---------------------------------------------------------------------------


def test_task_created_notifies_the_assignee(wired: Wired) -> None:
    envelope = load("task_created")

    result = wired.invoke(envelope)

    assert result["status"] == "handled"
    assert result["event_id"] == envelope["detail"]["event_id"]
    task_id = UUID(envelope["detail"]["task"]["task_id"])
    assert wired.sent() == [(NotificationKind.TASK_ASSIGNED, "ana@example.com", task_id)]
    assert result["notification_ids"] == [str(wired.notifier.sent[0].notification_id)]


def test_task_completed_notifies_the_unblocked_dependents_assignee(wired: Wired) -> None:
    build = parse_event(load("task_updated_reassigned")["detail"]).task

    wired.invoke(load("task_updated_completed"))

    assert wired.sent() == [(NotificationKind.TASK_UNBLOCKED, "ben@example.com", build.task_id)]


def test_task_reassigned_notifies_the_new_assignee(wired: Wired) -> None:
    envelope = load("task_updated_reassigned")

    wired.invoke(envelope)

    task_id = UUID(envelope["detail"]["task"]["task_id"])
    assert wired.sent() == [(NotificationKind.TASK_ASSIGNED, "cat@example.com", task_id)]


def test_task_deleted_is_handled_and_notifies_nobody(wired: Wired) -> None:
    result = wired.invoke(load("task_deleted"))

    assert result["status"] == "handled"
    assert wired.sent() == []


@pytest.mark.parametrize("name", TASK_EVENT_FIXTURES)
def test_a_v1_event_is_ignored_with_a_log_line_and_notifies_nobody(wired: Wired, name: str) -> None:
    envelope = load(name, PREVIOUS_MAJOR)

    with logged_lines() as lines:
        result = wired.invoke(envelope)

    assert result == {
        "status": "ignored",
        "event_id": envelope["detail"]["event_id"],
        "reason": "schema_version 1: from before workspaces",
    }
    assert wired.sent() == []
    [line] = [line for line in lines if "predates workspaces" in line["message"]]
    assert line["level"] == "WARNING"
    assert line["event_id"] == envelope["detail"]["event_id"]
    assert line["task_id"] == envelope["detail"]["task"]["task_id"]


def test_the_same_event_as_v2_notifies_after_its_v1_copy_was_ignored(wired: Wired) -> None:
    wired.invoke(load("task_created", PREVIOUS_MAJOR))

    result = wired.invoke(load("task_created"))

    assert result["status"] == "handled"
    assert [kind for kind, _, _ in wired.sent()] == [NotificationKind.TASK_ASSIGNED]


def test_a_notification_names_the_events_workspace(wired: Wired) -> None:
    envelope = load("task_created")

    wired.invoke(envelope)

    [notification] = wired.notifier.sent
    assert str(notification.workspace_id) == envelope["detail"]["workspace_id"]
    assert notification.subject.startswith("[Team] ")
    assert f'Workspace: "Team" ({envelope["detail"]["workspace_id"]})' in notification.body


# -- at-least-once delivery -------------------------------------------------------------


def test_a_redelivered_event_sends_nothing_twice(wired: Wired) -> None:
    envelope = load("task_created")

    first = wired.invoke(envelope)
    second = wired.invoke(copy.deepcopy(envelope))

    assert (first["status"], second["status"]) == ("handled", "duplicate")
    assert len(wired.notifier.sent) == 1
    assert second["notification_ids"] == first["notification_ids"]


def test_a_republished_event_is_recognised_by_event_id_not_envelope_id(wired: Wired) -> None:
    # The relay may publish one outbox record twice: EventBridge gives each copy its own id.
    envelope = load("task_created")
    republished = {**copy.deepcopy(envelope), "id": "2c9e1f0a-7b3d-4e5f-8a6b-9c0d1e2f3a4b"}

    wired.invoke(envelope)
    result = wired.invoke(republished)

    assert result["status"] == "duplicate"
    assert len(wired.notifier.sent) == 1


# -- a later minor version: the consumer is a tolerant reader ---------------------------

LATER_MINOR = Path(__file__).parent / "fixtures" / "later_minor"


@pytest.mark.parametrize(
    ("name", "kind", "recipient"),
    [
        ("task_created_urgent", NotificationKind.TASK_ASSIGNED, "dan@example.com"),
        ("task_updated_completed", NotificationKind.TASK_UNBLOCKED, "ben@example.com"),
        ("task_updated_blocked", NotificationKind.TASK_ASSIGNED, "cat@example.com"),
    ],
)
def test_an_event_of_a_later_minor_version_is_handled(
    wired: Wired, name: str, kind: NotificationKind, recipient: str
) -> None:
    # Fields added later are ignored and a status or priority added later is kept as it
    # came; see test_tolerant_readers.py for why these fixtures are compatible.
    envelope = json.loads((LATER_MINOR / f"{name}.json").read_text(encoding="utf-8"))

    result = wired.invoke(envelope)

    assert result["status"] == "handled"
    [(sent_kind, sent_to, _)] = wired.sent()
    assert (sent_kind, sent_to) == (kind, recipient)


def test_a_status_added_later_appears_in_the_notification_as_it_came(wired: Wired) -> None:
    wired.invoke(json.loads((LATER_MINOR / "task_updated_blocked.json").read_text("utf-8")))

    [notification] = wired.notifier.sent
    assert "status blocked" in notification.body


# -- what is not a task event -----------------------------------------------------------


def test_an_unknown_detail_type_is_ignored_with_a_log_line(wired: Wired) -> None:
    wired.invoke(load("task_created"))  # an earlier invocation's keys must not leak

    with logged_lines() as lines:
        result = wired.invoke(load("unknown_task_archived"))

    assert result == {"status": "ignored", "detail_type": "TaskArchived"}
    assert len(wired.sent()) == 1
    # The line as it reaches CloudWatch: Powertools' JSON, with the keys of this invocation.
    [line] = [line for line in lines if "does not consume" in line["message"]]
    assert line["detail_type"] == "TaskArchived"
    assert "event_id" not in line


@pytest.mark.parametrize(
    ("breakage", "mutate"),
    [
        ("snapshot missing", lambda d: d.pop("task")),
        ("event id not a uuid", lambda d: d.update(event_id="not-a-uuid")),
        ("status not a string", lambda d: d["task"].update(status=3)),
        ("version below 1", lambda d: d["task"].update(version=0)),
        ("detail-type disagrees", lambda d: d.update(event_type="TaskDeleted")),
        ("a newer major version", lambda d: d.update(schema_version=3)),
        ("an older major version", lambda d: d.update(schema_version=0)),
        ("workspace missing", lambda d: d.pop("workspace_id")),
        ("workspace not the task's", lambda d: d.update(workspace_id=str(UUID(int=7)))),
        ("task's workspace missing", lambda d: d["task"].pop("workspace_id")),
    ],
)
def test_a_malformed_detail_raises_so_it_is_retried_and_dead_lettered(
    wired: Wired, breakage: str, mutate: Any
) -> None:
    envelope = load("task_created")
    mutate(envelope["detail"])

    with pytest.raises(MalformedEvent):
        wired.invoke(envelope)

    assert wired.sent() == []


@pytest.mark.parametrize("detail", [[1, 2], "TaskCreated", None])
def test_a_detail_that_is_not_an_object_is_malformed(detail: object) -> None:
    # EventBridgeModel already refuses such an envelope; parse_detail holds on its own.
    with pytest.raises(MalformedEvent, match="not an object"):
        parse_detail("TaskCreated", detail)


def test_a_detail_without_its_event_type_takes_the_detail_type(wired: Wired) -> None:
    envelope = load("task_created")
    del envelope["detail"]["event_type"]

    result = wired.invoke(envelope)

    assert result["status"] == "handled"
    assert len(wired.sent()) == 1


def test_a_malformed_delivery_does_not_poison_the_event_id(wired: Wired) -> None:
    broken = load("task_created")
    broken["detail"]["task"]["status"] = 3
    with pytest.raises(MalformedEvent):
        wired.invoke(broken)

    result = wired.invoke(load("task_created"))

    assert result["status"] == "handled"
    assert len(wired.sent()) == 1


def test_something_that_is_not_an_eventbridge_event_raises(wired: Wired) -> None:
    envelope = load("task_created")
    del envelope["detail-type"]

    with pytest.raises(ValidationError):
        wired.invoke(envelope)


def test_a_failed_send_raises_and_the_retry_sends(wired: Wired) -> None:
    wired.notifier.fails_for = lambda _: True
    envelope = load("task_created")
    with pytest.raises(RuntimeError):
        wired.invoke(envelope)

    wired.notifier.fails_for = lambda _: False
    result = wired.invoke(envelope)

    assert result["status"] == "handled"
    assert len(wired.notifier.attempts) == 2
    assert len(wired.notifier.sent) == 1


def test_a_v1_event_is_handled_when_the_pre_workspace_tasks_have_a_workspace() -> None:
    # The v1 fixtures' tasks, migrated into one workspace, which the setting names.
    migrated = UUID("00000000-0000-4000-8000-000000000000")
    tasks = build_service()
    add_workspace(tasks.uow_factory, make_workspace(workspace_id=migrated, name="Default"))
    notifier = RecordingNotifier()
    runtime = notification_runtime(tasks, notifier, pre_workspace_events=migrated)
    envelope = load("task_created", PREVIOUS_MAJOR)

    with bootstrap.override_runtime(runtime):
        result = notifications_lambda.lambda_handler(envelope, FakeLambdaContext())  # type: ignore[arg-type]

    assert result["status"] == "handled"
    [notification] = notifier.sent
    assert (notification.workspace_id, notification.recipient) == (migrated, "ana@example.com")
    assert notification.subject.startswith("[Default] ")


# -- correlation --------------------------------------------------------------------------


def test_every_line_of_the_invocation_and_the_notification_carry_the_events_correlation_id(
    wired: Wired,
) -> None:
    envelope = load("task_created")
    correlation_id = envelope["detail"]["correlation_id"]

    with logged_lines() as lines:
        wired.invoke(envelope)

    assert lines, "the handler logs at least its outcome"
    assert {line.get("correlation_id") for line in lines} == {correlation_id}
    assert [n.correlation_id for n in wired.notifier.sent] == [correlation_id]


def test_an_event_without_a_correlation_id_is_handled_and_logged_without_one(
    wired: Wired,
) -> None:
    envelope = load("task_created")
    del envelope["detail"]["correlation_id"]  # committed before the field was added

    with logged_lines() as lines:
        result = wired.invoke(envelope)

    assert result["status"] == "handled"
    assert all("correlation_id" not in line for line in lines)
    assert [n.correlation_id for n in wired.notifier.sent] == [None]


def test_a_malformed_detail_is_still_logged_with_its_correlation_id(wired: Wired) -> None:
    envelope = load("task_created")
    del envelope["detail"]["task"]["title"]

    with logged_lines() as lines, pytest.raises(MalformedEvent):
        wired.invoke(envelope)

    [line] = [line for line in lines if line["message"].startswith("malformed task event")]
    assert line["correlation_id"] == envelope["detail"]["correlation_id"]
