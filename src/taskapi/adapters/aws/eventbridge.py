"""EventBridge: the one place that turns a domain event into a PutEvents entry, and the
publisher the stream relay uses.

Each entry is checked when it is built (botocore's own model of the PutEvents input, and
EventBridge's entry size limit computed as EventBridge documents it), so a bad event fails
where it is produced, never later in the relay, where it would block the stream.
See docs/aws.md#the-entry.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.validate import ParamValidator

from taskapi.adapters.aws.errors import to_port_error
from taskapi.service.ports import PublishableEvent

if TYPE_CHECKING:
    from botocore.model import Shape
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

logger = logging.getLogger(__name__)

# EventBridge quotas: an entry must be smaller than 256 KB; a PutEvents call takes at most 10
# entries. The request as a whole is also kept under 256 KB (the conservative reading of
# "the total entry size must be less than 256 KB").
MAX_ENTRY_BYTES: Final = 256 * 1024
MAX_ENTRIES_PER_CALL: Final = 10
MAX_REQUEST_BYTES: Final = 256 * 1024
TIME_FIELD_BYTES: Final = 14
# Where Lambda puts the invocation's X-Ray trace header (it changes with each invocation).
TRACE_HEADER_VARIABLE: Final = "_X_AMZN_TRACE_ID"


class InvalidEventEntry(ValueError):
    """The event cannot become a valid PutEvents entry (a bug or a broken limit, never the
    client's fault): refused before anything is written."""


class EventEntryTooLarge(InvalidEventEntry):
    def __init__(self, event_id: UUID, size: int) -> None:
        super().__init__(
            f"event {event_id} would be a {size}-byte EventBridge entry; "
            f"the limit is under {MAX_ENTRY_BYTES} bytes"
        )
        self.size = size


def entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    """The size EventBridge counts against its entry limit (see the module docstring)."""
    size = TIME_FIELD_BYTES if "Time" in entry else 0
    size += len(entry.get("Source", "").encode())
    size += len(entry.get("DetailType", "").encode())
    size += len(entry.get("Detail", "").encode())
    size += sum(len(resource.encode()) for resource in entry.get("Resources", ()))
    return size


@functools.cache
def _put_events_input_shape() -> Shape:
    # Loading a service model takes a few milliseconds: once per process.
    model = botocore.session.get_session().get_service_model("events")
    shape = model.operation_model("PutEvents").input_shape
    if shape is None:  # never for PutEvents; the model types it as optional
        raise RuntimeError("botocore has no input shape for events.PutEvents")
    return shape


def validate_entry(entry: PutEventsRequestEntryTypeDef) -> None:
    """Raise ``InvalidEventEntry`` unless botocore's PutEvents model accepts ``entry``."""
    report = ParamValidator().validate({"Entries": [entry]}, _put_events_input_shape())
    if report.has_errors():
        raise InvalidEventEntry(report.generate_report())


@dataclass(frozen=True, slots=True)
class EventEntryBuilder:
    source: str
    event_bus_name: str
    # What the entry names as involved (an envelope's ``resources``, when one is republished
    # from a dead-letter queue); the relay's entries name none.
    resources: tuple[str, ...] = ()

    def build(self, event: PublishableEvent) -> PutEventsRequestEntryTypeDef:
        """The PutEvents entry for ``event``; raises ``InvalidEventEntry`` (or its subclass
        ``EventEntryTooLarge``) if EventBridge would refuse it."""
        entry: PutEventsRequestEntryTypeDef = {
            "Source": self.source,
            "DetailType": event.event_type,
            "Detail": event.model_dump_json(),
            "Time": event.occurred_at,
            "EventBusName": self.event_bus_name,
        }
        if self.resources:
            entry["Resources"] = list(self.resources)
        # In a traced function, the bus carries the trace on to its targets (the notification
        # function's segment joins the relay's trace); outside Lambda there is none.
        trace_header = os.environ.get(TRACE_HEADER_VARIABLE)
        if trace_header:
            entry["TraceHeader"] = trace_header
        validate_entry(entry)
        size = entry_size(entry)
        if size >= MAX_ENTRY_BYTES:
            raise EventEntryTooLarge(event.event_id, size)
        return entry


@dataclass(frozen=True, slots=True)
class _Batch:
    events: list[PublishableEvent]
    entries: list[PutEventsRequestEntryTypeDef]


class EventBridgePublisher:
    """Publishes events with as few PutEvents calls as the quotas allow.

    ``publish`` never raises for an event EventBridge did not take: it returns the reason per
    event id and leaves the retry decision to the caller (the relay reports those records as
    failed, so Lambda redelivers them). An event that cannot become a valid entry, or whose
    entry EventBridge rejects (``FailedEntryCount``), fails alone; a whole call that fails
    (throttled beyond botocore's retries, access denied, timeout) fails the events of that
    call. Either way the detail is logged.
    """

    def __init__(self, client: EventBridgeClient, entries: EventEntryBuilder) -> None:
        self._client = client
        self._entries = entries

    def publish(self, events: Sequence[PublishableEvent]) -> dict[UUID, str]:
        rejected: dict[UUID, str] = {}
        entries: list[tuple[PublishableEvent, PutEventsRequestEntryTypeDef]] = []
        for event in events:
            try:
                entries.append((event, self._entries.build(event)))
            except InvalidEventEntry as exc:
                # A unit of work refuses such an event before its commit; one committed by
                # another release or under other settings fails alone, not its whole batch.
                logger.error("an outbox event cannot become an EventBridge entry", exc_info=exc)
                rejected[event.event_id] = f"{type(exc).__name__}: {exc}"
        for batch in _batches(entries):
            rejected |= self._put(batch)
        return rejected

    def _put(self, batch: _Batch) -> dict[UUID, str]:
        try:
            response = self._client.put_events(Entries=batch.entries)
        except (ClientError, BotoCoreError) as exc:
            error = to_port_error(exc, "events.PutEvents")  # logs the full detail
            # The reason goes to the relay's log lines and the redrive command's output (an
            # operator's), never to an API client: it may name the AWS error.
            reason = f"{type(error).__name__}: {error}"
            if isinstance(exc, ClientError):
                aws = exc.response.get("Error", {})
                reason += f" ({aws.get('Code', '?')}: {aws.get('Message', '')})"
            return {event.event_id: reason for event in batch.events}
        results: Sequence[Mapping[str, Any]] = response.get("Entries", [])
        if len(results) != len(batch.events):
            # The response pairs results with entries by position; without that we cannot
            # tell which succeeded, so none counts as published.
            logger.error(
                "PutEvents returned %d results for %d entries", len(results), len(batch.events)
            )
            return {event.event_id: "unpaired PutEvents response" for event in batch.events}
        rejected: dict[UUID, str] = {}
        for event, result in zip(batch.events, results, strict=True):
            if "ErrorCode" in result:
                reason = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                rejected[event.event_id] = reason
                logger.warning(
                    "EventBridge rejected an entry",
                    extra={"event_id": str(event.event_id), "reason": reason},
                )
        if response.get("FailedEntryCount", 0) != len(rejected):
            logger.warning(
                "FailedEntryCount disagrees with the per-entry results",
                extra={"failed_entry_count": response.get("FailedEntryCount")},
            )
        return rejected


def _batches(
    entries: Sequence[tuple[PublishableEvent, PutEventsRequestEntryTypeDef]],
) -> Iterator[_Batch]:
    """The entries in order, in as few PutEvents calls as the quotas allow."""
    batch = _Batch([], [])
    batch_bytes = 0
    for event, entry in entries:
        size = entry_size(entry)
        full = len(batch.entries) == MAX_ENTRIES_PER_CALL
        if batch.entries and (full or batch_bytes + size >= MAX_REQUEST_BYTES):
            yield batch
            batch, batch_bytes = _Batch([], []), 0
        batch.events.append(event)
        batch.entries.append(entry)
        batch_bytes += size
    if batch.entries:
        yield batch
