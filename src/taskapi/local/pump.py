"""The outbox pump of ``taskapi serve``: the in-process stand-in for the stream relay.

A background thread runs the outbox dispatcher whenever a commit wakes it, and every few
seconds for the retries that have fallen due. See docs/events.md#the-local-outbox.
"""

from __future__ import annotations

import logging
import threading

from taskapi.local.environment import ENVIRONMENT
from taskapi.service.dispatch import OutboxDispatcher

logger = logging.getLogger("taskapi-serve")


class OutboxPump:
    """Runs ``dispatcher`` in a background thread: as soon as ``wake`` is set (the service sets
    it after every commit), and every ``retry_seconds`` for the retries that fell due.
    ``stop()`` delivers what is pending one last time, then joins the thread."""

    def __init__(
        self,
        dispatcher: OutboxDispatcher,
        wake: threading.Event,
        *,
        retry_seconds: float = 5.0,
        batch_size: int = 100,
    ) -> None:
        self._dispatcher = dispatcher
        self._wake = wake
        self._retry_seconds = retry_seconds
        self._batch_size = batch_size
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("the outbox dispatcher did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._retry_seconds)
            # Clear before dispatching: a commit during the run sets it again, so it is not lost.
            self._wake.clear()
            self._drain()
        self._drain()  # the final delivery, after the server stopped taking writes

    def _drain(self) -> None:
        while True:
            try:
                with ENVIRONMENT.between_invocations():
                    report = self._dispatcher.dispatch_pending(self._batch_size)
            except Exception:
                # The store itself failed; the events stay pending and are retried next time.
                logger.exception("outbox dispatch failed")
                return
            # A full batch means there may be more. Failed events are not offered again at once
            # (their retry is due later), so the next batch is the events behind them.
            if report.offered < self._batch_size:
                return
