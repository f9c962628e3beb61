"""Checks on a request body before anything parses it: size, media type, encoding.

They run before the resolver because its request validation reads the body first (and would
happily parse a form-encoded body, or decode 10 MB before anyone checks the size). What passes
is handed on as plain UTF-8 text, so nothing downstream has to know about base64 bodies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Mapping
from typing import Any

from taskapi.domain.text import clip
from taskapi.entrypoints.http.errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 64 * 1024
JSON_MEDIA_TYPE = "application/json"
# Deep enough for any real task, shallow enough to stay far from the recursion limit.
MAX_JSON_NESTING = 32


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header from a REST (v1) proxy event, case-insensitively; multiple values
    are joined with commas as HTTP allows."""
    wanted = name.lower()
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == wanted and values:
            return ", ".join(values)
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def checked_body(event: dict[str, Any]) -> dict[str, Any]:
    """The event of a request to a route that takes a body, with the body verified to be at
    most 64 KiB of JSON-typed UTF-8 text, and decoded from base64 if it was encoded. Raises a
    ``RequestRejected`` otherwise."""
    body = event.get("body") or ""
    encoded = bool(event.get("isBase64Encoded"))
    # Cheap early refusal: base64 text is 4/3 of the bytes it carries.
    if len(body) > (MAX_BODY_BYTES * 4 // 3 + 4 if encoded else MAX_BODY_BYTES * 4):
        raise PayloadTooLarge(MAX_BODY_BYTES)
    raw = _base64_bytes(body) if encoded else body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(MAX_BODY_BYTES)
    content_type = header(event, "Content-Type")
    # No Content-Type at all is read as JSON (as the resolver does); anything else must say so,
    # with or without a body (the resolver would read an empty form as a body of no fields).
    if content_type is not None and _media_type(content_type) != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody("the request body is not valid UTF-8") from exc
    return {**event, **_lowercase_content_type(event), "body": text, "isBase64Encoded": False}


def _base64_bytes(body: str) -> bytes:
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedBody("the request body is marked base64 but is not valid base64") from exc


def _lowercase_content_type(event: Mapping[str, Any]) -> dict[str, Any]:
    # Media types are case-insensitive (RFC 9110), but the resolver compares them as written.
    headers = {
        name: value.lower() if name.lower() == "content-type" else value
        for name, value in (event.get("headers") or {}).items()
    }
    multi = {
        name: [value.lower() for value in values] if name.lower() == "content-type" else values
        for name, values in (event.get("multiValueHeaders") or {}).items()
    }
    return {
        "headers": headers or event.get("headers"),
        "multiValueHeaders": multi or event.get("multiValueHeaders"),
    }


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_json_object(text: str | bytes | bytearray) -> Any:
    """``json.loads`` for request bodies, which are JSON objects in this API.

    Refuses, with the ``JSONDecodeError`` the resolver reports as a 400 like any other bad
    JSON: NaN/Infinity (not JSON), a key repeated in one object (which value would count?),
    an integer too long for Python to read (its ``ValueError`` would be a 500), absurd nesting,
    and a top level that is not an object (the resolver would otherwise take the first
    element of an array as the body)."""
    doc = text if isinstance(text, str) else bytes(text).decode("utf-8", "replace")
    try:
        # The common case at C speed: integers read by the decoder itself, duplicate keys
        # counted rather than looked for. Whatever this refuses, the careful read below
        # refuses too, and says why.
        document = json.loads(
            doc, parse_constant=_refuse_constant, object_pairs_hook=_object_counting_keys
        )
    except (ValueError, RecursionError):
        document = _careful_loads(doc)
    if not isinstance(document, dict):
        raise json.JSONDecodeError(f"expected an object, not {_json_type(document)}", doc, 0)
    # A document holds at most as many levels as it has brackets (a bracket inside a string
    # only makes the count larger): most bodies need no walk.
    if doc.count("{") + doc.count("[") > MAX_JSON_NESTING and _nesting(document) > MAX_JSON_NESTING:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_NESTING} levels", doc, 0)
    return document


def _careful_loads(doc: str) -> Any:
    try:
        return json.loads(
            doc,
            parse_constant=_refuse_constant,
            parse_int=_integer,
            object_pairs_hook=_object_with_unique_keys,
        )
    except _NotJson as exc:
        raise json.JSONDecodeError(exc.reason, doc, exc.position(doc)) from None
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


class _NotJson(ValueError):
    """Valid JSON syntax this API refuses; ``where`` finds the offending text in the body."""

    def __init__(self, reason: str, where: re.Pattern[str]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where

    def position(self, doc: str) -> int:
        # The decoder's hooks do not know where they are; the last match is a good guess.
        matches = list(self.where.finditer(doc))
        return matches[-1].start() if matches else 0


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON", re.compile(re.escape(name)))


def _integer(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # longer than sys.get_int_max_str_digits()
        raise _NotJson(
            f"an integer of {len(digits.lstrip('-'))} digits, "
            f"more than the {sys.get_int_max_str_digits()} allowed",
            re.compile(re.escape(digits)),
        ) from None


def _object_counting_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _NotJson("duplicate key", re.compile("^"))  # _careful_loads says which
    return document


def _object_with_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            spelled = json.dumps(key, ensure_ascii=False)
            raise _NotJson(
                f"duplicate key {clip(spelled, 60)}", re.compile(re.escape(spelled) + r"\s*:")
            )
        document[key] = value
    return document


def _nesting(document: Any) -> int:
    depth, level = 0, [document]
    while level:
        depth += 1
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
    return depth - 1
