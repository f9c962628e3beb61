"""``taskapi invoke`` on every sample event in ``events/``: each runs its function's handler on
the local store and returns what that function returns in AWS, so the samples cannot drift from
the code (the EventBridge sample parses with the notification handler's models, the stream
record's image is an outbox item the relay reads, ...)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.config import Settings
from taskapi.local.cli import main
from taskapi.local.invoke import FUNCTIONS, function_for
from taskapi.service.commands import CreateTask
from tests.fakes.service import in_new_workspace

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
SAMPLE_TASK_EVENT_ID = "470592f8-c435-4604-966d-da7a5799b3da"


@pytest.fixture(autouse=True)
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite store for each test: what `taskapi invoke` reads from TASKAPI_*."""
    monkeypatch.setenv("TASKAPI_STORE", "sqlite")
    monkeypatch.setenv("TASKAPI_DATA_DIR", str(tmp_path))
    for name in ("TASKAPI_DB_PATH", "POWERTOOLS_DEV", "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """(exit status, the printed return value, stderr) of ``taskapi invoke ARGS``."""
    status = main(["invoke", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def body(result: dict[str, Any]) -> Any:
    return json.loads(result["body"])


def check_health(result: Any, _err: str, _store: Path) -> None:
    assert result["statusCode"] == 200
    assert body(result)["status"] == "ok"


def check_create(result: Any, err: str, _store: Path) -> None:
    assert result["statusCode"] == 201
    task = body(result)
    assert (task["title"], task["assignee"], task["version"]) == (
        "Try taskapi invoke",
        "ana@example.com",
        1,
    )
    location = f"/v1/workspaces/{task['workspace_id']}/tasks/{task['task_id']}"
    assert result["multiValueHeaders"]["Location"] == [location]
    assert "`taskapi events dispatch` delivers them" in err


def check_create_workspace(result: Any, _err: str, _store: Path) -> None:
    assert result["statusCode"] == 201
    workspace = body(result)
    assert (workspace["name"], workspace["role"]) == ("Try taskapi invoke", "owner")


def check_list(result: Any, _err: str, _store: Path) -> None:
    assert result["statusCode"] == 200
    assert body(result)["tasks"] == []  # a fresh store


def check_relay(result: Any, err: str, _store: Path) -> None:
    assert result == {"batchItemFailures": []}
    [line] = [line for line in err.splitlines() if "PutEvents entry" in line]
    assert line.startswith("NOT SENT (no event bus with a local store)")
    entry = json.loads(line.split("PutEvents entry ", 1)[1])
    assert (entry["Source"], entry["DetailType"]) == ("taskapi.tasks", "TaskCreated")
    assert json.loads(entry["Detail"])["event_id"] == SAMPLE_TASK_EVENT_ID


def check_notifications(result: Any, _err: str, store: Path) -> None:
    assert result["status"] == "handled"
    assert result["event_id"] == SAMPLE_TASK_EVENT_ID
    [sent] = (store / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(sent)["recipient"] == "ana@example.com"
    assert result["notification_ids"] == [json.loads(sent)["notification_id"]]


def check_reminders(result: Any, _err: str, _store: Path) -> None:
    assert result == {"due_soon": 0, "sent": 0, "already_reminded": 0, "failed": 0}


# Every shipped sample: its function and what invoking it on a fresh local store returns.
SAMPLES: dict[str, tuple[str, Callable[[Any, str, Path], None]]] = {
    "api-health.json": ("api", check_health),
    "api-create-workspace.json": ("api", check_create_workspace),
    "api-create-task.json": ("api", check_create),
    "api-list-tasks.json": ("api", check_list),
    "relay-outbox-insert.json": ("relay", check_relay),
    "notifications-task-created.json": ("notifications", check_notifications),
    "reminders-scheduled-run.json": ("reminders", check_reminders),
}


def test_every_shipped_event_has_a_check_here() -> None:
    assert sorted(path.name for path in EVENTS.glob("*.json")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_invoking_a_sample_runs_its_function(
    name: str, capsys: pytest.CaptureFixture[str], local_store: Path
) -> None:
    function, check = SAMPLES[name]
    sample = EVENTS / name
    options = placeholders_for(sample, capsys)

    status, result, err = invoke(capsys, str(sample), *options)

    assert status == 0, err
    assert function_for(json.loads(sample.read_text(encoding="utf-8"))) == function
    assert f"invoking {FUNCTIONS[function].logical_id} " in err
    check(result, err, local_store)
    # Named explicitly, the same function gives the same kind of answer.
    assert invoke(capsys, str(sample), *options, "--function", function)[0] == 0


def placeholders_for(sample: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The ``--set`` options a sample needs: a workspace (made by its sample) if it names
    ``{workspace_id}``."""
    if "{workspace_id}" not in sample.read_text(encoding="utf-8"):
        return []
    workspace = body(invoke(capsys, str(EVENTS / "api-create-workspace.json"))[1])
    return ["--set", f"workspace_id={workspace['workspace_id']}"]


def test_a_sample_naming_a_workspace_is_a_400_until_one_is_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, result, _ = invoke(capsys, str(EVENTS / "api-list-tasks.json"))
    assert status == 0
    assert result["statusCode"] == 400
    assert "workspace_id" in json.loads(result["body"])["details"][0]["field"]


@pytest.mark.parametrize("bad", ["workspace_id", "=x", "not a name=x"])
def test_a_malformed_set_is_refused(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    status, _, err = invoke(capsys, str(EVENTS / "api-list-tasks.json"), "--set", bad)
    assert status == 2
    assert "--set takes NAME=VALUE" in err


def test_invocations_share_the_local_store(capsys: pytest.CaptureFixture[str]) -> None:
    options = placeholders_for(EVENTS / "api-create-task.json", capsys)
    created = body(invoke(capsys, str(EVENTS / "api-create-task.json"), *options)[1])

    listed = body(invoke(capsys, str(EVENTS / "api-list-tasks.json"), *options)[1])

    assert [task["task_id"] for task in listed["tasks"]] == [created["task_id"]]


def test_a_redelivered_task_event_is_not_notified_twice(
    capsys: pytest.CaptureFixture[str], local_store: Path
) -> None:
    sample = str(EVENTS / "notifications-task-created.json")
    first = invoke(capsys, sample)[1]

    second = invoke(capsys, sample)[1]

    assert (first["status"], second["status"]) == ("handled", "duplicate")
    assert len((local_store / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_the_reminder_run_reminds_a_task_falling_due(
    capsys: pytest.CaptureFixture[str], local_store: Path
) -> None:
    runtime = bootstrap.build_runtime(Settings(store="sqlite", data_dir=local_store))
    due = datetime.now(UTC) + timedelta(hours=2)
    in_new_workspace(runtime.service, runtime.workspaces).create(
        CreateTask(title="Renew", due_at=due, assignee="ana@example.com")
    )

    result = invoke(capsys, str(EVENTS / "reminders-scheduled-run.json"))[1]

    assert (result["due_soon"], result["sent"]) == (1, 1)


def test_an_event_the_function_cannot_take_is_lambdas_error_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, result, _ = invoke(
        capsys, str(EVENTS / "api-health.json"), "--function", "notifications"
    )

    assert status == 1
    assert result["errorType"] == "ValidationError"
    assert "EventBridgeModel" in result["errorMessage"]
    frames = result["stackTrace"]
    assert any("entrypoints/notifications.py" in frame for frame in frames)
    assert "local/invoke.py" not in frames[0]  # it starts at the handler, as Lambda's does


def test_an_event_of_no_known_shape_needs_a_function(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = tmp_path / "other.json"
    event.write_text('{"hello": "world"}', encoding="utf-8")

    status, result, err = invoke(capsys, str(event))

    assert (status, result) == (2, None)
    assert "--function" in err


def test_a_file_that_is_not_an_event_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = tmp_path / "list.json"
    event.write_text("[1, 2]", encoding="utf-8")

    status, _, err = invoke(capsys, str(event))

    assert status == 2
    assert err.strip() == f"taskapi invoke: {event}: an event is a JSON object"


def test_the_functions_are_the_templates() -> None:
    template = (REPO / "template.yaml").read_text(encoding="utf-8")
    handlers = dict(
        re.findall(r"^  (\w+Function):\n(?:    .*\n)*?      Handler: (\S+)$", template, re.M)
    )

    assert handlers == {f.logical_id: f.handler for f in FUNCTIONS.values()}


def test_the_documented_invocations_name_shipped_samples() -> None:
    documented = set()
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        documented |= set(re.findall(r"taskapi invoke (events/[\w.-]+\.json)", page.read_text()))

    assert documented, "the README shows no `taskapi invoke events/...`"
    assert {path for path in documented if not (REPO / path).is_file()} == set()
