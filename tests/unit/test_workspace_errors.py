"""What a client reads when a workspace rule refuses a request: each error's code, message and
details, as the API's error body carries them (docs/api.md#errors)."""

from __future__ import annotations

from uuid import UUID

import pytest

from taskapi.domain.errors import (
    DomainError,
    LastOwner,
    MemberNotFound,
    NotPermitted,
    WorkspaceNotEmpty,
    WorkspaceNotFound,
    WorkspaceVersionConflict,
)
from taskapi.domain.workspaces import (
    GRANTS,
    Membership,
    Permission,
    Role,
    check_keeps_an_owner,
    check_permission,
)
from tests.fakes.builders import make_workspace

WS = UUID("3d6f0a52-1c8e-4b7a-9f21-6e5d4c3b2a10")


@pytest.mark.parametrize(
    ("error", "code", "message", "details"),
    [
        (
            WorkspaceNotFound(WS),
            "workspace_not_found",
            f"workspace {WS} does not exist",
            {"workspace_id": str(WS)},
        ),
        (
            NotPermitted("viewer", "write"),
            "not_permitted",
            "your role in this workspace (viewer) does not allow this (write)",
            {"role": "viewer", "needed": "write"},
        ),
        (
            MemberNotFound(WS, "cognito:bob"),
            "member_not_found",
            f"cognito:bob is not a member of workspace {WS}",
            {"workspace_id": str(WS), "member": "cognito:bob"},
        ),
        (
            LastOwner(WS),
            "workspace_needs_an_owner",
            f"workspace {WS} must keep at least one owner: make another member an owner first",
            {"workspace_id": str(WS)},
        ),
        (
            WorkspaceNotEmpty(WS),
            "workspace_not_empty",
            f"workspace {WS} still holds tasks: delete them first",
            {"workspace_id": str(WS)},
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, DomainError) else None,
)
def test_each_workspace_error_says_what_and_where(
    error: DomainError, code: str, message: str, details: dict[str, str]
) -> None:
    assert (error.code, error.message, str(error), error.details) == (
        code,
        message,
        message,
        details,
    )


def test_a_member_named_in_an_error_is_cut_to_100_characters() -> None:
    member = "cognito:" + "x" * 300
    error = MemberNotFound(WS, member)
    assert error.details["member"] == member[:100]
    assert error.message.startswith(member[:100] + " is not")


def test_a_workspace_version_conflict_names_both_versions_and_carries_the_current() -> None:
    current = make_workspace(workspace_id=WS, version=4)
    error = WorkspaceVersionConflict(current, 2)
    assert error.code == "version_conflict"
    assert error.message == f"workspace {WS} is at version 4, not 2; re-read it and retry"
    assert error.details == {"expected_version": 2, "current_version": 4}
    assert (error.current, error.expected_version) == (current, 2)


def test_what_each_role_may_do() -> None:
    assert {
        Role.OWNER: {Permission.READ, Permission.WRITE, Permission.MANAGE},
        Role.MEMBER: {Permission.READ, Permission.WRITE},
        Role.VIEWER: {Permission.READ},
    } == GRANTS
    workspace = make_workspace(workspace_id=WS)
    for role, granted in GRANTS.items():
        membership = Membership(
            workspace_id=WS, member="cognito:x", role=role, added_at=workspace.created_at
        )
        for permission in Permission:
            if permission in granted:
                assert check_permission(WS, membership, permission) == role
            else:
                with pytest.raises(NotPermitted) as refused:
                    check_permission(WS, membership, permission)
                assert refused.value.details == {"role": role.value, "needed": permission.value}
    with pytest.raises(WorkspaceNotFound) as unknown:
        check_permission(WS, None, Permission.READ)
    assert unknown.value.workspace_id == WS


def test_a_workspace_keeps_an_owner() -> None:
    check_keeps_an_owner(WS, ["cognito:a"])
    with pytest.raises(LastOwner) as refused:
        check_keeps_an_owner(WS, iter(()))
    assert refused.value.details == {"workspace_id": str(WS)}


@pytest.mark.parametrize(
    "member",
    ["cognito:abc", "iam:arn:aws:iam::123456789012:user/ops/bob", "cognito:" + "x" * 504],
)
def test_a_caller_identity_is_a_member(member: str) -> None:
    workspace = make_workspace()
    assert (
        Membership(
            workspace_id=WS, member=member, role=Role.VIEWER, added_at=workspace.created_at
        ).member
        == member
    )


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("bob", "cognito:<sub> or iam:<principal ARN>"),
        ("cognito:", "cognito:<sub> or iam:<principal ARN>"),
        ("cognito:a b", "cognito:<sub> or iam:<principal ARN>"),
        ("Cognito:abc", "cognito:<sub> or iam:<principal ARN>"),
        ("cognito:" + "x" * 505, "at most 512"),
    ],
)
def test_anything_else_is_refused_saying_what_a_member_is(member: str, why: str) -> None:
    workspace = make_workspace()
    with pytest.raises(ValueError, match=why.replace("<", ".").replace(">", ".")):
        Membership(workspace_id=WS, member=member, role=Role.VIEWER, added_at=workspace.created_at)


@pytest.mark.parametrize(
    ("name", "expected"), [("  Team  ", "Team"), ("x" * 100, "x" * 100), ("Équipe ✅", "Équipe ✅")]
)
def test_a_workspace_name_is_trimmed(name: str, expected: str) -> None:
    assert make_workspace(name=name).name == expected


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "at least 1"),
        ("   ", "at least 1|empty"),
        ("x" * 101, "at most 100"),
        ("a\u0000b", "control characters; found U\\+0000 at position 1"),
        ("tab\there", "found U\\+0009 at position 3"),
        ("\u009f", "found U\\+009F at position 0"),
    ],
)
def test_a_bad_workspace_name_is_refused_saying_why(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        make_workspace(name=name)


def test_a_workspace_etag_and_next_version() -> None:
    workspace = make_workspace(version=3)
    later = workspace.created_at.replace(year=2031)
    following = workspace.next_version(later, name="Renamed")
    assert workspace.etag == '"3"'
    assert (following.version, following.name, following.updated_at) == (4, "Renamed", later)
    assert following.created_at == workspace.created_at
