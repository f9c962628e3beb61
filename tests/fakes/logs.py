"""Capture the JSON log lines every function writes, as its Lambda log would hold them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from taskapi.entrypoints.observability import CORRELATION_FILTER, logger


@contextmanager
def logged_lines() -> Iterator[list[dict[str, Any]]]:
    """The lines written through the functions' shared Powertools logger (and the
    ``taskapi.*`` loggers below it) while the block runs. Each line is formatted when it is
    written, so it carries the keys in force at that moment (an invocation's keys end with it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    handler.addFilter(CORRELATION_FILTER)  # as on the functions' own handler
    logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel(logging.DEBUG)  # the lines of every level, "task created" included
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())
