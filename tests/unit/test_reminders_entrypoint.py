"""The scheduled reminder Lambda: a summary when every reminder went out, an error (so that
Scheduler retries and, in the end, dead-letters) when some did not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import pytest

from taskapi import bootstrap
from taskapi.entrypoints import reminders
from taskapi.service.commands import Access, CreateTask
from tests.fakes.builders import make_workspace
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.notifications import RecordingNotifier, notification_runtime
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.workspaces import add_workspace

SCHEDULER_EVENT: dict[str, object] = {}  # EventBridge Scheduler sends no input by default


@dataclass
class Wired:
    tasks: ServiceHarness
    notifier: RecordingNotifier
    access: Access

    def due_soon(self, title: str, assignee: str, access: Access | None = None) -> None:
        due = self.tasks.clock.now + timedelta(hours=1)
        command = CreateTask(title=title, due_at=due, assignee=assignee)
        self.tasks.service.create(access or self.access, command)


@pytest.fixture
def wired() -> Iterator[Wired]:
    tasks = build_service()
    access = add_workspace(tasks.uow_factory)
    notifier = RecordingNotifier()
    runtime = notification_runtime(tasks, notifier)
    with bootstrap.override_runtime(runtime):
        yield Wired(tasks, notifier, access)


def test_a_run_reminds_and_reports(wired: Wired) -> None:
    wired.due_soon("Renew the domain", "ana@example.com")

    first = reminders.lambda_handler(SCHEDULER_EVENT, FakeLambdaContext())  # type: ignore[arg-type]
    second = reminders.lambda_handler(SCHEDULER_EVENT, FakeLambdaContext())  # type: ignore[arg-type]

    assert first == {"due_soon": 1, "sent": 1, "already_reminded": 0, "failed": 0}
    assert second == {"due_soon": 1, "sent": 0, "already_reminded": 1, "failed": 0}
    assert [n.recipient for n in wired.notifier.sent] == ["ana@example.com"]


def test_a_run_with_failed_reminders_raises_after_sending_the_others(wired: Wired) -> None:
    wired.due_soon("Renew the domain", "ana@example.com")
    wired.due_soon("Pay the invoice", "ben@example.com")
    wired.notifier.fails_for = lambda n: n.recipient == "ben@example.com"

    with pytest.raises(reminders.RemindersFailed, match="1 reminder"):
        reminders.lambda_handler(SCHEDULER_EVENT, FakeLambdaContext())  # type: ignore[arg-type]

    assert [n.recipient for n in wired.notifier.sent] == ["ana@example.com"]


def test_a_run_reminds_in_every_workspace(wired: Wired) -> None:
    other = add_workspace(
        wired.tasks.uow_factory, make_workspace(workspace_id=UUID(int=0xB), name="Other")
    )
    wired.due_soon("Renew the domain", "ana@example.com")
    wired.due_soon("Pay the invoice", "ben@example.com", access=other)

    summary = reminders.lambda_handler(SCHEDULER_EVENT, FakeLambdaContext())  # type: ignore[arg-type]

    assert summary == {"due_soon": 2, "sent": 2, "already_reminded": 0, "failed": 0}
    assert sorted((n.workspace_id, n.recipient) for n in wired.notifier.sent) == sorted(
        [(wired.access.workspace_id, "ana@example.com"), (other.workspace_id, "ben@example.com")]
    )
