"""One Lambda execution environment, played locally: one invocation at a time, and none of an
invocation's state (log keys, metrics) left behind for the next or for background work.

Powertools keeps that state in process-wide objects, which Lambda never shares between two
invocations; ``taskapi serve`` runs requests and the outbox pump in one process, so they take
turns here. See docs/architecture.md#runtime-modes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from taskapi.entrypoints.observability import logger, metrics


class ExecutionEnvironment:
    def __init__(self) -> None:
        # Re-entrant: a handler that (in a test) runs background work inline does not deadlock.
        self._turn = threading.RLock()

    @contextmanager
    def invocation(self) -> Iterator[None]:
        """Around one handler call: the environment's turn, and a clean state afterwards."""
        with self._turn:
            try:
                yield
            finally:
                logger.clear_state()
                metrics.clear_metrics()

    @contextmanager
    def between_invocations(self) -> Iterator[None]:
        """Around background work (the outbox pump): it waits for a running invocation to end,
        so its log lines never carry a request's keys."""
        with self._turn:
            yield


# The process's one environment: Powertools' state is per process.
ENVIRONMENT = ExecutionEnvironment()
