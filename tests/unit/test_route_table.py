"""The route table: which rule takes a request, whether it takes a body, and the label its
log line and metric carry; a request asks twice, so the last answer is kept, and it must
never be an answer to another request."""

from __future__ import annotations

from taskapi.entrypoints.http.route_table import UNMATCHED, RouteTable


def _table() -> RouteTable:
    table = RouteTable()
    table.add("/workspaces", ["GET", "post"])
    table.add("/workspaces/<workspace_id>/tasks/<task_id>", ["GET", "PATCH", "DELETE"])
    return table


def test_a_route_with_a_body_method_takes_a_body_and_nothing_else_does() -> None:
    table = _table()

    assert table.takes_body("POST", "/workspaces")
    assert table.takes_body("patch", "/workspaces/w/tasks/t")
    assert not table.takes_body("GET", "/workspaces")
    assert not table.takes_body("POST", "/workspaces/w/tasks/t")  # a 405
    assert not table.takes_body("POST", "/nowhere")  # a 404


def test_each_request_gets_its_own_answer_whatever_was_asked_before() -> None:
    table = _table()
    asked = [
        ("GET", "/workspaces/a/tasks/1", "GET /workspaces/{workspace_id}/tasks/{task_id}"),
        ("GET", "/workspaces/a/tasks/1", "GET /workspaces/{workspace_id}/tasks/{task_id}"),
        ("POST", "/workspaces/a/tasks/1", UNMATCHED),
        ("HEAD", "/workspaces", "HEAD /workspaces"),
        ("GET", "/workspaces/a/tasks", UNMATCHED),
        ("DELETE", "/workspaces/b/tasks/2", "DELETE /workspaces/{workspace_id}/tasks/{task_id}"),
        ("POST", "/workspaces", "POST /workspaces"),
    ]

    assert [table.label(method, path) for method, path, _ in asked] == [
        label for _, _, label in asked
    ]
    assert table.rule_taking("HEAD", "/workspaces") == "/workspaces"


def test_a_route_added_after_a_miss_is_found() -> None:
    table = _table()
    assert table.rule_taking("GET", "/health") is None

    table.add("/health", ["GET"])

    assert table.rule_taking("GET", "/health") == "/health"
    assert table.allowed_methods("/health") == ("GET", "HEAD")
