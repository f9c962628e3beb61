"""The correlation id of the work in progress, for log lines written outside a request.

A Lambda function sets its invocation's correlation id with Powertools (one invocation at a
time). Delivering events is not one request: the local dispatcher, in a thread of its own,
handles events caused by many requests, so it runs each delivery ``within`` that event's
correlation id, a context variable (per thread: another thread's lines never see it), and
``CorrelationFilter`` on the functions' log handlers writes it into every line logged meanwhile,
whichever logger wrote it. See docs/events.md#correlation-ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CORRELATION_KEY = "correlation_id"

_current: ContextVar[str | None] = ContextVar("taskapi_correlation_id", default=None)


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Log the block's lines with ``correlation_id`` (``None``: with none)."""
    token = _current.set(correlation_id)
    try:
        yield
    finally:
        _current.reset(token)


def current_correlation_id() -> str | None:
    return _current.get()


class CorrelationFilter(logging.Filter):
    """Adds the current correlation id to a record that does not name one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        correlation_id = _current.get()
        if correlation_id is not None and not hasattr(record, CORRELATION_KEY):
            setattr(record, CORRELATION_KEY, correlation_id)
        return True
