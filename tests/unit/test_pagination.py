"""Page tokens: opaque, tamper-evident and bound to the filters they were issued for."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from uuid import UUID

import pytest

from taskapi.domain.errors import InvalidPageToken
from taskapi.domain.model import Priority, Status
from taskapi.service.pagination import (
    DependentsOf,
    MembersOf,
    PageTokenCodec,
    SigningKeys,
    TasksIn,
    WorkspacesOf,
)
from taskapi.service.ports import Position, TaskFilter
from tests.fakes.page_tokens import signed_token

POSITION: Position = {
    "created_at": "2025-01-15T09:30:00+00:00",
    "task_id": "00000000-0000-0000-0000-000000000007",
}
WORKSPACE = UUID("5a5a5a5a-0000-4000-8000-000000000001")
OTHER_WORKSPACE = UUID("5a5a5a5a-0000-4000-8000-000000000002")
FILTER = TasksIn(
    WORKSPACE,
    TaskFilter(status=Status.PENDING, priority=Priority.HIGH, assignee="ana@example.com"),
)
EVERYTHING = TasksIn(WORKSPACE, TaskFilter())


SECRET = b"a-secret-for-tests"
FINGERPRINT = {
    "listing": "TasksIn",
    "workspace_id": str(WORKSPACE),
    "status": "pending",
    "priority": "high",
    "assignee": "ana@example.com",
}


@pytest.fixture
def codec() -> PageTokenCodec:
    return PageTokenCodec(SECRET)


def signed(payload: bytes) -> str:
    return signed_token(payload, SECRET)


def flip_one_character(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_a_token_round_trips_to_the_position(codec: PageTokenCodec) -> None:
    token = codec.encode(POSITION, FILTER)
    assert codec.decode(token, FILTER) == POSITION
    assert codec.decode(codec.encode(POSITION, EVERYTHING), EVERYTHING) == POSITION


def test_a_token_is_url_safe_and_does_not_show_the_position(codec: PageTokenCodec) -> None:
    token = codec.encode(POSITION, FILTER)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "created_at" not in token


@pytest.mark.parametrize("where", ["signature", "payload", "last"])
def test_a_tampered_token_is_invalid(codec: PageTokenCodec, where: str) -> None:
    token = codec.encode(POSITION, FILTER)
    index = {"signature": 3, "payload": len(token) // 2, "last": len(token) - 2}[where]
    with pytest.raises(InvalidPageToken, match="not a token issued by this API"):
        codec.decode(flip_one_character(token, index), FILTER)


def test_a_re_signed_payload_with_another_secret_is_invalid(codec: PageTokenCodec) -> None:
    forged = PageTokenCodec(b"the attacker's secret").encode({"created_at": "x"}, FILTER)
    with pytest.raises(InvalidPageToken):
        codec.decode(forged, FILTER)


@pytest.mark.parametrize(
    "other",
    [
        TaskFilter(),
        TaskFilter(status=Status.COMPLETED, priority=Priority.HIGH, assignee="ana@example.com"),
        TaskFilter(status=Status.PENDING, priority=Priority.HIGH, assignee="bo@example.com"),
    ],
    ids=["no-filter", "other-status", "other-assignee"],
)
def test_a_token_from_other_filters_is_invalid(codec: PageTokenCodec, other: TaskFilter) -> None:
    token = codec.encode(POSITION, FILTER)
    with pytest.raises(InvalidPageToken, match="different filters"):
        codec.decode(token, TasksIn(WORKSPACE, other))


@pytest.mark.parametrize(
    "listing",
    [
        FILTER,
        DependentsOf(WORKSPACE, UUID(int=3)),
        MembersOf(WORKSPACE),
    ],
    ids=["tasks", "dependents", "members"],
)
def test_a_token_from_another_workspace_is_invalid(
    codec: PageTokenCodec, listing: TasksIn | DependentsOf | MembersOf
) -> None:
    token = codec.encode(POSITION, listing)
    elsewhere = replace(listing, workspace_id=OTHER_WORKSPACE)
    with pytest.raises(InvalidPageToken, match="another workspace"):
        codec.decode(token, elsewhere)
    assert codec.decode(token, listing) == POSITION


def test_a_workspaces_token_is_bound_to_its_caller(codec: PageTokenCodec) -> None:
    position: Position = {"added_at": "2025-01-15T09:30:00+00:00", "workspace_id": str(WORKSPACE)}
    token = codec.encode(position, WorkspacesOf("cognito:alice"))
    assert codec.decode(token, WorkspacesOf("cognito:alice")) == position
    with pytest.raises(InvalidPageToken, match="another caller"):
        codec.decode(token, WorkspacesOf("cognito:bob"))
    with pytest.raises(InvalidPageToken, match="another listing"):
        codec.decode(token, MembersOf(WORKSPACE))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "not a token",
        "%%%%",
        "ünïcödé",
        base64.urlsafe_b64encode(b"too short").decode(),
        base64.urlsafe_b64encode(b"\x00" * 64).decode(),
    ],
)
def test_garbage_is_invalid(codec: PageTokenCodec, garbage: str) -> None:
    with pytest.raises(InvalidPageToken):
        codec.decode(garbage, FILTER)


def test_an_overlong_token_is_refused_before_any_decoding(codec: PageTokenCodec) -> None:
    with pytest.raises(InvalidPageToken, match="too long"):
        codec.decode("A" * 4096, FILTER)


def test_the_invalid_token_error_points_at_the_parameter(codec: PageTokenCodec) -> None:
    with pytest.raises(InvalidPageToken) as raised:
        codec.decode("garbage", FILTER)
    assert raised.value.details == {"parameter": "next_token"}


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        PageTokenCodec(b"")


def test_a_rotated_key_keeps_tokens_in_flight_valid_for_one_rotation() -> None:
    keys = [SigningKeys(b"key-a")]
    codec = PageTokenCodec(lambda: keys[-1])
    token = codec.encode(POSITION, FILTER)

    keys.append(SigningKeys(b"key-b", previous=(b"key-a",)))  # rotated once
    assert codec.decode(token, FILTER) == POSITION
    new_token = codec.encode(POSITION, FILTER)
    assert new_token != token  # signed with the new key

    keys.append(SigningKeys(b"key-c", previous=(b"key-b",)))  # rotated again: A retired
    with pytest.raises(InvalidPageToken):
        codec.decode(token, FILTER)
    assert codec.decode(new_token, FILTER) == POSITION


def test_an_empty_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        SigningKeys(b"")
    assert SigningKeys(b"k", previous=(b"",)).accepted == (b"k",)


def test_the_helper_signs_as_the_codec_does(codec: PageTokenCodec) -> None:
    payload = json.dumps({"f": FINGERPRINT, "p": POSITION}, separators=(",", ":"), sort_keys=True)
    assert signed(payload.encode()) == codec.encode(POSITION, FILTER)


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"null",
        b"5",
        b'"p"',
        b"not json",
        b"\xff\xfe\x00",
        b"{}",
        json.dumps({"f": FINGERPRINT}).encode(),  # no position
        json.dumps({"f": FINGERPRINT, "p": []}).encode(),
        json.dumps({"f": FINGERPRINT, "p": "2025-01-15"}).encode(),
        json.dumps({"f": [FINGERPRINT], "p": POSITION}).encode(),
        json.dumps({"f": FINGERPRINT, "p": POSITION, "extra": 1}).encode(),
    ],
    ids=lambda payload: payload.decode("utf-8", "replace")[:30],
)
def test_a_signed_token_of_any_other_shape_is_invalid(
    codec: PageTokenCodec, payload: bytes
) -> None:
    with pytest.raises(InvalidPageToken):
        codec.decode(signed(payload), FILTER)


def test_a_dependents_token_is_bound_to_its_task_and_to_that_kind_of_listing(
    codec: PageTokenCodec,
) -> None:
    of_a, of_b = DependentsOf(WORKSPACE, UUID(int=1)), DependentsOf(WORKSPACE, UUID(int=2))
    position: Position = {"dependent_id": str(UUID(int=7))}
    token = codec.encode(position, of_a)

    assert codec.decode(token, of_a) == position
    with pytest.raises(InvalidPageToken, match="the dependents of another task"):
        codec.decode(token, of_b)
    with pytest.raises(InvalidPageToken, match="another listing"):
        codec.decode(token, EVERYTHING)
    with pytest.raises(InvalidPageToken, match="another listing"):
        codec.decode(codec.encode(POSITION, EVERYTHING), of_a)
