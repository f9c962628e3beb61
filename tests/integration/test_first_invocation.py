"""The API function's first invocation on DynamoDB, in a fresh interpreter as Lambda starts
one: what it loads to answer a ``GET`` of a stored task. tests/package/test_cold_path.py
guards the handler's import; this guards the first request, which builds the object graph
and reads the store (docs/performance.md#cold-start). Modules, never time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from taskapi.local.proxy import HttpRequest, to_proxy_event
from taskapi.service.commands import CreateTask
from tests.fakes.builders import OWNER, WORKSPACE_ID
from tests.integration.dynamodb_store import service, store
from tests.moto_server import FAKE_CREDENTIALS, AwsTarget
from tests.unit.api_helpers import claims_of

pytestmark = pytest.mark.integration

# What answering a GET never needs: the address checker (the stored task's assignee was
# checked when it was written), the event readers and everything that consumes events (the
# API writes events, the relay and the notification function read them), the local tools.
NOT_FOR_A_READ = (
    "email_validator",
    "taskapi.domain.event_readers",
    "taskapi.domain.notifications",
    "taskapi.service.dispatch",
    "taskapi.service.notifications",
    "taskapi.adapters.outbox",
    "taskapi.adapters.sqlite",
    "taskapi.adapters.memory",
    "taskapi.local",
    "sqlite3",
)

# The event comes from the parent, built by the local gateway's own translation.
_FIRST_GET = """
import json, sys
from taskapi.entrypoints.api import lambda_handler
from tests.fakes.lambda_context import FakeLambdaContext

reply = lambda_handler(json.loads(sys.stdin.read()), FakeLambdaContext())
print(json.dumps({"status": int(reply["statusCode"]), "body": json.loads(reply["body"]),
                  "modules": sorted(sys.modules)}))
"""


def test_the_first_get_of_a_stored_task_loads_nothing_a_read_does_not_need(
    aws_target: AwsTarget, dynamodb_client: object, tasks_table: str
) -> None:
    tasks = service(store(dynamodb_client, tasks_table, outbox_mode="stream"))  # type: ignore[arg-type]
    task = tasks.create(CreateTask(title="Write the notes", assignee="Ana@Example.COM"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TASKAPI_", "POWERTOOLS_"))},
        "TASKAPI_STORE": "dynamodb",
        "TASKAPI_TABLE_NAME": tasks_table,
        "TASKAPI_AWS_REGION": aws_target.region,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    if aws_target.endpoint_url is not None:  # moto: any credentials will do
        env["TASKAPI_AWS_ENDPOINT_URL"] = aws_target.endpoint_url
        env["AWS_ACCESS_KEY_ID"] = FAKE_CREDENTIALS["aws_access_key_id"]
        env["AWS_SECRET_ACCESS_KEY"] = FAKE_CREDENTIALS["aws_secret_access_key"]

    request = HttpRequest("GET", f"/workspaces/{WORKSPACE_ID}/tasks/{task.task_id}")
    event = to_proxy_event(request, request_id="first", claims=claims_of(OWNER))

    result = subprocess.run(
        [sys.executable, "-c", _FIRST_GET],
        input=json.dumps(event), capture_output=True, text=True, check=True, env=env, timeout=60,
    )  # fmt: skip
    reply = json.loads(result.stdout.splitlines()[-1])

    assert reply["status"] == 200, reply["body"]
    assert reply["body"]["assignee"] == "Ana@example.com"  # normalised when it was written
    loaded = [
        name
        for name in reply["modules"]
        if any(name == prefix or name.startswith(f"{prefix}.") for prefix in NOT_FOR_A_READ)
    ]
    assert loaded == []
