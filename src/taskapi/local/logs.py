"""Local logs a person can read: what ``taskapi serve`` and ``taskapi invoke`` do with the
functions' Powertools logs and metrics, for as long as they run (the Lambda code is untouched).

``text`` (the default): one short line per record, from WARNING up (``POWERTOOLS_LOG_LEVEL``
moves the threshold); ``json``: Powertools' own JSON lines, as in Lambda (the default when
``POWERTOOLS_DEV`` is on). EMF metric lines stay off unless ``POWERTOOLS_METRICS_DISABLED`` is
set. See docs/architecture.md#local-logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, TextIO, get_args

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
METRICS_DISABLED = "POWERTOOLS_METRICS_DISABLED"
DEFAULT_TEXT_LEVEL = logging.WARNING
_SILENT = logging.CRITICAL + 1
# What every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _is_on(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on", "y"}


def resolve_format(requested: LogFormat | None) -> LogFormat:
    """The format asked for; without one, Powertools' JSON under POWERTOOLS_DEV, else text."""
    if requested is not None:
        return requested
    return "json" if _is_on(os.environ.get("POWERTOOLS_DEV")) else "text"


def text_level() -> int:
    """The threshold of the text lines: Powertools' own variables when set, else WARNING."""
    name = (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "").strip()
    level = logging.getLevelName(name.upper()) if name else DEFAULT_TEXT_LEVEL
    return level if isinstance(level, int) else DEFAULT_TEXT_LEVEL


class ReadableFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL message key=value ...`` on one line. A warning names its exception
    at the end of the line; an error is followed by its traceback (a bug: you want it)."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        parts = [self.formatTime(record, self.datefmt), record.levelname, record.getMessage()]
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                text = str(value)
                parts.append(
                    f"{key}={text!r}" if any(c.isspace() for c in text) else f"{key}={text}"
                )
        line = " ".join(parts)
        error = record.exc_info[1] if record.exc_info else None
        if record.exc_info is None or error is None:
            return line
        if record.levelno >= logging.ERROR:
            return f"{line}\n{self.formatException(record.exc_info)}"
        return f"{line} ({type(error).__name__}: {error})"


@contextmanager
def local_logging(
    log_format: LogFormat,
    *,
    text_stream: TextIO,
    json_stream: TextIO | None = None,
) -> Iterator[None]:
    """For the duration: the functions' logs in ``log_format`` (text lines to ``text_stream``;
    JSON lines to ``json_stream``, or where Powertools writes them), and no EMF metric lines
    unless the environment asks for them. Everything is put back afterwards."""
    # Here, not at the top: `taskapi --help` should not pay for Powertools.
    from taskapi.entrypoints.observability import (  # noqa: PLC0415
        CORRELATION_FILTER,
    )
    from taskapi.entrypoints.observability import logger as function_logger  # noqa: PLC0415

    powertools = function_logger.registered_handler  # the JSON handler, on stdout
    functions = logging.getLogger(function_logger.name)  # the standard logger beneath it
    previous_level = powertools.level
    previous_stream = None
    metrics_setting = os.environ.get(METRICS_DISABLED)
    readable: logging.Handler | None = None
    if metrics_setting is None:
        os.environ[METRICS_DISABLED] = "true"
    if log_format == "text":
        powertools.setLevel(_SILENT)
        readable = logging.StreamHandler(text_stream)
        readable.setFormatter(ReadableFormatter())
        readable.addFilter(CORRELATION_FILTER)
        readable.setLevel(text_level())
        functions.addHandler(readable)
    elif json_stream is not None and isinstance(powertools, logging.StreamHandler):
        previous_stream = powertools.setStream(json_stream)
    try:
        yield
    finally:
        if readable is not None:
            functions.removeHandler(readable)
        powertools.setLevel(previous_level)
        if previous_stream is not None and isinstance(powertools, logging.StreamHandler):
            powertools.setStream(previous_stream)
        if metrics_setting is None:
            os.environ.pop(METRICS_DISABLED, None)
