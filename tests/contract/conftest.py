"""Fixtures of the repository contract suite: every test that asks for ``uow_factory``,
``outbox_reader`` or ``commit_raw`` runs once per backend in ``backends.BACKENDS``, on a fresh
store."""

from __future__ import annotations

import pytest

from taskapi.service.ports import OutboxReader, UnitOfWorkFactory
from tests.contract.backends import BACKENDS, Backend, BackendFactory, CommitRaw


@pytest.fixture(params=BACKENDS)
def repository_backend(request: pytest.FixtureRequest) -> Backend:
    make_backend: BackendFactory = request.param
    return make_backend(request)


@pytest.fixture
def uow_factory(repository_backend: Backend) -> UnitOfWorkFactory:
    return repository_backend.uow_factory


@pytest.fixture
def outbox_reader(repository_backend: Backend) -> OutboxReader:
    return repository_backend.outbox


@pytest.fixture
def commit_raw(repository_backend: Backend) -> CommitRaw:
    return repository_backend.commit_raw
