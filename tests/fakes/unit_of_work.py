"""A unit-of-work factory wrapper that makes commits fail on demand.

Use it to test what callers do when the store says no: throttling (``StoreUnavailable``),
an outage (``StoreFailure``), or a lost race detected only at commit (``VersionConflict``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal, Self
from uuid import UUID

from taskapi.service.ports import (
    OutboxWriter,
    RequestLog,
    TaskRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    WorkspaceRepository,
)


class FailingCommits:
    """Wraps a real ``UnitOfWorkFactory``; chosen commits raise ``error``.

    Commits are counted across every unit of work the wrapper makes (1-based). Commit number
    ``on_commit`` and the ``times - 1`` after it fail (``times=None``: every commit from
    ``on_commit`` on). Everything else is delegated to the wrapped units of work.

    ``when`` picks the failure mode:

    * ``"before"`` (default): raise instead of committing, so nothing is written, as when the
      store refuses the transaction.
    * ``"after"``: commit, then raise: the write landed but the caller never heard (a timeout
      on the reply). Use it to test that callers do not assume failure means "not written".

    ``attempts`` counts commits called, ``failures`` the ones that raised.
    """

    def __init__(
        self,
        inner: UnitOfWorkFactory,
        error: Exception,
        *,
        on_commit: int = 1,
        times: int | None = 1,
        when: Literal["before", "after"] = "before",
    ) -> None:
        self.inner = inner
        self.error = error
        self.on_commit = on_commit
        self.times = times
        self.when = when
        self.attempts = 0
        self.failures = 0

    def __call__(self, workspace_id: UUID | None = None) -> _FailingCommitUnitOfWork:
        return _FailingCommitUnitOfWork(self.inner(workspace_id), self)

    def next_commit_fails(self) -> bool:
        """Count one commit attempt and say whether it is one of the failing ones."""
        self.attempts += 1
        past_window = self.times is not None and self.attempts >= self.on_commit + self.times
        fails = self.attempts >= self.on_commit and not past_window
        if fails:
            self.failures += 1
        return fails


class _FailingCommitUnitOfWork:
    def __init__(self, inner: UnitOfWork, policy: FailingCommits) -> None:
        self._inner = inner
        self._policy = policy

    @property
    def tasks(self) -> TaskRepository:
        return self._inner.tasks

    @property
    def outbox(self) -> OutboxWriter:
        return self._inner.outbox

    @property
    def requests(self) -> RequestLog:
        return self._inner.requests

    @property
    def workspaces(self) -> WorkspaceRepository:
        return self._inner.workspaces

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if not self._policy.next_commit_fails():
            self._inner.commit()
            return
        if self._policy.when == "after":
            self._inner.commit()
        raise self._policy.error
