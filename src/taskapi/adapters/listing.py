"""What every store shares about listing: the shape of a resume position.

All stores list in (created_at, task_id) order and describe "resume after this task" the same
way, so a position is read identically whichever store issued it. It reaches a store from a
signed page token, but one issued by another store or release may have another shape: that is
a bad token (400), never a server error.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from taskapi.domain.errors import InvalidPageToken
from taskapi.domain.model import to_utc
from taskapi.service.ports import Position

_KEYS = frozenset({"created_at", "task_id"})


def position_after(created_at: datetime, task_id: UUID | str) -> Position:
    """The position that resumes a listing after the task with these keys."""
    return {"created_at": to_utc(created_at).isoformat(), "task_id": str(task_id)}


def parse_position(position: Position) -> tuple[datetime, UUID]:
    """The (created_at, task_id) a listing resumes after; ``InvalidPageToken`` if malformed."""
    try:
        if set(position) != _KEYS:
            raise ValueError(f"unexpected keys {sorted(position)}")
        return to_utc(datetime.fromisoformat(position["created_at"])), UUID(position["task_id"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidPageToken("it does not belong to this store") from exc
