"""Our own readers are tolerant readers: they take what the compatibility gate lets a later
minor revision of schema version 2 send, through each of them: the stream relay, the local
outbox (SQLite) with its dispatcher and notification service. (The notification Lambda's
share is in test_notifications_eventbridge.py, on the same fixtures.)

``fixtures/later_minor/*.json`` are such events: optional fields added at the top, in the task
and in a change, a new status, a new priority, a new key in ``changes``. The first tests
check the fixtures themselves: a schema made from today's by changes the gate calls compatible
accepts them, and today's strict models (the writer's) refuse them, so they exercise
tolerance rather than repeat today's events.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema
import pytest
from pydantic import ValidationError

from taskapi import bootstrap
from taskapi.adapters.aws.eventbridge import EventEntryBuilder
from taskapi.adapters.dynamodb.items import encode, outbox_event_from_image
from taskapi.adapters.sqlite.database import SqliteDatabase
from taskapi.config import Settings
from taskapi.domain.event_schemas import ReviewStatus, published_schemas, review
from taskapi.domain.events import parse_event
from taskapi.entrypoints import relay as relay_lambda
from taskapi.service.dispatch import OutboxDispatcher
from tests.fakes.clock import FixedClock
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.subscribers import RecordingSubscriber

FIXTURES = Path(__file__).parent / "fixtures" / "later_minor"
NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))

Schema = dict[str, Any]


def detail(name: str) -> dict[str, Any]:
    envelope = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    value: dict[str, Any] = envelope["detail"]
    return value


def later_minor_schemas() -> dict[str, Schema]:
    """Today's published schemas plus what the fixtures use, added the compatible way."""
    schemas = copy.deepcopy(published_schemas())
    for schema in schemas.values():
        schema["properties"]["actor"] = {
            "type": "object",
            "properties": {"kind": {"type": "string"}, "id": {"type": "string"}},
        }
        definitions = schema["$defs"]
        definitions["Status"]["enum"].append("blocked")
        definitions["Priority"]["enum"].append("urgent")
        task = definitions["Task"]["properties"]
        task["labels"] = {"type": "array", "items": {"type": "string"}, "default": []}
        task["estimate_minutes"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        if "FieldChange" in definitions:
            definitions["FieldChange"]["properties"]["reason"] = {"type": "string"}
    return schemas


def test_there_are_fixtures() -> None:
    assert len(NAMES) >= 3


def test_the_gate_calls_the_fixtures_schema_compatible() -> None:
    verdicts = review(published_schemas(), later_minor_schemas())

    assert {v.event_type: v.status for v in verdicts} == dict.fromkeys(
        published_schemas(), ReviewStatus.COMPATIBLE
    ), "\n".join(v.explain() for v in verdicts)


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_is_valid_under_the_later_schema(name: str) -> None:
    event = detail(name)

    jsonschema.Draft202012Validator(later_minor_schemas()[event["event_type"]]).validate(event)

    assert event["schema_version"] == 2


@pytest.mark.parametrize("name", NAMES)
def test_todays_writer_models_refuse_each_fixture(name: str) -> None:
    with pytest.raises(ValidationError):
        parse_event(detail(name))


# -- the stream relay ---------------------------------------------------------------------


class RecordingPublisher:
    """Builds the real PutEvents entries and keeps them instead of sending them."""

    def __init__(self) -> None:
        self.builder = EventEntryBuilder(source="taskapi.tasks", event_bus_name="taskapi")
        self.entries: list[Any] = []

    def publish(self, events: Sequence[Any]) -> Mapping[UUID, str]:
        self.entries += [self.builder.build(event) for event in events]
        return {}


def stream_record(event: Mapping[str, Any], sequence_number: str) -> dict[str, Any]:
    """An outbox item's INSERT as Lambda delivers it from the table's stream."""
    keys = {"PK": f"OUTBOX#{event['event_id']}", "SK": "OUTBOX"}
    item = {
        **keys,
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "event": json.dumps(event),
        "attempts": 0,
        "expires_at": 1_767_225_600,
    }
    return {
        "eventID": sequence_number,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": encode(keys),
            "NewImage": encode(item),
            "SequenceNumber": sequence_number,
            "SizeBytes": 1024,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-01-01",
    }


def test_the_relay_publishes_later_minor_events_as_they_were_committed() -> None:
    events = [detail(name) for name in NAMES]
    publisher = RecordingPublisher()
    records = [stream_record(event, str(100 + n)) for n, event in enumerate(events)]
    relay = bootstrap.Relay(read_outbox_image=outbox_event_from_image, publisher=publisher)

    with bootstrap.override_relay(relay):
        response = relay_lambda.lambda_handler({"Records": records}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert [json.loads(entry["Detail"]) for entry in publisher.entries] == events
    assert [entry["DetailType"] for entry in publisher.entries] == [
        event["event_type"] for event in events
    ]


def test_the_relay_publishes_version_1_events_as_they_were_committed() -> None:
    # Committed before the upgrade, relayed after it: subscribers pinned to [1] still get them.
    directory = FIXTURES.parent / "previous_major"
    events = [
        json.loads(path.read_text(encoding="utf-8"))["detail"]
        for path in sorted(directory.glob("*.json"))
    ]
    publisher = RecordingPublisher()
    records = [stream_record(event, str(200 + n)) for n, event in enumerate(events)]
    relay = bootstrap.Relay(read_outbox_image=outbox_event_from_image, publisher=publisher)

    with bootstrap.override_relay(relay):
        response = relay_lambda.lambda_handler({"Records": records}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    details = [json.loads(entry["Detail"]) for entry in publisher.entries]
    assert details == events
    assert {detail["schema_version"] for detail in details} == {1}


def test_the_relay_keeps_the_workspace_of_each_event() -> None:
    events = [detail(name) for name in NAMES]
    publisher = RecordingPublisher()
    records = [stream_record(event, str(300 + n)) for n, event in enumerate(events)]
    relay = bootstrap.Relay(read_outbox_image=outbox_event_from_image, publisher=publisher)

    with bootstrap.override_relay(relay):
        relay_lambda.lambda_handler({"Records": records}, FakeLambdaContext())

    published = [json.loads(entry["Detail"]) for entry in publisher.entries]
    assert [d["workspace_id"] for d in published] == [e["workspace_id"] for e in events]
    assert all(d["task"]["workspace_id"] == d["workspace_id"] for d in published)


# -- the local outbox and its dispatcher --------------------------------------------------


def commit_raw(database: SqliteDatabase, event: Mapping[str, Any]) -> None:
    """An outbox row as a later release's unit of work would have committed it."""
    with database.open_connection() as connection:
        connection.execute(
            "INSERT INTO outbox (event_id, event_type, payload, created_at) VALUES (?, ?, ?, ?)",
            (event["event_id"], event["event_type"], json.dumps(event), event["occurred_at"]),
        )
    connection.close()


@pytest.mark.parametrize("name", NAMES)
def test_the_local_dispatcher_delivers_a_later_minor_event(tmp_path: Path, name: str) -> None:
    event = detail(name)
    database = SqliteDatabase(tmp_path / "taskapi.db")
    commit_raw(database, event)
    subscriber = RecordingSubscriber()

    report = OutboxDispatcher(database, [subscriber], clock=FixedClock()).dispatch_pending()

    assert (report.delivered, report.failed) == (1, 0)
    (received,) = subscriber.delivered
    assert str(received.event_id) == event["event_id"]
    assert received.task.status == event["task"]["status"]  # a new status, kept as it came
    assert received.task.priority == event["task"]["priority"]
    assert database.pending(10) == []


def test_the_local_notification_service_acts_on_a_later_minor_event(tmp_path: Path) -> None:
    event = detail("task_created_urgent")
    runtime = bootstrap.build_runtime(Settings(store="sqlite", data_dir=tmp_path))
    assert runtime.dispatcher is not None
    commit_raw(SqliteDatabase(Settings(data_dir=tmp_path).sqlite_path), event)

    report = runtime.dispatcher.dispatch_pending()

    assert (report.delivered, report.failed) == (1, 0)
    lines = (tmp_path / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    [notification] = [json.loads(line) for line in lines]
    assert notification["kind"] == "task_assigned"
    assert notification["recipient"] == event["task"]["assignee"]
    assert "priority urgent" in notification["body"]
