"""``taskapi events export``, ``events dispatch``, ``events dead-letters``, ``events redrive``,
``taskapi mailbox`` and ``taskapi remind``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taskapi import bootstrap
from taskapi.adapters.mailbox import MailboxNotifier
from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.config import Settings
from taskapi.domain.notifications import assignment_notifications
from taskapi.local.cli import main
from taskapi.service.commands import CreateTask
from tests.fakes.builders import created_event, make_task, received
from tests.fakes.clock import FixedClock
from tests.fakes.workspaces import create_workspace

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schemas" / "events"


def test_export_writes_the_committed_files_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schemas"

    assert main(["events", "export", "--out", str(out)]) == 0

    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in COMMITTED.glob("*.json"))
    for name in written:
        assert (out / name).read_bytes() == (COMMITTED / name).read_bytes()
    assert capsys.readouterr().out.count("written") == len(written)


def test_a_second_export_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["events", "export", "--out", str(tmp_path)])
    capsys.readouterr()

    main(["events", "export", "--out", str(tmp_path)])

    assert "written" not in capsys.readouterr().out


def test_export_names_a_file_of_no_current_event_type_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "TaskArchived.json"
    stale.write_text("<<<<<<< not even JSON", encoding="utf-8")

    assert main(["events", "export", "--out", str(tmp_path)]) == 0

    assert "TaskArchived.json: no such event type any more" in capsys.readouterr().err
    assert stale.read_text(encoding="utf-8") == "<<<<<<< not even JSON"


def test_check_passes_on_fresh_files_and_explains_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["events", "export", "--out", str(tmp_path)])
    assert main(["events", "export", "--out", str(tmp_path), "--check"]) == 0

    stale = tmp_path / "TaskCreated.json"
    schema = json.loads(stale.read_text(encoding="utf-8"))
    schema["$defs"]["Task"]["properties"]["owner"] = {"type": "string"}  # committed, gone now
    stale.write_text(json.dumps(schema), encoding="utf-8")
    capsys.readouterr()

    assert main(["events", "export", "--out", str(tmp_path), "--check"]) == 1
    output = capsys.readouterr().out
    assert "TaskCreated: breaking change without a version bump" in output
    assert "field removed at task.owner" in output
    assert json.loads(stale.read_text(encoding="utf-8")) == schema  # --check wrote nothing


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TASKAPI_DATA_DIR": str(data_dir),
        "TASKAPI_STORE": "sqlite",
        "TASKAPI_DB_PATH": str(data_dir / "taskapi.db"),
    }
    return subprocess.run(  # a fresh process: configuration is read once per process
        [sys.executable, "-m", "taskapi.local.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_in_local_store(data_dir: Path, command: CreateTask) -> None:
    """Create a task in the SQLite store of ``data_dir``, as an earlier server run would have
    (its event stays in the outbox: nothing dispatches it here)."""
    runtime = bootstrap.build_runtime(Settings(store="sqlite", data_dir=data_dir))
    runtime.service.create(create_workspace(runtime), command)


def test_mailbox_shows_the_latest_notifications(tmp_path: Path) -> None:
    mailbox = MailboxNotifier(tmp_path / "mailbox.jsonl", clock=FixedClock())
    for title in ("Old one", "Plan the offsite", "Book the venue"):
        [notification] = assignment_notifications(
            received(created_event(make_task(title=title, assignee="ana@example.com")))
        )
        mailbox.send(notification)

    result = run_cli("mailbox", "--limit", "2", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Plan the offsite" in result.stdout
    assert "Book the venue" in result.stdout
    assert "Old one" not in result.stdout
    assert "ana@example.com" in result.stdout


def test_mailbox_says_when_it_is_empty(tmp_path: Path) -> None:
    result = run_cli("mailbox", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no notifications" in result.stdout


def test_remind_runs_the_reminder_job_on_the_local_store(tmp_path: Path) -> None:
    due = datetime.now(UTC) + timedelta(hours=2)
    create_in_local_store(
        tmp_path, CreateTask(title="Renew the domain", due_at=due, assignee="ana@example.com")
    )

    first = run_cli("remind", data_dir=tmp_path)
    second = run_cli("remind", data_dir=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "1 reminded" in first.stdout
    assert "0 reminded, 1 already reminded" in second.stdout
    lines = (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["task_due_soon"]


def test_dispatch_delivers_the_pending_events_of_the_local_store(tmp_path: Path) -> None:
    create_in_local_store(tmp_path, CreateTask(title="Ship", assignee="ana@example.com"))

    first = run_cli("events", "dispatch", data_dir=tmp_path)
    second = run_cli("events", "dispatch", data_dir=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "delivered 1 event(s)" in first.stdout
    assert "delivered 0 event(s)" in second.stdout
    lines = (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["task_assigned"]


# -- dead letters and redrive ------------------------------------------------------------


def test_dispatch_sets_an_unreadable_event_aside_and_delivers_the_rest(tmp_path: Path) -> None:
    create_in_local_store(tmp_path, CreateTask(title="Ship", assignee="ana@example.com"))
    broken = uuid.uuid4()
    database = SqliteDatabase(tmp_path / "taskapi.db")
    connection = database.open_connection()
    with closing(connection):
        connection.execute(
            "INSERT INTO outbox (event_id, event_type, payload, created_at)"
            " VALUES (?, 'TaskCreated', '{\"truncated', '2025-03-01T08:00:00+00:00')",
            (str(broken),),
        )

    dispatched = run_cli("events", "dispatch", data_dir=tmp_path)
    listed = run_cli("events", "dead-letters", data_dir=tmp_path)

    assert dispatched.returncode == 1  # something needs a look
    assert "delivered 1 event(s)" in dispatched.stdout
    assert "1 set aside as dead letter(s)" in dispatched.stdout
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if str(broken) in line]
    assert "TaskCreated" in line
    assert "unreadable" in line
    lines = (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["task_assigned"]


def test_redrive_with_a_dry_run_changes_nothing_and_then_redelivers(tmp_path: Path) -> None:
    create_in_local_store(tmp_path, CreateTask(title="Ship", assignee="ana@example.com"))
    database = SqliteDatabase(tmp_path / "taskapi.db")
    (record,) = database.pending(10)
    event_id = record.event.event_id
    database.dead_letter(event_id, "NotifierDown: the mail server refused it")  # gave up

    dry_run = run_cli("events", "redrive", "--all", "--dry-run", data_dir=tmp_path)
    assert dry_run.returncode == 0, dry_run.stderr
    assert f"would redrive {event_id}" in dry_run.stdout
    assert [d.event_id for d in database.dead_letters()] == [event_id]
    assert database.pending(10) == []

    redrive = run_cli("events", "redrive", "--event-id", str(event_id), data_dir=tmp_path)
    dispatched = run_cli("events", "dispatch", data_dir=tmp_path)

    assert redrive.returncode == 0, redrive.stderr
    assert "redrove 1 dead letter(s)" in redrive.stdout
    assert database.dead_letters() == []
    assert "delivered 1 event(s)" in dispatched.stdout
    lines = (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["task_assigned"]


def test_redrive_of_an_id_that_is_not_a_dead_letter_says_so(tmp_path: Path) -> None:
    unknown = uuid.uuid4()

    result = run_cli("events", "redrive", "--event-id", str(unknown), data_dir=tmp_path)
    listed = run_cli("events", "dead-letters", data_dir=tmp_path)

    assert result.returncode == 1
    assert f"not a dead letter: {unknown}" in result.stderr
    assert "no dead letters" in listed.stdout


def test_redrive_needs_event_ids_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["events", "redrive"])

    assert exit_info.value.code == 2
    assert "--event-id" in capsys.readouterr().err
