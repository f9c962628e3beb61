"""Every error the HTTP API can answer: status, headers, and a ``{error, message, details}``
body that never leaks internals. Bad input is always a 4xx, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

import pytest

from taskapi.entrypoints.api import lambda_handler
from taskapi.entrypoints.http.errors import ERROR_TABLE, rule_for
from taskapi.local.proxy import (
    HttpReply,
    HttpRequest,
    LocalLambdaContext,
    from_proxy_response,
    to_proxy_event,
)
from taskapi.service.ports import StoreFailure, StoreUnavailable
from tests.fakes.service import ServiceHarness, build_service
from tests.fakes.unit_of_work import FailingCommits
from tests.unit.api_helpers import (
    JSON,
    OWNER,
    TASKS,
    call,
    claims_of,
    create,
    installed,
    logged_lines,
)


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def assert_error(reply: HttpReply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.header("Content-Type") == "application/json"
    body: dict[str, Any] = reply.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "details" in body
    return body


MISSING = "00000000-0000-4000-8000-000000000999"


# -- request validation: 400 naming the problem ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "t", "status": "done"}, "body.status"),
        ({"title": "t", "priority": "urgent"}, "body.priority"),
        ({"title": "t", "assignee": "not an email"}, "body.assignee"),
        ({"title": "t", "due_at": "tomorrow"}, "body.due_at"),
        ({"title": "t", "due_at": 1_700_000_000}, "body.due_at"),  # no epoch numbers
        ({"title": "t", "dependencies": ["nope"]}, "body.dependencies.0"),
        ({"title": "t", "owner": "me"}, "body.owner"),
    ],
)
def test_invalid_create_bodies_name_the_field(
    harness: ServiceHarness, body: dict[str, Any], field: str
) -> None:
    error = assert_error(call("POST", f"{TASKS}", body), 400, "validation_error")

    assert field in {problem["field"] for problem in error["details"]}
    assert all(set(problem) == {"field", "message"} for problem in error["details"])
    assert error["message"].startswith(error["details"][0]["field"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "1"}, "body.version"),  # a JSON integer, not a numeric string
        ({"version": True}, "body.version"),
        ({"version": 0}, "body.version"),
        ({"title": None, "version": 1}, "body"),  # may be absent, never null
        ({"status": None, "version": 1}, "body"),
    ],
)
def test_invalid_update_bodies_are_400(
    harness: ServiceHarness, body: dict[str, Any], field: str
) -> None:
    task = create()

    error = assert_error(call("PUT", f"{TASKS}/{task['task_id']}", body), 400, "validation_error")

    assert error["details"][0]["field"] == field


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"title": "t",}', b"[1, 2", b'{"title": NaN}', b"[" * 5000, b"null"],
)
def test_malformed_json_is_a_400(harness: ServiceHarness, raw: bytes) -> None:
    error = assert_error(call("POST", f"{TASKS}", raw, [JSON]), 400, "validation_error")

    assert error["details"][0]["field"] == "body"


def test_a_json_array_or_string_body_is_a_400(harness: ServiceHarness) -> None:
    for body in ([{"title": "t"}], "title"):
        assert_error(call("POST", f"{TASKS}", body), 400, "validation_error")


def test_a_missing_body_is_a_400(harness: ServiceHarness) -> None:
    error = assert_error(call("POST", f"{TASKS}"), 400, "validation_error")

    assert error["details"][0]["field"] == "body"


def test_error_text_never_echoes_a_huge_input(harness: ServiceHarness) -> None:
    huge = "y" * 15_000  # inside the 64 KiB limit, so it reaches validation

    reply = call("POST", f"{TASKS}", {"title": huge, "assignee": huge, huge[:50]: 1})

    assert_error(reply, 400, "validation_error")
    assert len(reply.body) < 4_000
    assert huge[:300] not in reply.body.decode()


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (f"{TASKS}?limit=0", "query.limit"),
        (f"{TASKS}?limit=101", "query.limit"),
        (f"{TASKS}?limit=ten", "query.limit"),
        (f"{TASKS}?status=done", "query.status"),
        (f"{TASKS}/not-a-uuid", "path.task_id"),
        (f"{TASKS}/not-a-uuid/dependents", "path.task_id"),
    ],
)
def test_invalid_query_and_path_parameters_are_400(
    harness: ServiceHarness, target: str, field: str
) -> None:
    error = assert_error(call("GET", target), 400, "validation_error")

    assert error["details"][0]["field"] == field


def test_a_repeated_scalar_query_parameter_is_a_400(harness: ServiceHarness) -> None:
    assert_error(call("GET", f"{TASKS}?limit=1&limit=2"), 400, "validation_error")


def test_a_tampered_page_token_is_a_400(harness: ServiceHarness) -> None:
    for _ in range(3):
        create()
    token = call("GET", f"{TASKS}?limit=1").json()["pagination"]["next_token"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert_error(call("GET", f"{TASKS}?limit=1&next_token={tampered}"), 400, "invalid_next_token")
    assert_error(call("GET", f"{TASKS}?next_token=garbage"), 400, "invalid_next_token")
    # A token is bound to its filters.
    assert_error(
        call("GET", f"{TASKS}?limit=1&status=completed&next_token={token}"),
        400,
        "invalid_next_token",
    )


# -- the body as bytes: size, media type, encoding --------------------------------------------


def test_a_body_over_64_kib_is_a_413(harness: ServiceHarness) -> None:
    body = json.dumps({"title": "t", "description": "x" * (64 * 1024)}).encode()

    error = assert_error(call("POST", f"{TASKS}", body, [JSON]), 413, "payload_too_large")

    assert error["details"] == {"limit_bytes": 65536}
    assert harness.stored_tasks() == {}


def test_a_body_of_exactly_64_kib_is_read(harness: ServiceHarness) -> None:
    body = json.dumps({"title": "t"}).encode()
    body += b" " * (64 * 1024 - len(body))

    assert call("POST", f"{TASKS}", body, [JSON]).status == 201


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_non_json_body_is_a_415(harness: ServiceHarness, content_type: str) -> None:
    reply = call("PUT", f"{TASKS}/{MISSING}", b"title=x", [("Content-Type", content_type)])

    assert_error(reply, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_non_json_content_type_is_the_same_415_without_a_body(
    harness: ServiceHarness, content_type: str
) -> None:
    for method, target in [("POST", f"{TASKS}"), ("PUT", f"{TASKS}/{MISSING}")]:
        reply = call(method, target, b"", [("Content-Type", content_type)])

        error = assert_error(reply, 415, "unsupported_media_type")
        assert error["details"] == {"supported": ["application/json"]}


def test_a_missing_json_body_is_a_400_whatever_the_media_type_casing(
    harness: ServiceHarness,
) -> None:
    reply = call("POST", f"{TASKS}", b"", [("Content-Type", "Application/JSON")])

    error = assert_error(reply, 400, "validation_error")
    assert error["details"][0]["field"] == "body"


def test_json_with_parameters_and_any_header_casing_is_accepted(harness: ServiceHarness) -> None:
    reply = call(
        "POST", f"{TASKS}", b'{"title": "t"}', [("content-TYPE", "Application/JSON; charset=utf-8")]
    )

    assert reply.status == 201


def test_a_base64_encoded_body_is_decoded(harness: ServiceHarness) -> None:
    event = to_proxy_event(HttpRequest("POST", f"{TASKS}", [JSON]), claims=claims_of(OWNER))
    event["body"] = base64.b64encode(b'{"title": "sent as binary"}').decode()
    event["isBase64Encoded"] = True

    reply = from_proxy_response(lambda_handler(event, LocalLambdaContext()))

    assert reply.status == 201
    assert reply.json()["title"] == "sent as binary"


def test_bad_base64_and_non_utf8_bodies_are_400(harness: ServiceHarness) -> None:
    for body in ("%%% not base64 %%%", base64.b64encode(b'{"title": "\xff\xfe"}').decode()):
        event = to_proxy_event(HttpRequest("POST", f"{TASKS}", [JSON]), claims=claims_of(OWNER))
        event["body"], event["isBase64Encoded"] = body, True

        reply = from_proxy_response(lambda_handler(event, LocalLambdaContext()))

        assert_error(reply, 400, "malformed_body")


# -- routing: 404 and 405 ---------------------------------------------------------------


def test_an_unknown_route_is_a_404(harness: ServiceHarness) -> None:
    error = assert_error(call("GET", "/nothing/here"), 404, "not_found")

    assert error["details"] == {}


def test_a_known_path_with_the_wrong_method_is_a_405_with_allow(harness: ServiceHarness) -> None:
    task_path = f"{TASKS}/{MISSING}"
    cases = {  # HEAD wherever GET is: the API answers it as GET without the content
        ("PATCH", task_path): "DELETE, GET, HEAD, PUT",
        ("POST", task_path): "DELETE, GET, HEAD, PUT",
        ("DELETE", f"{TASKS}"): "GET, HEAD, POST",
        ("PUT", f"{task_path}/dependents"): "GET, HEAD",
        ("POST", "/health"): "GET, HEAD",
    }
    for (method, target), allow in cases.items():
        reply = call(method, target, {"title": "t"} if method != "DELETE" else None)

        error = assert_error(reply, 405, "method_not_allowed")
        assert reply.header("Allow") == allow
        assert error["details"]["allowed_methods"] == allow.split(", ")


# -- domain errors ---------------------------------------------------------------------


def test_a_missing_task_is_a_404_on_every_route(harness: ServiceHarness) -> None:
    for method, target, body in [
        ("GET", f"{TASKS}/{MISSING}", None),
        ("GET", f"{TASKS}/{MISSING}/dependents", None),
        ("PUT", f"{TASKS}/{MISSING}", {"title": "t", "version": 1}),
        ("DELETE", f"{TASKS}/{MISSING}", None),
    ]:
        error = assert_error(call(method, target, body), 404, "task_not_found")
        assert error["details"] == {"task_id": MISSING}


def test_unknown_dependencies_are_a_400_naming_them(harness: ServiceHarness) -> None:
    error = assert_error(
        call("POST", f"{TASKS}", {"title": "t", "dependencies": [MISSING]}),
        400,
        "dependencies_not_found",
    )

    assert error["details"] == {"missing_dependencies": [MISSING]}


def test_a_dependency_cycle_is_a_400_with_the_cycle(harness: ServiceHarness) -> None:
    first = create()
    second = create(dependencies=[first["task_id"]])

    error = assert_error(
        call(
            "PUT",
            f"{TASKS}/{first['task_id']}",
            {"dependencies": [second["task_id"]], "version": 1},
        ),
        400,
        "dependency_cycle",
    )

    assert error["details"]["cycle"][0] == error["details"]["cycle"][-1] == first["task_id"]


def test_an_invalid_transition_is_a_400(harness: ServiceHarness) -> None:
    task = create(status="in_progress")

    error = assert_error(
        call("PUT", f"{TASKS}/{task['task_id']}", {"status": "pending", "version": 1}),
        400,
        "invalid_status_transition",
    )

    assert error["details"]["allowed"] == ["completed"]


def test_completing_before_the_dependencies_is_a_400(harness: ServiceHarness) -> None:
    dependency = create()
    task = create(dependencies=[dependency["task_id"]])

    error = assert_error(
        call("PUT", f"{TASKS}/{task['task_id']}", {"status": "completed", "version": 1}),
        400,
        "dependencies_not_completed",
    )

    assert error["details"] == {"blocking_dependencies": [dependency["task_id"]]}


def test_deleting_a_task_others_depend_on_is_a_409_naming_them(harness: ServiceHarness) -> None:
    base = create()
    dependent = create(dependencies=[base["task_id"]])

    error = assert_error(call("DELETE", f"{TASKS}/{base['task_id']}"), 409, "task_has_dependents")

    assert error["details"]["dependents"] == [dependent["task_id"]]
    assert UUID(base["task_id"]) in harness.stored_tasks()


# -- infrastructure failures: 503 and 500, with nothing leaked --------------------------------

SECRETS = (
    "arn:aws:dynamodb:eu-west-1:123456789012:table/taskapi-prod",
    "AccessDeniedException",
    "is not authorized to perform: dynamodb:TransactWriteItems",
)


def failing(error: Exception) -> AbstractContextManager[ServiceHarness]:
    """A service whose every commit raises ``error``, as a store outage would."""
    return installed(build_service(wrap=lambda inner: FailingCommits(inner, error, times=None)))


def test_throttling_is_a_503_with_retry_after() -> None:
    with failing(StoreUnavailable("ProvisionedThroughputExceededException", 7)):
        reply = call("POST", f"{TASKS}", {"title": "t"})

        error = assert_error(reply, 503, "service_unavailable")
        assert reply.header("Retry-After") == "7"
        assert error["details"]["retry_after_seconds"] == 7
        assert "ProvisionedThroughput" not in reply.body.decode()


@pytest.mark.parametrize(
    "error",
    [
        StoreFailure(f"{SECRETS[1]}: user is {SECRETS[2]} on resource {SECRETS[0]}"),
        RuntimeError(f"unexpected: {SECRETS[0]}"),
        KeyError("permission"),
    ],
)
def test_failures_are_a_500_that_leaks_nothing(error: Exception) -> None:
    with failing(error):
        reply = call("POST", f"{TASKS}", {"title": "t"})

    body = assert_error(reply, 500, "internal_error")
    assert body["message"] == "internal error"
    assert set(body["details"]) == {"request_id"}
    text = reply.body.decode()
    for secret in (*SECRETS, "permission", "Traceback", "AccessDenied"):
        assert secret not in text


def test_a_500_names_the_request_id_that_the_log_line_carries() -> None:
    with failing(StoreFailure(f"{SECRETS[1]} on {SECRETS[0]}")), logged_lines() as logged:
        request = HttpRequest("POST", f"{TASKS}", [JSON], b'{"title": "t"}')
        event = to_proxy_event(request, request_id="req-42", claims=claims_of(OWNER))
        reply = from_proxy_response(lambda_handler(event, LocalLambdaContext()))

    assert reply.json()["details"] == {"request_id": "req-42"}
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["correlation_id"] == "req-42"
    assert SECRETS[0] in errors[0]["exception"]  # the full detail is in the log, not the reply


@pytest.mark.parametrize(
    ("error", "level", "status", "code"),
    [
        (StoreUnavailable("throttled", 1), "WARNING", 503, "service_unavailable"),
        (RuntimeError("surprise"), "ERROR", 500, "internal_error"),
    ],
)
def test_a_5xx_log_line_names_its_route_status_and_error_code(
    error: Exception, level: str, status: int, code: str
) -> None:
    # What the risk map groups the service's failures by (docs/operations.md).
    with failing(error), logged_lines() as logged:
        call("POST", f"{TASKS}", {"title": "t"})

    [line] = [line for line in logged if line["level"] == level]
    assert line["route"] == "POST /workspaces/{workspace_id}/tasks"
    assert (line["status"], line["error"]) == (status, code)


# -- the table itself ----------------------------------------------------------------------


def test_domain_errors_keep_their_own_codes_in_the_table() -> None:
    for error_type, rule in ERROR_TABLE.items():
        code = getattr(error_type, "code", None)
        if isinstance(code, str):
            assert rule.code == code, error_type


def test_unknown_exceptions_map_to_500() -> None:
    class Surprise(Exception):
        pass

    assert rule_for(Surprise()).status == 500
    assert rule_for(Surprise()).code == "internal_error"
