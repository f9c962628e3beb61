"""Workspaces in a store, for tests of what runs inside them (events, notifications)."""

from __future__ import annotations

from taskapi.bootstrap import Runtime
from taskapi.domain.workspaces import Workspace
from taskapi.service.commands import Access, CreateWorkspace
from taskapi.service.ports import UnitOfWorkFactory
from tests.fakes.builders import OWNER, make_membership, make_workspace


def add_workspace(
    uow_factory: UnitOfWorkFactory, workspace: Workspace | None = None, owner: str = OWNER
) -> Access:
    """Commit ``workspace`` (``make_workspace()`` by default) with ``owner`` as its owner and
    return the owner's access to it; a workspace the store already holds (a harness starts with
    ``WORKSPACE_ID``) is left as it is."""
    workspace = workspace or make_workspace()
    with uow_factory() as uow:
        if uow.workspaces.get(workspace.workspace_id) is None:
            uow.workspaces.add(workspace, make_membership(workspace, owner))
            uow.commit()
    return Access(workspace.workspace_id, owner)


def create_workspace(runtime: Runtime, name: str = "Team", owner: str = OWNER) -> Access:
    """A new workspace made through the runtime's workspace service; the owner's access."""
    workspace = runtime.workspaces.create(owner, CreateWorkspace(name=name))
    return Access(workspace.workspace_id, owner)
