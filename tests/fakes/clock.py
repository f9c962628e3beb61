"""Deterministic time and ids for tests: inject them into ``TaskService`` instead of patching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

DEFAULT_NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


class FixedClock:
    """A ``Clock`` that returns ``now`` until moved.

    ``advance(delta)`` moves it forward explicitly. With ``tick`` set, every read also moves it
    forward by ``tick`` afterwards, so successive writes get distinct, increasing timestamps
    (read ``clock.now`` before a call to know the instant that call will see).
    """

    def __init__(self, now: datetime = DEFAULT_NOW, tick: timedelta = timedelta(0)) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.tick
        return current

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        self.now += delta
        return self.now


class SequentialIds:
    """An ``IdSource`` that hands out ``UUID(int=start)``, ``UUID(int=start + 1)``, ...

    Predictable in assertions and sorted in creation order (their string forms sort like the
    integers). ``issued`` lists every id handed out, oldest first. Note that the task service
    takes one id per task and one per event.
    """

    def __init__(self, start: int = 1) -> None:
        self._next = start
        self.issued: list[UUID] = []

    def __call__(self) -> UUID:
        value = UUID(int=self._next)
        self._next += 1
        self.issued.append(value)
        return value
