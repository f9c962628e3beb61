"""A ``Notifier`` for running locally: every notification becomes one JSON line in a file.

``<data dir>/mailbox.jsonl`` is the local stand-in for an inbox: ``taskapi mailbox`` shows the
latest entries, tests read it back, and ``tail -f`` works. Each entry is written with a single
``write`` on a file opened for appending, so concurrent writers (the server's threads, a CLI run
alongside it) never interleave within a line.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError

from taskapi.domain.model import UtcDateTime
from taskapi.domain.notifications import Notification

logger = logging.getLogger(__name__)

MAILBOX_FILE_NAME = "mailbox.jsonl"


class MailboxEntry(Notification):
    """A delivered notification, as stored in the mailbox file."""

    # A line written before workspaces has none; it is still shown.
    workspace_id: UUID | None = None  # type: ignore[assignment]
    sent_at: UtcDateTime


class MailboxNotifier:
    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        entry = MailboxEntry(**notification.model_dump(), sent_at=self._clock())
        line = (entry.model_dump_json() + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        logger.info(
            "notification to %s: %s",
            notification.recipient,
            notification.subject,
            extra={"notification_id": str(notification.notification_id)},
        )

    def recent(self, limit: int) -> list[MailboxEntry]:
        """The last ``limit`` entries, oldest first (an unreadable line is skipped)."""
        if limit < 1 or not self.path.exists():
            return []
        lines: deque[str] = deque(maxlen=limit)
        with self.path.open(encoding="utf-8") as mailbox:
            lines.extend(line for line in mailbox if line.strip())
        entries: list[MailboxEntry] = []
        for line in lines:
            try:
                entries.append(MailboxEntry.model_validate_json(line))
            except ValidationError:
                # A hand-edited or truncated line must not hide the others.
                logger.warning(
                    "skipping an unreadable mailbox line", extra={"path": str(self.path)}
                )
        return entries
