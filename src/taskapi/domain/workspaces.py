"""Workspaces: who may see and change which tasks. Pure: standard library and Pydantic only.

Every task belongs to one workspace; a caller acts on a workspace through the role their
membership gives them. A workspace always keeps at least one owner. See docs/api.md#workspaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import Enum, StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from taskapi.domain.errors import LastOwner, NotPermitted, WorkspaceNotFound
from taskapi.domain.model import UtcDateTime
from taskapi.domain.text import LINE_CONTROLS, NoControlCharacters

MAX_WORKSPACE_NAME_LENGTH = 100
MAX_MEMBER_LENGTH = 512


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"


class Permission(Enum):
    READ = "read"  # the workspace, its members and its tasks
    WRITE = "write"  # its tasks
    MANAGE = "manage"  # the workspace itself and its members


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.READ, Permission.WRITE}),
    Role.VIEWER: frozenset({Permission.READ}),
}

# A member is named by the identity API Gateway's authorizer established: ``cognito:<sub>``
# (Cognito mode) or ``iam:<principal ARN>`` (IAM mode). Printable ASCII, no spaces.
MEMBER_PATTERN = r"^(cognito|iam):[\x21-\x7e]+$"
_MEMBER = re.compile(MEMBER_PATTERN)


def _member_text(value: object) -> object:
    if isinstance(value, str) and not _MEMBER.fullmatch(value):
        raise ValueError(
            "must be a caller identity: cognito:<sub> or iam:<principal ARN>, printable ASCII "
            "without spaces"
        )
    return value


MemberId = Annotated[
    str,
    BeforeValidator(_member_text),
    StringConstraints(max_length=MAX_MEMBER_LENGTH),
    Field(json_schema_extra={"pattern": MEMBER_PATTERN}),
]


def _not_blank(value: str) -> str:
    # With a before-validator beside them, the constraints check min_length before the strip:
    # a name of non-ASCII spaces (U+00A0) would be stored empty, a workspace that no one
    # could read back (every read validates the name again).
    if not value:
        raise ValueError("must not be empty")
    return value


WorkspaceName = Annotated[
    str,
    BeforeValidator(NoControlCharacters(LINE_CONTROLS)),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORKSPACE_NAME_LENGTH),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"pattern": f"^[^{LINE_CONTROLS}]*$"}),
]


class Workspace(BaseModel):
    """A workspace: a set of tasks and the people who may see and change them. Its version
    increases by one on every write to it, a rename or a change of its members."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: UUID = Field(description="Identifier assigned by the service.")
    name: WorkspaceName = Field(description="Display name; surrounding whitespace is trimmed.")
    created_at: UtcDateTime = Field(description="When the workspace was created (UTC).")
    updated_at: UtcDateTime = Field(description="When the workspace was last written (UTC).")
    version: int = Field(
        ge=1, description="Increases by one on every write; the optimistic-concurrency token."
    )

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def next_version(self, now: datetime, **changes: object) -> Workspace:
        """The workspace after one more write at ``now``."""
        return self.model_copy(update={**changes, "updated_at": now, "version": self.version + 1})


class Membership(BaseModel):
    """One member of a workspace and their role in it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_id: UUID = Field(description="The workspace.")
    member: MemberId = Field(description="The member's caller identity.")
    role: Role = Field(description="owner: everything; member: read and write tasks; viewer: read.")
    added_at: UtcDateTime = Field(description="When the member was added (UTC).")


def check_permission(workspace_id: UUID, membership: Membership | None, needed: Permission) -> Role:
    """The caller's role (their ``membership``'s) if it grants ``needed``. A caller who is
    not a member learns nothing, not even that the workspace exists (``WorkspaceNotFound``);
    a member without the permission is told so (``NotPermitted``)."""
    if membership is None:
        raise WorkspaceNotFound(workspace_id)
    if needed not in GRANTS[membership.role]:
        raise NotPermitted(membership.role, needed.value)
    return membership.role


def check_keeps_an_owner(workspace_id: UUID, owners_after: Iterable[str]) -> None:
    """A workspace never loses its last owner."""
    if not any(True for _ in owners_after):
        raise LastOwner(workspace_id)
