"""The two notifiers: SES (a third-party send, so an autospec'd client) and the mailbox file."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from unittest.mock import create_autospec

import boto3

from taskapi.adapters.aws.ses import SesNotifier
from taskapi.adapters.mailbox import MailboxNotifier
from taskapi.domain.notifications import Notification, assignment_notifications
from tests.fakes.builders import created_event, make_task, received
from tests.fakes.clock import DEFAULT_NOW, FixedClock
from tests.moto_server import FAKE_CREDENTIALS


def a_notification(recipient: str = "ana@example.com", title: str = "Ship it") -> Notification:
    [notification] = assignment_notifications(
        received(created_event(make_task(title=title, assignee=recipient)))
    )
    return notification


# -- SES --------------------------------------------------------------------------------


def test_ses_notifier_sends_one_simple_text_email_from_the_sender() -> None:
    real_client = boto3.Session(region_name="us-east-1", **FAKE_CREDENTIALS).client("sesv2")
    client = create_autospec(real_client, instance=True)
    client.send_email.return_value = {"MessageId": "m-1"}
    notification = a_notification()

    SesNotifier(lambda: client, sender="taskapi@example.com").send(notification)

    client.send_email.assert_called_once_with(
        FromEmailAddress="taskapi@example.com",
        Destination={"ToAddresses": ["ana@example.com"]},
        Content={
            "Simple": {
                "Subject": {"Data": notification.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": notification.body, "Charset": "UTF-8"}},
            }
        },
        EmailTags=[
            {"Name": "kind", "Value": "task_assigned"},
            {"Name": "notification_id", "Value": str(notification.notification_id)},
            {"Name": "workspace_id", "Value": str(notification.workspace_id)},
        ],
    )


# -- mailbox ----------------------------------------------------------------------------


def test_the_mailbox_appends_one_json_line_per_notification(tmp_path: Path) -> None:
    path = tmp_path / "data" / "mailbox.jsonl"
    mailbox = MailboxNotifier(path, clock=FixedClock())
    first, second = a_notification(title="One"), a_notification(title="Two")

    mailbox.send(first)
    mailbox.send(second)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["subject"] for line in lines] == [first.subject, second.subject]
    assert json.loads(lines[0])["sent_at"] == "2025-01-15T09:30:00Z"


def test_recent_returns_the_latest_entries_oldest_first(tmp_path: Path) -> None:
    mailbox = MailboxNotifier(tmp_path / "mailbox.jsonl", clock=FixedClock())
    sent = [a_notification(title=f"Task {i}") for i in range(5)]
    for notification in sent:
        mailbox.send(notification)

    recent = mailbox.recent(limit=2)

    assert [e.notification_id for e in recent] == [n.notification_id for n in sent[-2:]]
    assert recent[0].sent_at == DEFAULT_NOW


def test_recent_on_a_missing_mailbox_is_empty(tmp_path: Path) -> None:
    assert MailboxNotifier(tmp_path / "none.jsonl", clock=FixedClock()).recent(10) == []


def test_recent_skips_a_line_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.jsonl"
    mailbox = MailboxNotifier(path, clock=FixedClock())
    mailbox.send(a_notification(title="Before"))
    with path.open("a", encoding="utf-8") as file:
        file.write('{"truncated": \n')
    mailbox.send(a_notification(title="After"))

    assert [e.subject for e in mailbox.recent(10)] == [
        "Assigned to you: Before",
        "Assigned to you: After",
    ]


def test_concurrent_sends_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.jsonl"
    mailbox = MailboxNotifier(path, clock=FixedClock())
    long_title = "x" * 190  # long lines make interleaving likely if writes were split
    start = threading.Barrier(8)

    def send_many() -> None:
        start.wait()
        for _ in range(25):
            mailbox.send(a_notification(title=long_title))

    threads = [threading.Thread(target=send_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(mailbox.recent(1000)) == 200
