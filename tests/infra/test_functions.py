"""Every function in the template can start: its handler imports, and the settings its code
path reads are in its environment (and nothing it does not read).

Which settings a code path reads is not written down here: it is recorded. Each handler gets
its service from a ``bootstrap`` builder; the test hands that builder a ``Settings`` subclass
that notes every field read, builds exactly what the function builds in AWS (boto3 clients
are created, nothing is called), and compares the fields read with the variables the
template sets.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from taskapi import bootstrap
from taskapi.adapters.dynamodb.items import OUTBOX_PREFIX
from taskapi.config import Settings
from tests.infra.cfn import deployed, resources_of_type, source_template

ENV_PREFIX = "TASKAPI_"
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}

# The bootstrap builder behind each handler's getter: the API handler calls get_runtime(),
# the notification and reminder handlers get_notifications(), the relay get_relay().
BUILDERS: dict[str, Callable[[Settings], object]] = {
    "ApiFunction": bootstrap.build_runtime,
    "NotificationsFunction": bootstrap.build_notification_functions,
    "RemindersFunction": bootstrap.build_notification_functions,
    "RelayFunction": bootstrap.build_relay,
}

# Settings whose defaults are the right values in AWS: the template may leave them out.
PRODUCTION_DEFAULTS = {
    "outbox_mode",  # "stream": the stack's relay publishes the outbox
    "aws_endpoint_url",  # None: the real regional endpoints
    "aws_connect_timeout_seconds",
    "aws_read_timeout_seconds",
    "aws_max_attempts",
    "pre_workspace_events_workspace_id",  # None: version-1 events ignored (docs/events.md)
}

# Settings a builder reads that its function never uses, so the template leaves them out
# (each entry must really be read, so the list cannot go stale silently):
# - the DynamoDB store always gets the EventBridge entry builder (it size-checks outbox writes),
#   but the notification and reminder functions only read tasks, never write them;
# - the notification service takes its reminder window whether or not it sends reminders.
READ_BUT_UNUSED = {
    "ApiFunction": set(),
    "NotificationsFunction": {"event_bus_name", "event_source", "reminder_window_hours"},
    "RemindersFunction": {"event_bus_name", "event_source"},
    "RelayFunction": set(),
}


def _functions() -> dict[str, dict[str, Any]]:
    return resources_of_type(deployed(), "AWS::Lambda::Function")


def _environment(function: str) -> dict[str, Any]:
    variables: dict[str, Any] = _functions()[function]["Properties"]["Environment"]["Variables"]
    return variables


def _setting_values(function: str) -> dict[str, Any]:
    """The function's TASKAPI_* variables as Settings keyword arguments, with stand-ins for
    what CloudFormation fills in at deploy time."""
    values: dict[str, Any] = {}
    for name, value in _environment(function).items():
        if not name.startswith(ENV_PREFIX):
            continue
        field = name.removeprefix(ENV_PREFIX).lower()
        values[field] = value if isinstance(value, str) else f"deploy-time-{field}"
    return values


def _fields_read(function: str) -> set[str]:
    reads: set[str] = set()
    fields = set(Settings.model_fields)

    class RecordingSettings(Settings):
        def __getattribute__(self, name: str) -> Any:
            if name in fields:
                reads.add(name)
            return super().__getattribute__(name)

    settings = RecordingSettings(**_setting_values(function))
    reads.clear()  # construction and validation are not the code path
    BUILDERS[function](settings)
    return reads


def test_the_builders_cover_every_function() -> None:
    assert set(BUILDERS) == set(_functions())


@pytest.mark.parametrize("function", sorted(BUILDERS))
def test_the_handler_imports_and_is_callable(function: str) -> None:
    module_name, _, attribute = _functions()[function]["Properties"]["Handler"].rpartition(".")

    handler = getattr(importlib.import_module(module_name), attribute)

    assert callable(handler)


@pytest.mark.parametrize("function", sorted(BUILDERS))
@pytest.mark.usefixtures("fake_aws_credentials")
def test_every_setting_the_code_path_reads_is_set(function: str) -> None:
    configured = set(_setting_values(function))
    read = _fields_read(function)

    missing = read - configured - PRODUCTION_DEFAULTS - READ_BUT_UNUSED[function]

    assert "store" not in read or _setting_values(function)["store"] == "dynamodb"
    assert missing == set(), f"set TASKAPI_{{{', '.join(sorted(missing)).upper()}}}"


@pytest.mark.parametrize("function", sorted(BUILDERS))
@pytest.mark.usefixtures("fake_aws_credentials")
def test_every_setting_the_template_passes_is_read(function: str) -> None:
    unused = set(_setting_values(function)) - _fields_read(function)

    assert unused == set()


@pytest.mark.parametrize("function", sorted(BUILDERS))
@pytest.mark.usefixtures("fake_aws_credentials")
def test_the_read_but_unused_allowance_is_current(function: str) -> None:
    assert READ_BUT_UNUSED[function] <= _fields_read(function)
    assert READ_BUT_UNUSED[function].isdisjoint(_setting_values(function))


@pytest.mark.parametrize("function", sorted(BUILDERS))
def test_powertools_is_configured_on_every_function(function: str) -> None:
    assert set(_environment(function)) >= POWERTOOLS_VARIABLES


def test_only_known_settings_are_set() -> None:
    unknown = {
        f"{function}: {name}"
        for function in _functions()
        for name in _environment(function)
        if name.startswith(ENV_PREFIX)
        and name.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields
    }

    assert unknown == set()


def test_the_page_token_keys_are_read_at_run_time_from_the_generated_secret() -> None:
    assert _environment("ApiFunction")["TASKAPI_PAGE_TOKEN_SECRET_ID"] == {"Ref": "PageTokenSecret"}
    secret = source_template()["Resources"]["PageTokenSecret"]["Properties"]
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "current"


def test_no_function_holds_a_secret_in_its_configuration() -> None:
    # Anyone with lambda:GetFunctionConfiguration could read it there.
    leaks = {
        f"{function}: {name}"
        for function in _functions()
        for name, value in _environment(function).items()
        if name == "TASKAPI_PAGE_TOKEN_SECRET" or "resolve:secretsmanager" in json.dumps(value)
    }
    assert leaks == set()


def test_the_relay_filter_lets_every_outbox_insert_through() -> None:
    # A filter that drifted from the adapter's key layout would drop every event silently.
    mapping = source_template()["Resources"]["RelayStreamMapping"]["Properties"]
    (pattern,) = mapping["FilterCriteria"]["Filters"]

    assert f'{{"prefix": "{OUTBOX_PREFIX}"}}' in pattern["Pattern"]
    assert '"eventName": ["INSERT"]' in pattern["Pattern"]
