"""The OpenAPI document is a contract with every client, committed as ``schemas/openapi.json``.

These tests regenerate the document from the code and compare it with the committed file:

* a breaking change fails unless the API version (``version`` in pyproject.toml, which the
  document's ``info.version`` carries) moved to a new major version (a new minor before 1.0);
* any other difference fails until the file is re-exported with ``taskapi openapi export``.

The second half proves the checker catches what it must, on copies of the real document.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskapi.domain.schema_compat import ChangeKind
from taskapi.entrypoints.http.contract import (
    ApiChangeKind,
    ReviewStatus,
    compare_documents,
    compatibility_series,
    current_document,
    next_breaking_version,
    render_document,
    review,
)
from taskapi.local.cli import main
from taskapi.local.proxy import HttpRequest, invoke

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "openapi.json"

Document = dict[str, Any]
Mutation = Callable[[Document], object]

# The routes the mutations below change (a workspace's tasks, since 0.2.0).
TASKS = "/workspaces/{workspace_id}/tasks"
TASK = f"{TASKS}/{{task_id}}"


def committed_document() -> Document:
    document: Document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return document


# -- the committed file against the code ---------------------------------------------------


def test_the_code_makes_no_unpublished_or_breaking_change() -> None:
    verdict = review(committed_document(), current_document())

    assert verdict.ok, verdict.explain()


def test_the_committed_file_is_byte_identical_to_a_fresh_export() -> None:
    # Catches hand edits and formatting drift that compare equal as JSON.
    assert COMMITTED.read_text(encoding="utf-8") == render_document(current_document()), (
        "run `taskapi openapi export`"
    )


def test_the_document_carries_the_version_in_pyproject() -> None:
    # The installed package's metadata is what the API reads; it lags behind pyproject.toml
    # until the environment is synced, and then the gate would judge the wrong version.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert current_document()["info"]["version"] == project["version"], "run `make setup`"


def test_the_api_serves_the_committed_document() -> None:
    from taskapi.entrypoints import api  # noqa: PLC0415 - as the handler sees it

    reply = invoke(api.lambda_handler, HttpRequest("GET", "/openapi.json", [], b""))

    assert reply.status == 200
    assert reply.json() == committed_document()


# -- the checker catches what it must -------------------------------------------------------


def _mutated(mutate: Mutation) -> tuple[Document, Document]:
    published = current_document()
    candidate = copy.deepcopy(published)
    mutate(candidate)
    return published, candidate


def _schema(document: Document, name: str) -> Document:
    schema: Document = document["components"]["schemas"][name]
    return schema


def _operation(document: Document, path: str, method: str) -> Document:
    operation: Document = document["paths"][path][method]
    return operation


def _parameter(document: Document, path: str, method: str, name: str) -> Document:
    [parameter] = [p for p in _operation(document, path, method)["parameters"] if p["name"] == name]
    return parameter


BREAKING: dict[str, tuple[Mutation, ApiChangeKind | ChangeKind]] = {
    "path removed": (
        lambda d: d["paths"].pop(f"{TASK}/dependents"),
        ApiChangeKind.PATH_REMOVED,
    ),
    "operation removed": (
        lambda d: d["paths"][TASK].pop("delete"),
        ApiChangeKind.OPERATION_REMOVED,
    ),
    "response field removed": (
        lambda d: _schema(d, "Task")["properties"].pop("due_at"),
        ChangeKind.FIELD_REMOVED,
    ),
    "response field may now be absent": (
        lambda d: _schema(d, "Task")["required"].remove("version"),
        ChangeKind.FIELD_NO_LONGER_REQUIRED,
    ),
    "request type narrowed (no longer nullable)": (
        lambda d: _schema(d, "CreateTask")["properties"].update(
            description={"type": "string", "maxLength": 2000}
        ),
        ChangeKind.TYPE_CHANGED,
    ),
    "parameter type changed": (
        lambda d: _parameter(d, TASKS, "get", "limit")["schema"].update(type="string"),
        ChangeKind.TYPE_CHANGED,
    ),
    "new required request field": (
        lambda d: (
            _schema(d, "CreateTask")["properties"].update(owner={"type": "string"}),
            _schema(d, "CreateTask")["required"].append("owner"),
        ),
        ChangeKind.REQUIRED_FIELD_ADDED,
    ),
    "optional request field made required": (
        lambda d: _schema(d, "CreateTask")["required"].append("priority"),
        ChangeKind.FIELD_NOW_REQUIRED,
    ),
    "new required parameter": (
        lambda d: _operation(d, TASKS, "get")["parameters"].append(
            {"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
        ApiChangeKind.REQUIRED_PARAMETER_ADDED,
    ),
    "optional parameter made required": (
        lambda d: _parameter(d, TASKS, "get", "limit").update(required=True),
        ApiChangeKind.PARAMETER_NOW_REQUIRED,
    ),
    "parameter removed": (
        lambda d: _operation(d, TASKS, "get")["parameters"].remove(
            _parameter(d, TASKS, "get", "assignee")
        ),
        ApiChangeKind.PARAMETER_REMOVED,
    ),
    "enum value removed": (
        lambda d: _schema(d, "Priority")["enum"].remove("low"),
        ChangeKind.ENUM_VALUE_REMOVED,
    ),
    "documented status removed": (
        lambda d: _operation(d, TASK, "put")["responses"].pop("412"),
        ApiChangeKind.STATUS_REMOVED,
    ),
    "response header removed": (
        lambda d: _operation(d, TASK, "get")["responses"]["200"]["headers"].pop("ETag"),
        ApiChangeKind.HEADER_REMOVED,
    ),
    "response media type removed": (
        lambda d: _operation(d, "/health", "get")["responses"]["200"].pop("content"),
        ApiChangeKind.MEDIA_TYPE_REMOVED,
    ),
    "request body removed": (
        lambda d: _operation(d, TASKS, "post").pop("requestBody"),
        ApiChangeKind.REQUEST_BODY_REMOVED,
    ),
    "request constraint tightened": (
        lambda d: _schema(d, "CreateTask")["properties"]["title"].update(maxLength=100),
        ChangeKind.CONSTRAINT_CHANGED,
    ),
}

COMPATIBLE: dict[str, tuple[Mutation, ApiChangeKind | ChangeKind]] = {
    "path added": (
        lambda d: d["paths"].update({f"{TASK}/history": {"get": {"responses": {}}}}),
        ApiChangeKind.PATH_ADDED,
    ),
    "operation added": (
        lambda d: d["paths"]["/health"].update(post={"responses": {}}),
        ApiChangeKind.OPERATION_ADDED,
    ),
    "optional request field added": (
        lambda d: _schema(d, "CreateTask")["properties"].update(labels={"type": "array"}),
        ChangeKind.FIELD_ADDED,
    ),
    "required request field made optional": (
        lambda d: _schema(d, "CreateTask")["required"].remove("title"),
        ChangeKind.FIELD_NO_LONGER_REQUIRED,
    ),
    "new response field, always present": (
        lambda d: (
            _schema(d, "Health")["properties"].update(region={"type": "string"}),
            _schema(d, "Health")["required"].append("region"),
        ),
        ChangeKind.REQUIRED_FIELD_ADDED,
    ),
    "optional parameter added": (
        lambda d: _operation(d, TASKS, "get")["parameters"].append(
            {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}
        ),
        ApiChangeKind.PARAMETER_ADDED,
    ),
    "status added": (
        lambda d: _operation(d, "/health", "get")["responses"].update(
            {"429": {"description": "Slow down."}}
        ),
        ApiChangeKind.STATUS_ADDED,
    ),
    "enum value added": (
        lambda d: _schema(d, "Status")["enum"].append("blocked"),
        ChangeKind.ENUM_VALUE_ADDED,
    ),
    "description reworded": (
        lambda d: _parameter(d, TASKS, "get", "limit")["schema"].update(description="Size."),
        ChangeKind.ANNOTATION_CHANGED,
    ),
}


@pytest.mark.parametrize(("mutate", "kind"), BREAKING.values(), ids=BREAKING.keys())
def test_a_breaking_change_is_caught(mutate: Mutation, kind: ApiChangeKind | ChangeKind) -> None:
    published, candidate = _mutated(mutate)

    verdict = review(published, candidate)

    assert kind in {change.kind for change in verdict.breaking}, verdict.explain()
    assert verdict.status is ReviewStatus.BREAKING
    # The next breaking version after the published one (0.2.0 -> 0.3.0).
    bumped = next_breaking_version(published["info"]["version"])
    assert f"set `version` in pyproject.toml to {bumped}" in verdict.explain()


@pytest.mark.parametrize(("mutate", "kind"), COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_a_compatible_change_only_asks_for_a_re_export(
    mutate: Mutation, kind: ApiChangeKind | ChangeKind
) -> None:
    published, candidate = _mutated(mutate)

    changes = compare_documents(published, candidate)

    assert kind in {change.kind for change in changes}
    assert [change for change in changes if change.breaking] == []
    verdict = review(published, candidate)
    assert verdict.status is ReviewStatus.COMPATIBLE
    assert "taskapi openapi export" in verdict.explain()
    assert "pyproject.toml" not in verdict.explain()


def test_a_change_is_located_by_operation_status_and_field() -> None:
    published, candidate = _mutated(lambda d: _schema(d, "Task")["properties"].pop("assignee"))

    where = {str(c) for c in compare_documents(published, candidate)}

    assert (
        f"[breaking] GET {TASK} response 200 (application/json) field assignee: "
        "field removed (no longer published)"
    ) in where
    assert any(
        f"GET {TASKS} response 200 (application/json) field tasks[].assignee" in w for w in where
    )


def _with_version(version: str, mutate: Mutation) -> Mutation:
    def change(document: Document) -> None:
        mutate(document)
        document["info"]["version"] = version

    return change


def _remove_a_status(document: Document) -> None:
    _operation(document, TASK, "put")["responses"].pop("412")


@pytest.mark.parametrize(
    ("old", "new", "status"),
    [
        ("0.1.0", "0.2.0", ReviewStatus.BUMPED),  # before 1.0 the minor version is the major
        ("0.1.0", "1.0.0", ReviewStatus.BUMPED),
        ("0.1.0", "0.1.1", ReviewStatus.BREAKING),
        ("1.4.2", "2.0.0", ReviewStatus.BUMPED),
        ("1.4.2", "1.5.0", ReviewStatus.BREAKING),
        ("1.4.2", "1.4.3", ReviewStatus.BREAKING),
        ("2.0.0", "1.9.0", ReviewStatus.BREAKING),
        ("1.4.2", "next", ReviewStatus.BREAKING),  # not a version: cannot be judged newer
    ],
)
def test_a_breaking_change_needs_the_next_major_version(
    old: str, new: str, status: ReviewStatus
) -> None:
    published, candidate = _mutated(_with_version(new, _remove_a_status))
    published["info"]["version"] = old

    verdict = review(published, candidate)

    assert verdict.status is status
    assert ("pyproject.toml" in verdict.explain()) is (status is ReviewStatus.BREAKING)


def test_a_version_bump_alone_is_compatible_and_asks_for_a_re_export() -> None:
    published, candidate = _mutated(_with_version("0.1.1", lambda _d: None))

    verdict = review(published, candidate)

    assert verdict.status is ReviewStatus.COMPATIBLE
    assert verdict.changes == ()


@pytest.mark.parametrize(
    ("version", "series", "next_version"),
    [
        ("0.1.0", (0, 1), "0.2.0"),
        ("0.9.3rc1", (0, 9), "0.10.0"),
        ("1.0.0", (1, 0), "2.0.0"),
        ("3.12.1", (3, 0), "4.0.0"),
        ("latest", None, "0.1.0"),
    ],
)
def test_the_compatibility_series_of_a_version(
    version: str, series: tuple[int, int] | None, next_version: str
) -> None:
    assert compatibility_series(version) == series
    assert next_breaking_version(version) == next_version


def test_no_committed_document_is_new_and_not_ok() -> None:
    verdict = review(None, current_document())

    assert verdict.status is ReviewStatus.NEW
    assert not verdict.ok


# -- taskapi openapi export [--check] ----------------------------------------------------------


def test_export_writes_the_document_and_check_passes_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "openapi.json"

    assert main(["openapi", "export", "--out", str(out)]) == 0
    assert main(["openapi", "export", "--out", str(out)]) == 0
    assert main(["openapi", "export", "--check", "--out", str(out)]) == 0

    assert out.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [f"{out}: written", f"{out}: unchanged"]
    assert printed[2].startswith("OpenAPI document: up to date")


def test_check_fails_on_a_breaking_change_and_explains_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The committed document promised a field the code no longer has: as if it had been removed.
    promised = committed_document()
    _schema(promised, "Health")["properties"]["uptime"] = {"type": "integer"}
    out = tmp_path / "openapi.json"
    out.write_text(render_document(promised), encoding="utf-8")

    assert main(["openapi", "export", "--check", "--out", str(out)]) == 1

    printed = capsys.readouterr().out
    assert "breaking change without a new version" in printed
    assert "GET /health response 200 (application/json) field uptime: field removed" in printed
    assert out.read_text(encoding="utf-8") == render_document(promised)  # --check writes nothing


def test_check_fails_on_a_file_that_differs_only_in_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "openapi.json"
    out.write_text(json.dumps(committed_document()), encoding="utf-8")  # same JSON, one line

    assert main(["openapi", "export", "--check", "--out", str(out)]) == 1
    assert "in form only" in capsys.readouterr().out


def test_check_fails_without_a_committed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi", "export", "--check", "--out", str(tmp_path / "none.json")]) == 1
    assert "no committed document" in capsys.readouterr().out
