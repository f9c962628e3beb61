"""HTTP request -> API Gateway REST proxy event, and proxy response -> HTTP reply."""

from __future__ import annotations

import base64
from typing import Any

from taskapi.local.proxy import (
    HttpRequest,
    LocalLambdaContext,
    from_proxy_response,
    to_proxy_event,
)


def event_for(
    target: str = "/tasks",
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    return to_proxy_event(
        HttpRequest(method, target, headers or [], body, client_ip="10.1.2.3"), request_id="r-1"
    )


def test_the_event_has_the_rest_proxy_shape() -> None:
    event = event_for("/tasks/abc/dependents", method="get")

    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/tasks/abc/dependents"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "tasks/abc/dependents"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["requestId"] == "r-1"
    assert context["stage"] == "local"
    assert context["path"] == "/tasks/abc/dependents"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "10.1.2.3"


def test_the_root_path_has_no_path_parameters() -> None:
    assert event_for("/")["pathParameters"] is None


def test_no_query_string_gives_null_parameters() -> None:
    event = event_for("/tasks")

    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_repeated_query_keys_keep_every_value_and_the_last_as_single() -> None:
    event = event_for("/tasks?status=pending&limit=5&status=completed&empty=")

    assert event["queryStringParameters"] == {"status": "completed", "limit": "5", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "status": ["pending", "completed"],
        "limit": ["5"],
        "empty": [""],
    }


def test_query_values_are_percent_decoded_and_the_path_is_kept_as_sent() -> None:
    # As API Gateway's REST proxy events have them: the path still percent-encoded.
    event = event_for("/tasks/a%20b%2Fc?assignee=ana%40example.com&next_token=a%2Bb")

    assert event["path"] == "/tasks/a%20b%2Fc"
    assert event["queryStringParameters"] == {"assignee": "ana@example.com", "next_token": "a+b"}


def test_header_names_keep_their_first_spelling_and_repeats_are_grouped() -> None:
    event = event_for(
        headers=[
            ("Content-Type", "application/json"),
            ("X-Trace", "one"),
            ("x-trace", "two"),
            ("If-Match", '"1"'),
        ]
    )

    assert event["headers"] == {
        "Content-Type": "application/json",
        "X-Trace": "two",
        "If-Match": '"1"',
    }
    assert event["multiValueHeaders"] == {
        "Content-Type": ["application/json"],
        "X-Trace": ["one", "two"],
        "If-Match": ['"1"'],
    }


def test_no_headers_gives_null_maps() -> None:
    event = event_for(headers=[])

    assert event["headers"] is None
    assert event["multiValueHeaders"] is None


def test_a_utf8_body_is_passed_as_text() -> None:
    event = event_for(method="POST", body='{"title": "café"}'.encode())

    assert event["body"] == '{"title": "café"}'
    assert event["isBase64Encoded"] is False


def test_a_binary_body_is_passed_as_base64() -> None:
    raw = bytes(range(256))

    event = event_for(method="POST", body=raw)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_a_response_with_multi_value_headers_and_text_body() -> None:
    reply = from_proxy_response(
        {
            "statusCode": 201,
            "multiValueHeaders": {"ETag": ['"1"'], "Set-Cookie": ["a=1", "b=2"]},
            "headers": {"Location": "/tasks/x", "ETag": "ignored: multi wins"},
            "body": '{"ok":true}',
            "isBase64Encoded": False,
        }
    )

    assert reply.status == 201
    assert reply.headers == [
        ("ETag", '"1"'),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Location", "/tasks/x"),
    ]
    assert reply.header("etag") == '"1"'
    assert reply.json() == {"ok": True}


def test_a_base64_response_body_is_decoded_and_a_missing_body_is_empty() -> None:
    raw = b"\x00\xffbinary"

    binary = from_proxy_response(
        {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    )
    empty = from_proxy_response({"statusCode": 204, "body": None})

    assert binary.body == raw
    assert empty.body == b""
    assert empty.headers == []


def test_the_local_context_counts_down_from_the_gateway_timeout() -> None:
    context = LocalLambdaContext()

    remaining = context.get_remaining_time_in_millis()

    assert 28_000 < remaining <= 29_000
    assert context.aws_request_id != LocalLambdaContext().aws_request_id
