"""``taskapi invoke --function relay`` with the AWS settings (``TASKAPI_STORE=dynamodb``) really
publishes: the sample stream record's event reaches the bus, as the deployed relay's would.
(With a local store it only prints the entries: tests/unit/test_invoke_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskapi.local.cli import main
from tests.moto_server import FAKE_CREDENTIALS, AwsTarget, EventBusHarness

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "events" / "relay-outbox-insert.json"


def test_the_sample_stream_batch_is_published_to_the_bus(
    aws_target: AwsTarget,
    event_bus: EventBusHarness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = {
        "TASKAPI_STORE": "dynamodb",
        "TASKAPI_EVENT_BUS_NAME": event_bus.bus_name,
        "TASKAPI_EVENT_SOURCE": event_bus.source,
        "TASKAPI_AWS_REGION": aws_target.region,
    }
    if aws_target.endpoint_url is not None:  # moto: any credentials will do
        settings["TASKAPI_AWS_ENDPOINT_URL"] = aws_target.endpoint_url
        settings["AWS_ACCESS_KEY_ID"] = FAKE_CREDENTIALS["aws_access_key_id"]
        settings["AWS_SECRET_ACCESS_KEY"] = FAKE_CREDENTIALS["aws_secret_access_key"]
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    committed = json.loads(
        json.loads(SAMPLE.read_text(encoding="utf-8"))["Records"][0]["dynamodb"]["NewImage"][
            "event"
        ]["S"]
    )

    status = main(["invoke", str(SAMPLE), "--function", "relay"])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert json.loads(captured.out) == {"batchItemFailures": []}
    assert "NOT SENT" not in captured.err
    [envelope] = event_bus.receive(1)
    assert envelope["detail-type"] == "TaskCreated"
    assert envelope["detail"] == committed
