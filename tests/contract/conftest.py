"""Fixtures of the repository contract suite: every test that asks for ``uow_factory``,
``outbox_reader`` or ``commit_raw`` runs once per backend in ``backends.BACKENDS``, on a fresh
store."""

from __future__ import annotations

from uuid import UUID

import pytest

from taskapi.service.ports import OutboxReader, UnitOfWork, UnitOfWorkFactory
from tests.contract.backends import BACKENDS, Backend, BackendFactory, CommitRaw
from tests.fakes.builders import WORKSPACE_ID, make_membership, make_workspace


@pytest.fixture(params=BACKENDS)
def repository_backend(request: pytest.FixtureRequest) -> Backend:
    make_backend: BackendFactory = request.param
    return make_backend(request)


class InDefaultWorkspace:
    """The backend's factory, opening units of work in ``WORKSPACE_ID`` (created first) when
    no workspace is named: the task contract tests need not name it every time."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner = inner
        workspace = make_workspace()
        with inner() as uow:
            uow.workspaces.add(workspace, make_membership(workspace))
            uow.commit()

    def __call__(self, workspace_id: UUID | None = WORKSPACE_ID) -> UnitOfWork:
        return self.inner(workspace_id)


@pytest.fixture
def uow_factory(repository_backend: Backend) -> UnitOfWorkFactory:
    """Units of work in ``WORKSPACE_ID``, unless another is named (``None``: none)."""
    return InDefaultWorkspace(repository_backend.uow_factory)


@pytest.fixture
def outbox_reader(repository_backend: Backend) -> OutboxReader:
    return repository_backend.outbox


@pytest.fixture
def commit_raw(repository_backend: Backend) -> CommitRaw:
    return repository_backend.commit_raw
