"""Hostile and sloppy input: every bad request is a 4xx with the ``{error, message, details}``
body, changes nothing, and is never a 500 (docs/api.md#errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.local.proxy import HttpReply
from tests.fakes.page_tokens import signed_token
from tests.fakes.service import PAGE_TOKEN_SECRET, ServiceHarness, build_service
from tests.unit.api_helpers import JSON, TASKS, call, create, installed

MISSING = "00000000-0000-4000-8000-000000000999"


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


def validation_problems(reply: HttpReply) -> dict[str, str]:
    """The ``{field: message}`` of a 400 ``validation_error``."""
    assert reply.status == 400, reply.body
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    assert body["message"]
    return {problem["field"]: problem["message"] for problem in body["details"]}


# -- control characters in text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "a\x00b"}, "body.title"),
        ({"title": "two\nlines"}, "body.title"),
        ({"title": "tab\there"}, "body.title"),
        ({"title": "bell\x07"}, "body.title"),
        ({"title": "t", "description": "NUL\x00inside"}, "body.description"),
        ({"title": "t", "description": "escape \x1b[31m red"}, "body.description"),
        ({"title": "t", "description": "delete\x7f"}, "body.description"),
        ({"title": "t", "description": "C1 next line\x85"}, "body.description"),
    ],
)
def test_control_characters_in_text_are_refused(
    harness: ServiceHarness, fields: dict[str, Any], field: str
) -> None:
    problems = validation_problems(call("POST", f"{TASKS}", fields))

    assert "control character" in problems[field]
    assert harness.stored_tasks() == {}


def test_an_update_with_a_control_character_changes_nothing(harness: ServiceHarness) -> None:
    task = create(title="clean")

    problems = validation_problems(
        call("PUT", f"{TASKS}/{task['task_id']}", {"title": "dirty\x00", "version": 1})
    )

    assert "control character" in problems["body.title"]
    assert call("GET", f"{TASKS}/{task['task_id']}").json() == task


def test_a_description_keeps_tabs_and_line_breaks(harness: ServiceHarness) -> None:
    text = "Steps:\r\n\t1. measure\n\t2. cut"

    task = create(description=text)

    assert task["description"] == text


# -- JSON the decoder would choke on ---------------------------------------------------------

HUGE = "9" * 5000  # past Python's 4300-digit limit for int("...")


@pytest.mark.parametrize(
    "raw",
    [
        f'{{"title": "t", "extra": {HUGE}}}',
        f'{{"title": {HUGE}}}',
        f'{{"title": "t", "dependencies": [[{{"deep": -{HUGE}}}]]}}',
    ],
)
def test_an_integer_of_thousands_of_digits_in_a_create_is_a_400(
    harness: ServiceHarness, raw: str
) -> None:
    problems = validation_problems(call("POST", f"{TASKS}", raw.encode(), [JSON]))

    assert "integer" in problems["body"]
    assert harness.stored_tasks() == {}


def test_a_version_of_thousands_of_digits_is_a_400(harness: ServiceHarness) -> None:
    task = create()

    reply = call("PUT", f"{TASKS}/{task['task_id']}", f'{{"version": {HUGE}}}'.encode(), [JSON])

    assert "integer" in validation_problems(reply)["body"]
    assert call("GET", f"{TASKS}/{task['task_id']}").json() == task


def test_a_limit_of_thousands_of_digits_is_a_400(harness: ServiceHarness) -> None:
    assert "query.limit" in validation_problems(call("GET", f"{TASKS}?limit={HUGE}"))


def test_a_version_beyond_64_bits_is_a_400(harness: ServiceHarness) -> None:
    task = create()

    reply = call("PUT", f"{TASKS}/{task['task_id']}", {"title": "x", "version": 2**63})

    assert "body.version" in validation_problems(reply)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"title": "a", "title": "b"}', "title"),
        ('{"title": "t", "description": "x", "description": null}', "description"),
        ('{"title": "t", "owner": {"id": 1, "id": 2}}', "id"),
    ],
)
def test_a_repeated_key_is_a_400_naming_it(harness: ServiceHarness, raw: str, key: str) -> None:
    problems = validation_problems(call("POST", f"{TASKS}", raw.encode(), [JSON]))

    assert f'duplicate key "{key}"' in problems["body"]
    assert harness.stored_tasks() == {}


def test_a_repeated_key_in_an_update_changes_nothing(harness: ServiceHarness) -> None:
    task = create()
    raw = b'{"version": 1, "status": "completed", "status": "in_progress"}'

    problems = validation_problems(call("PUT", f"{TASKS}/{task['task_id']}", raw, [JSON]))

    assert 'duplicate key "status"' in problems["body"]
    assert call("GET", f"{TASKS}/{task['task_id']}").json() == task


# -- due_at: an RFC 3339 date-time, with its offset ------------------------------------------


@pytest.mark.parametrize(
    ("due_at", "words"),
    [
        ("1700000000", "date-time"),  # epoch seconds in a string
        ("1700000000.5", "date-time"),
        ("2030-05-01", "date-time"),  # a date is not a deadline
        ("2030-05-01T17:00:00", "no UTC offset"),
        ("2030-05-01T17:00:00.250", "no UTC offset"),
        ("2030-05-01 17:00:00Z", "date-time"),
        ("2030-05-01T17:00Z", "date-time"),
        ("20300501T170000Z", "date-time"),
    ],
)
def test_a_due_at_that_is_not_an_rfc_3339_date_time_is_refused(
    harness: ServiceHarness, due_at: str, words: str
) -> None:
    problems = validation_problems(call("POST", f"{TASKS}", {"title": "t", "due_at": due_at}))

    assert words in problems["body.due_at"]
    assert harness.stored_tasks() == {}


def test_an_update_to_a_naive_due_at_changes_nothing(harness: ServiceHarness) -> None:
    task = create(due_at="2030-05-01T17:00:00Z")

    reply = call("PUT", f"{TASKS}/{task['task_id']}", {"due_at": "2031-01-01T09:00", "version": 1})

    assert "body.due_at" in validation_problems(reply)
    assert call("GET", f"{TASKS}/{task['task_id']}").json() == task


@pytest.mark.parametrize(
    ("due_at", "stored"),
    [
        ("2030-05-01T19:00:00+02:00", "2030-05-01T17:00:00Z"),
        ("2030-05-01t17:00:00z", "2030-05-01T17:00:00Z"),
        ("2030-05-01T17:00:00.5-00:00", "2030-05-01T17:00:00.500000Z"),
    ],
)
def test_an_rfc_3339_due_at_is_stored_in_utc(
    harness: ServiceHarness, due_at: str, stored: str
) -> None:
    assert create(due_at=due_at)["due_at"] == stored


# -- page tokens: signed, yet not what this release issues ------------------------------------

NO_FILTER = {"assignee": None, "priority": None, "status": None}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"f": NO_FILTER, "p": None},
        {"f": NO_FILTER, "p": {"created_at": 5, "task_id": "x"}},
        {"f": NO_FILTER, "p": {"created_at": "2025-01-01T00:00:00+00:00", "task_id": "nope"}},
        {"f": NO_FILTER, "p": {"created_at": "0001-01-01T00:00:00+05:00", "task_id": MISSING}},
        {"f": NO_FILTER, "p": {"task_id": MISSING}},
    ],
)
def test_a_signed_page_token_of_another_shape_is_a_400(
    harness: ServiceHarness, payload: object
) -> None:
    token = signed_token(json.dumps(payload).encode(), PAGE_TOKEN_SECRET)

    reply = call("GET", f"{TASKS}?next_token={token}")

    assert reply.status == 400, reply.body
    assert reply.json()["error"] == "invalid_next_token"


# -- the assignee filter: an address, normalised as the stored one is --------------------------


def test_the_assignee_filter_finds_the_address_however_its_domain_is_cased(
    harness: ServiceHarness,
) -> None:
    task = create(assignee="Ana@Example.COM")
    create(assignee="bo@example.com")

    for spelling in ("Ana@Example.COM", "Ana@example.com", "Ana@EXAMPLE.com"):
        listed = call("GET", f"{TASKS}?assignee={spelling}").json()["tasks"]
        assert [t["task_id"] for t in listed] == [task["task_id"]], spelling


@pytest.mark.parametrize(
    "assignee",
    ["not-an-email", "ana@", "ana@example.test", "a b@example.com", "Mallory <ana@example.com>"],
)
def test_an_assignee_filter_that_is_not_an_address_is_a_400(
    harness: ServiceHarness, assignee: str
) -> None:
    assert "query.assignee" in validation_problems(call("GET", f"{TASKS}?assignee={assignee}"))


# -- ids: a UUID in its 8-4-4-4-12 spelling, or a 400 (never a 404 "no route") ---------------

TASK_ID = "0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21"
NOT_CANONICAL = {
    "NUL": "%00",
    "NUL inside": "0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f%008e21",
    "zero-width space": "%E2%80%8B",
    "trailing zero-width space": f"{TASK_ID}%E2%80%8B",
    "U+2010 hyphen": TASK_ID.replace("-", "%E2%80%90"),
    "U+2011 non-breaking hyphen": TASK_ID.replace("-", "%E2%80%91"),
    "U+2212 minus sign": TASK_ID.replace("-", "%E2%88%92"),
    "no hyphens": TASK_ID.replace("-", ""),
    "braces": f"%7B{TASK_ID}%7D",
    "urn": f"urn:uuid:{TASK_ID}",
    "padded": f"%20{TASK_ID}",
    "fullwidth digits": "%EF%BC%90" + TASK_ID[1:],
}


@pytest.mark.parametrize("spelling", NOT_CANONICAL.values(), ids=NOT_CANONICAL.keys())
@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", TASKS + "/{}", None),
        ("GET", TASKS + "/{}/dependents", None),
        ("PUT", TASKS + "/{}", {"title": "t", "version": 1}),
        ("DELETE", TASKS + "/{}", None),
    ],
)
def test_an_id_not_spelled_as_a_uuid_is_a_400_on_every_route(
    harness: ServiceHarness, method: str, template: str, body: object, spelling: str
) -> None:
    reply = call(method, template.format(spelling), body)

    assert "uuid" in validation_problems(reply)["path.task_id"].lower()


def test_an_upper_case_id_names_the_same_task(harness: ServiceHarness) -> None:
    task = create()

    reply = call("GET", f"{TASKS}/{task['task_id'].upper()}")

    assert reply.status == 200
    assert reply.json() == task


def test_a_dependency_not_spelled_as_a_uuid_is_a_400(harness: ServiceHarness) -> None:
    dependency = create()["task_id"]

    for spelling in (dependency.replace("-", ""), f"{{{dependency}}}", f"urn:uuid:{dependency}"):
        reply = call("POST", f"{TASKS}", {"title": "t", "dependencies": [spelling]})
        assert "uuid" in validation_problems(reply)["body.dependencies.0"].lower()
    upper = create(dependencies=[dependency.upper()])
    assert upper["dependencies"] == [dependency]


# -- validation messages in plain words -------------------------------------------------------


def test_validation_messages_are_plain_words(harness: ServiceHarness) -> None:
    deps = [f"00000000-0000-4000-8000-{n:012d}" for n in range(101)]
    cases: list[tuple[str, str, object, str, str]] = [
        ("POST", f"{TASKS}", {"title": "t", "dependencies": deps}, "body.dependencies",
         "at most 100 dependencies, not 101"),
        ("POST", f"{TASKS}", {}, "body.title", "required"),
        ("POST", f"{TASKS}", {"title": "t", "owner": "me"}, "body.owner",
         "unknown field: not part of this request"),
        ("POST", f"{TASKS}", {"title": ""}, "body.title", "must not be empty"),
        ("POST", f"{TASKS}", {"title": "x" * 201}, "body.title", "at most 200 characters"),
        ("POST", f"{TASKS}", {"title": 5}, "body.title", "must be a valid string"),
        ("POST", f"{TASKS}", {"title": "t", "dependencies": [deps[0], deps[0]]},
         "body.dependencies", f"dependencies must be unique; repeated: {deps[0]}"),
        ("PUT", f"{TASKS}/{MISSING}", {"title": None, "version": 1}, "body",
         "these fields cannot be null: title"),
        ("PUT", f"{TASKS}/{MISSING}", {"version": 0}, "body.version", "must be at least 1"),
        ("GET", f"{TASKS}?limit=101", None, "query.limit", "must be at most 100"),
        ("GET", f"{TASKS}?next_token=a.b", None, "query.next_token",
         "must hold letters, digits, '-' and '_' only"),
    ]  # fmt: skip
    for method, target, body, field, message in cases:
        problems = validation_problems(call(method, target, body))

        assert problems[field] == message, (field, problems)


def test_a_malformed_idempotency_key_is_said_in_words(harness: ServiceHarness) -> None:
    reply = call("POST", TASKS, {"title": "t"}, [("Idempotency-Key", "a b")])

    assert validation_problems(reply) == {
        "header.idempotency-key": "must be visible ASCII characters only, without spaces"
    }
    assert harness.stored_tasks() == {}


def test_an_idempotency_key_sent_twice_is_a_400_that_says_so(harness: ServiceHarness) -> None:
    keys = [("Idempotency-Key", "k1"), ("Idempotency-Key", "k2")]

    reply = call("POST", TASKS, {"title": "t"}, keys)

    assert validation_problems(reply) == {
        "header.idempotency-key": "sent 2 times: send this header once"
    }
    assert harness.stored_tasks() == {}
    # A header the route does not read may come on several lines.
    accepts = [("Accept", "application/json"), ("Accept", "text/plain")]
    assert call("POST", TASKS, {"title": "t"}, accepts).status == 201
