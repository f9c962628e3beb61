"""The workspace service: workspaces and their members, over the ports. No AWS, no SQL.

Who may do what is ``domain.workspaces``: viewers read, members also write tasks, owners also
manage the workspace and its members; a non-member learns nothing (``WorkspaceNotFound``).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from taskapi.domain.errors import MemberNotFound, WorkspaceNotFound, WorkspaceVersionConflict
from taskapi.domain.workspaces import (
    Membership,
    Permission,
    Role,
    Workspace,
    check_keeps_an_owner,
    check_permission,
)
from taskapi.service.commands import CreateWorkspace, ListPage, UpdateWorkspace
from taskapi.service.pagination import MembersOf, PageTokenCodec, WorkspacesOf
from taskapi.service.ports import (
    Clock,
    IdSource,
    UnitOfWork,
    UnitOfWorkFactory,
    WorkspaceRole,
)


@dataclass(frozen=True, slots=True)
class WorkspacePage:
    workspaces: list[WorkspaceRole]
    limit: int
    next_token: str | None


@dataclass(frozen=True, slots=True)
class MemberPage:
    members: list[Membership]
    limit: int
    next_token: str | None


@dataclass(frozen=True, slots=True)
class MemberChange:
    membership: Membership
    added: bool  # True: a new member; False: an existing member's role was set


class WorkspaceService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        new_id: IdSource,
        page_tokens: PageTokenCodec,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._new_id = new_id
        self._page_tokens = page_tokens

    # -- queries ------------------------------------------------------------------------

    def get(self, caller: str, workspace_id: UUID) -> WorkspaceRole:
        with self._uow_factory() as uow:
            workspace, role = _authorize(uow, caller, workspace_id, Permission.READ)
        return WorkspaceRole(workspace, role)

    def list_mine(self, caller: str, query: ListPage) -> WorkspacePage:
        listing = WorkspacesOf(caller)
        after = (
            None
            if query.next_token is None
            else self._page_tokens.decode(query.next_token, listing)
        )
        with self._uow_factory() as uow:
            found = uow.workspaces.of_member(caller, query.limit, after)
        token = (
            None
            if found.next_position is None
            else self._page_tokens.encode(found.next_position, listing)
        )
        return WorkspacePage(found.workspaces, query.limit, token)

    def members(self, caller: str, workspace_id: UUID, query: ListPage) -> MemberPage:
        listing = MembersOf(workspace_id)
        after = (
            None
            if query.next_token is None
            else self._page_tokens.decode(query.next_token, listing)
        )
        with self._uow_factory() as uow:
            _authorize(uow, caller, workspace_id, Permission.READ)
            found = uow.workspaces.members(workspace_id, query.limit, after)
        token = (
            None
            if found.next_position is None
            else self._page_tokens.encode(found.next_position, listing)
        )
        return MemberPage(found.members, query.limit, token)

    # -- commands -----------------------------------------------------------------------

    def create(self, caller: str, command: CreateWorkspace) -> Workspace:
        """A new workspace, whose only member (its owner) is the caller."""
        now = self._clock()
        workspace = Workspace(
            workspace_id=self._new_id(), name=command.name, created_at=now, updated_at=now,
            version=1,
        )  # fmt: skip
        owner = Membership(
            workspace_id=workspace.workspace_id, member=caller, role=Role.OWNER, added_at=now
        )
        with self._uow_factory() as uow:
            uow.workspaces.add(workspace, owner)
            uow.commit()
        return workspace

    def rename(
        self,
        caller: str,
        workspace_id: UUID,
        command: UpdateWorkspace,
        expected_version: int | None = None,
    ) -> Workspace:
        """Rename; ``expected_version`` (or the command's ``version``), when given, must be
        the current one. Renaming to the current name writes nothing."""
        expected = expected_version if expected_version is not None else command.version
        with self._uow_factory() as uow:
            current, _ = _authorize(uow, caller, workspace_id, Permission.MANAGE)
            _check_version(current, expected)
            if current.name == command.name:
                return current
            renamed = current.next_version(self._clock(), name=command.name)
            uow.workspaces.update(renamed, current.version)
            uow.commit()
        return renamed

    def delete(self, caller: str, workspace_id: UUID, expected_version: int | None = None) -> None:
        """Delete an empty workspace and its members (``WorkspaceNotEmpty`` while it holds
        tasks: they are deleted first, one by one, each with its own event)."""
        with self._uow_factory() as uow:
            current, _ = _authorize(uow, caller, workspace_id, Permission.MANAGE)
            _check_version(current, expected_version)
            uow.workspaces.remove(current)
            uow.commit()

    def put_member(self, caller: str, workspace_id: UUID, member: str, role: Role) -> MemberChange:
        """Add ``member`` with ``role``, or set an existing member's role. Owners only; the
        last owner cannot step down."""
        with self._uow_factory() as uow:
            current, _ = _authorize(uow, caller, workspace_id, Permission.MANAGE)
            existing = uow.workspaces.membership(workspace_id, member)
            if existing is not None and existing.role == role:
                return MemberChange(existing, added=False)
            if existing is not None and existing.role == Role.OWNER:
                owners = uow.workspaces.owners(workspace_id)
                check_keeps_an_owner(workspace_id, (o for o in owners if o != member))
            now = self._clock()
            membership = Membership(
                workspace_id=workspace_id,
                member=member,
                role=role,
                added_at=existing.added_at if existing else now,
            )
            uow.workspaces.put_member(current.next_version(now), current.version, membership)
            uow.commit()
        return MemberChange(membership, added=existing is None)

    def remove_member(self, caller: str, workspace_id: UUID, member: str) -> None:
        """Remove ``member``: an owner may remove anyone, any member may leave; the last
        owner cannot (the workspace would have no one to manage it)."""
        with self._uow_factory() as uow:
            needed = Permission.READ if member == caller else Permission.MANAGE
            current, _ = _authorize(uow, caller, workspace_id, needed)
            existing = uow.workspaces.membership(workspace_id, member)
            if existing is None:
                raise MemberNotFound(workspace_id, member)
            if existing.role == Role.OWNER:
                owners = uow.workspaces.owners(workspace_id)
                check_keeps_an_owner(workspace_id, (o for o in owners if o != member))
            uow.workspaces.remove_member(
                current.next_version(self._clock()), current.version, member
            )
            uow.commit()


def _authorize(
    uow: UnitOfWork, caller: str, workspace_id: UUID, needed: Permission
) -> tuple[Workspace, Role]:
    """The workspace and the caller's role in it, if that role allows ``needed``."""
    membership = uow.workspaces.membership(workspace_id, caller)
    role = check_permission(workspace_id, membership, needed)
    workspace = uow.workspaces.get(workspace_id)
    if workspace is None:  # a membership outliving its workspace: treated as gone
        raise WorkspaceNotFound(workspace_id)
    return workspace, role


def _check_version(current: Workspace, expected: int | None) -> None:
    if expected is not None and current.version != expected:
        raise WorkspaceVersionConflict(current, expected)
