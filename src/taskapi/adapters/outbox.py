"""What every outbox reader shares: reading a record back tolerantly, or saying why not.

A record that cannot be read (damaged, or written by a release of another major schema
version) is set aside as a dead letter by the store, so that it cannot stop the records
behind it. See docs/events.md#the-local-outbox.
"""

from __future__ import annotations

from pydantic import ValidationError

from taskapi.adapters.unit_of_work import bounded_error
from taskapi.domain.event_readers import ReceivedEvent, read_event

UNREADABLE = "unreadable: "


def read_record(payload: str | bytes) -> ReceivedEvent | str:
    """The event of an outbox record, or (a ``str``) the dead letter's error saying why it
    cannot be read."""
    try:
        return read_event(payload)
    except ValidationError as exc:
        problems = (
            f"{'.'.join(map(str, error['loc'])) or 'event'}: {error['msg']}"
            for error in exc.errors()
        )
        return bounded_error(UNREADABLE + "; ".join(problems))
    except ValueError as exc:
        return bounded_error(f"{UNREADABLE}{exc}")
