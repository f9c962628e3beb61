"""The service's own logs as a source of findings: Powertools JSON lines, however they were
exported, become failure records, and identical failures one group each.

Pure: `sources` reads the files and hands over the lines or rows. What is a failure, how it
is weighed and grouped, and which shapes are read: docs/operations.md ("The logs source").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from taskrisk.model import Severity, normalise_path

# CloudWatch Logs' largest event (256 KiB): a longer line was not written by a Lambda function.
MAX_LINE_CHARACTERS = 262_144
NO_CODE_LOCATION = "(no code location)"
_MAX_SHOWN = 60

# Lines the Lambda service itself writes around every invocation, in the text log format.
_PLATFORM_LINE = re.compile(r"^(START|END|REPORT|INIT_START|INIT_REPORT|EXTENSION|TELEMETRY)\b")
# Raw control characters (a tab is fine): never in a line a JSON logger wrote.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
# A byte that is not UTF-8, as `sources` decodes it (errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<function>\S+)', re.MULTILINE)
# Python prints a chain of exceptions from the first cause to the last.
_CHAIN = re.compile(
    r"\n(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\n"
)
# Where interpreters and libraries live: the standard library, site-packages, Lambda's runtime.
_LIBRARY = re.compile(
    r"^<|/(?:site|dist)-packages/|/lib/python\d+(?:\.\d+)?/|^/var/runtime/|^/var/lang/"
)
# Where a function's own code sits when it is not a source tree: Lambda's task root, layers.
_CODE_ROOTS = ("/var/task/", "/opt/python/")
# The project's packages (those in src/). A function's artifact puts its libraries beside them
# in the task root (/var/task/botocore/...), so there only these count as own code.
OWN_PACKAGES = frozenset({"taskapi", "taskrisk"})
# The dispatcher's `error` is "Type: message"; an HTTP line's `error` is its error code.
_TYPED_ERROR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*): ")
_RETRYABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line (or exported row) as read. `timestamp` is the one its container gives
    (`@timestamp`, a `sam logs` prefix), used when the record carries none itself; `index`
    is set for the records of a JSON export, which have no line of their own."""

    line: int | None
    text: str
    timestamp: str | None = None
    index: int | None = None


@dataclass(frozen=True, slots=True)
class LogLineError:
    source: str
    line: int | None
    index: int | None
    problem: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"record[{self.index}]"
        return f"{self.source}: {where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Failure:
    """A log record that says the service failed (see `classify`)."""

    timestamp: datetime
    level: str
    message: str
    severity: Severity
    category: str
    component: str
    route: str | None
    status: int | None
    error_code: str | None
    exception_type: str | None
    file: str | None
    location: str | None
    correlation_id: str | None

    @property
    def key(self) -> tuple[str, ...]:
        """Identical failures share this: what failed where, never when or for whom."""
        parts = (self.route, self.status, self.error_code, self.exception_type, self.location)
        return (*("" if part is None else str(part) for part in parts), self.message)


@dataclass(slots=True)
class ParsedLogs:
    """What one or more log files held. `records` counts log records, failures or not."""

    files: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    errors: list[LogLineError] = field(default_factory=list)
    lines: int = 0
    records: int = 0
    ignored: int = 0

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def extend(self, other: ParsedLogs) -> None:
        self.files += other.files
        self.failures += other.failures
        self.errors += other.errors
        self.lines += other.lines
        self.records += other.records
        self.ignored += other.ignored


@dataclass(frozen=True, slots=True)
class FailureGroup:
    failures: tuple[Failure, ...]

    @property
    def first(self) -> Failure:
        return self.failures[0]

    @property
    def severity(self) -> Severity:
        return min((failure.severity for failure in self.failures), key=list(Severity).index)

    @property
    def first_seen(self) -> datetime:
        return min(failure.timestamp for failure in self.failures)

    @property
    def last_seen(self) -> datetime:
        return max(failure.timestamp for failure in self.failures)

    @property
    def correlation_id(self) -> str | None:
        """The earliest occurrence's, so an operator can find that request."""
        dated = sorted(self.failures, key=lambda failure: failure.timestamp)
        return next((f.correlation_id for f in dated if f.correlation_id), None)


def classify(level: str, status: int | None) -> tuple[Severity, str] | None:
    """Severity and category of a record, None when it is no failure of the service.

    A status decides when there is one: a 4xx is the caller's mistake, answered as designed;
    502/503/504 are a dependency refusing for a while (Retry-After), 5xx others an error the
    service did not handle. Without one, the level: a failure outside a request."""
    if status is not None:
        if status < 500:
            return None
        if status in _RETRYABLE_STATUSES:
            return Severity.MEDIUM, "availability"
        return Severity.CRITICAL, "error_handling"
    match level:
        case "CRITICAL":
            return Severity.CRITICAL, "error_handling"
        case "ERROR":
            return Severity.HIGH, "error_handling"
        case "WARNING":
            return Severity.LOW, "error_handling"
    return None


def parse_lines(lines: Iterable[LogLine], source: str) -> ParsedLogs:
    """Every line read: a failure, another record, an ignored line or an error."""
    parsed = ParsedLogs(files=[source])
    for line in lines:
        parsed.lines += 1
        outcome = parse_line(line)
        if isinstance(outcome, str):
            parsed.errors.append(LogLineError(source, line.line, line.index, outcome))
        elif outcome is _IGNORED:
            parsed.ignored += 1
        else:
            parsed.records += 1
            if isinstance(outcome, Failure):
                parsed.failures.append(outcome)
    return parsed


class _Ignored:
    """A line that is not a log record: Lambda's own lines, EMF metrics."""


_IGNORED = _Ignored()
_NOT_A_FAILURE = object()


def parse_line(line: LogLine) -> Failure | _Ignored | object | str:
    """A failure, `_IGNORED`, `_NOT_A_FAILURE` (a record that is no failure), or the problem
    that makes the line malformed, as a phrase."""
    text = line.text.rstrip("\r")
    if len(text) > MAX_LINE_CHARACTERS:
        return f"longer than {MAX_LINE_CHARACTERS:,} characters ({len(text):,})"
    undecodable = _UNDECODABLE.search(text)
    if undecodable:
        byte = ord(undecodable.group()) - 0xDC00
        return f"not UTF-8: byte 0x{byte:02x} at column {undecodable.start() + 1}"
    control = _CONTROL.search(text)
    if control:
        return f"control character {control.group()!r} at column {control.start() + 1}"
    timestamp = line.timestamp
    body = text.strip()
    if not body.startswith("{") and _is_json(body):
        return f"JSON that is not an object ({type(json.loads(body)).__name__})"
    if not body.startswith("{"):
        prefix, brace, rest = body.partition("{")
        message = _without_prefix(prefix)
        if _PLATFORM_LINE.match(message) or (not brace and _PLATFORM_LINE.match(body)):
            return _IGNORED
        if not brace:
            return f"not JSON: {_shorten(body)!r}"
        body = brace + rest
        timestamp = timestamp or _prefix_timestamp(prefix)
    try:
        document: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" already ("Unterminated string starting at").
        return f"not JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
    except (RecursionError, ValueError) as exc:  # nested too deeply, an integer too long
        return f"not usable JSON: {exc}"
    if not isinstance(document, dict):
        return f"JSON that is not an object ({type(document).__name__})"
    return record_of(document, timestamp)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (RecursionError, ValueError):  # JSONDecodeError is a ValueError
        return False
    return True


def record_of(document: Mapping[str, Any], container_timestamp: str | None) -> object | str:
    """A Powertools record as a failure (or not one), or what is wrong with it."""
    if "_aws" in document or str(document.get("type", "")).startswith("platform."):
        return _IGNORED  # an EMF metric line; a Lambda platform record in the JSON format
    missing = [name for name in ("level", "message") if document.get(name) in (None, "")]
    if missing:
        return f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
    level = document["level"]
    if not isinstance(level, str):
        return f"field 'level': not a level name (got {_shorten(repr(level))})"
    raw_time = document.get("timestamp") or container_timestamp
    if raw_time is None:
        return "missing field 'timestamp'"
    timestamp = parse_timestamp(raw_time)
    if timestamp is None:
        return f"field 'timestamp': not a timestamp (got {_shorten(repr(raw_time))})"
    status = document.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        return f"field 'status': not an HTTP status (got {_shorten(repr(status))})"
    classified = classify(level.upper(), status)
    if classified is None:
        return _NOT_A_FAILURE
    if classified[0] is Severity.LOW and not (document.get("exception") or document.get("error")):
        return _NOT_A_FAILURE  # a warning that names no failure
    severity, category = classified
    route = _text(document.get("route"))
    file, location = code_location(document)
    exception_type, error_code = _error_of(document, status)
    return Failure(
        timestamp=timestamp,
        level=level.upper(),
        message=str(document["message"]),
        severity=severity,
        category=category,
        component=route or _text(document.get("service")) or "unknown",
        route=route,
        status=status,
        error_code=error_code,
        exception_type=exception_type,
        file=file,
        location=location,
        correlation_id=_text(document.get("correlation_id")),
    )


def _error_of(document: Mapping[str, Any], status: int | None) -> tuple[str | None, str | None]:
    """(exception type, error code)."""
    error = _text(document.get("error"))
    exception_type = _text(document.get("exception_name"))
    stack = document.get("stack_trace")
    if exception_type is None and isinstance(stack, Mapping):
        exception_type = _text(stack.get("type"))
    if status is not None:
        return exception_type, error
    typed = _TYPED_ERROR.match(error or "")
    return exception_type or (typed.group("type") if typed else None), None


def code_location(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(file, `file:function`) of the deepest frame of the service's own code in the first
    cause of the logged exception; without a traceback, Powertools' `location` (function:line)
    and no file."""
    frames: list[tuple[str, str]] = []
    exception = document.get("exception")
    if isinstance(exception, str):
        for block in _CHAIN.split(exception):
            frames = _own_frames((m["file"], m["function"]) for m in _FRAME.finditer(block))
            if frames:
                break
    stack = document.get("stack_trace")
    if not frames and isinstance(stack, Mapping) and isinstance(stack.get("frames"), list):
        frames = _own_frames(
            (str(frame.get("file")), str(frame.get("function")))
            for frame in stack["frames"]
            if isinstance(frame, Mapping)
        )
    if frames:
        file, function = frames[-1]
        path = source_path(file)
        return path, f"{path}:{function}"
    return None, _text(document.get("location"))


def _own_frames(frames: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(file, function) for file, function in frames if _is_own(file)]


def _is_own(file: str) -> bool:
    if _LIBRARY.search(file):
        return False
    normalised = normalise_path(file)
    for root in _CODE_ROOTS:
        if normalised.startswith(root):
            return normalised.removeprefix(root).split("/", 1)[0] in OWN_PACKAGES
    return True


def source_path(path: str) -> str:
    """A logged file path as the repository spells it: from `src/` on in a source tree, from
    the package on in Lambda's task root or a layer."""
    normalised = normalise_path(path)
    for root in _CODE_ROOTS:
        if normalised.startswith(root):
            return normalised.removeprefix(root)
    if normalised.startswith("src/"):
        return normalised
    source_tree = normalised.rfind("/src/")
    return normalised[source_tree + 1 :] if source_tree >= 0 else normalised


def parse_timestamp(value: object) -> datetime | None:
    """Powertools' `2025-03-04 10:15:00,123+0000`, CloudWatch's `2025-03-04 10:15:00.123`
    (UTC), ISO 8601, or epoch milliseconds; always in UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(",", "."))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _prefix_timestamp(prefix: str) -> str | None:
    """The timestamp in a `sam logs` prefix (`<stream> <timestamp> `), if one parses."""
    return next((token for token in prefix.split() if parse_timestamp(token)), None)


def _without_prefix(prefix: str) -> str:
    """A `sam logs` line's message: what follows the stream and the timestamp."""
    tokens = prefix.split()
    for position, token in enumerate(tokens):
        if parse_timestamp(token):
            return " ".join(tokens[position + 1 :])
    return prefix.strip()


def group_failures(failures: Iterable[Failure]) -> list[FailureGroup]:
    """Identical failures (same `Failure.key`) together; worst first, then the most frequent,
    then the earliest, so the same lines in any order give the same groups."""
    grouped: dict[tuple[str, ...], list[Failure]] = {}
    for failure in failures:
        grouped.setdefault(failure.key, []).append(failure)
    groups = [
        FailureGroup(tuple(sorted(members, key=lambda f: (f.timestamp, f.correlation_id or ""))))
        for members in grouped.values()
    ]
    order = list(Severity)
    return sorted(
        groups,
        key=lambda g: (order.index(g.severity), -len(g.failures), g.first_seen, g.first.key),
    )


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
