"""What each Lambda function imports before its first invocation, in a fresh interpreter as
Lambda starts one: modules, never time (docs/performance.md#cold-start). A dependency that
creeps back onto the cold path fails here, with its name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HANDLERS = {
    "api": "taskapi.entrypoints.api",
    "relay": "taskapi.entrypoints.relay",
    "notifications": "taskapi.entrypoints.notifications",
    "reminders": "taskapi.entrypoints.reminders",
}
# What no function needs to start: the X-Ray SDK while tracing is off, the email checker
# until an email is validated, the OpenAPI document models until /openapi.json or /swagger,
# Powertools' idempotency layers until the notification side builds them, the stores a
# DynamoDB function never uses, and nothing of the local tools or the risk map.
NEVER_AT_IMPORT = (
    "aws_xray_sdk",
    "email_validator",
    "pydantic_settings",
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "sqlite3",
    "taskapi.adapters",
    "taskapi.local",
    "taskrisk",
    "rich",
    "matplotlib",
    "jwt",
)
# The API handler's module count at import; the sample it is compared with loads ~400.
MAX_API_MODULES = 450

_PROBE = """
import json, sys
before = set(sys.modules)
import importlib
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def modules_imported_by(module: str) -> list[str]:
    env = {
        **os.environ,
        "TASKAPI_STORE": "dynamodb",
        # As in Lambda without active tracing; the default outside Lambda too.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    imported: list[str] = json.loads(result.stdout)
    return imported


@pytest.fixture(scope="module")
def imported() -> dict[str, list[str]]:
    return {function: modules_imported_by(module) for function, module in HANDLERS.items()}


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_nothing_a_function_does_not_need_is_imported_before_its_first_invocation(
    imported: dict[str, list[str]], function: str
) -> None:
    unwanted = sorted(
        name
        for name in imported[function]
        if any(name == prefix or name.startswith(f"{prefix}.") for prefix in NEVER_AT_IMPORT)
    )
    assert unwanted == []


def test_the_api_handler_imports_fewer_modules_than_the_budget(
    imported: dict[str, list[str]],
) -> None:
    assert HANDLERS["api"] in imported["api"]  # the probe saw the import happen
    assert len(imported["api"]) < MAX_API_MODULES


_SNAPSTART_PROBE = """
import json, random, sys
import snapshot_restore_py
from taskapi import bootstrap
import taskapi.entrypoints.api
print(json.dumps({
    "built_at_init": bootstrap._runtime.current is not None,
    "after_restore": [hook is random.seed for hook in snapshot_restore_py.AFTER_RESTORE],
}))
"""

# Lambda's runtime provides this module under SnapStart; the stand-in records the hooks.
_RESTORE_STAND_IN = """
AFTER_RESTORE = []
def register_after_restore(hook, *args, **kwargs):
    AFTER_RESTORE.append(hook)
"""


@pytest.mark.parametrize("initialization", ["snap-start", "on-demand"])
def test_under_snapstart_the_object_graph_is_built_at_init_and_random_reseeded_on_restore(
    tmp_path: Path, initialization: str
) -> None:
    (tmp_path / "snapshot_restore_py.py").write_text(_RESTORE_STAND_IN, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization,
        "TASKAPI_STORE": "memory",
        "TASKAPI_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-c", _SNAPSTART_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    probe = json.loads(result.stdout.splitlines()[-1])

    snapstart = initialization == "snap-start"
    assert probe == {"built_at_init": snapstart, "after_restore": [True] if snapstart else []}
