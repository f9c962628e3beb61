"""Opaque, tamper-evident page tokens.

A token is the store's resume position plus the filter it was issued for, serialised and
signed with HMAC-SHA256 (signed, not encrypted: the base64 payload is readable, but it is not
part of the API). A client can pass it back but cannot alter, forge or reuse it with a
different filter: any of those is a 400, never a 500 or a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from taskapi.domain.errors import InvalidPageToken
from taskapi.service.ports import Position, TaskFilter

_SIGNATURE_BYTES = 16
_MAX_TOKEN_LENGTH = 2048


class PageTokenCodec:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the page-token secret must not be empty")
        self._secret = secret

    def encode(self, position: Position, task_filter: TaskFilter) -> str:
        payload = json.dumps(
            {"p": position, "f": _filter_fingerprint(task_filter)},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        token = self._sign(payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def decode(self, token: str, task_filter: TaskFilter) -> Position:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidPageToken("too long")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidPageToken("not a token issued by this API") from exc
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidPageToken("not a token issued by this API")
        # Signed by us, but perhaps by another release, or with a leaked secret: trust nothing
        # about its shape. (The store checks the position's own shape.)
        try:
            data: Any = json.loads(payload)
        except ValueError as exc:  # not UTF-8, not JSON
            raise InvalidPageToken("not a token issued by this API") from exc
        if not isinstance(data, dict) or set(data) != {"f", "p"}:
            raise InvalidPageToken("not a token issued by this API")
        if data["f"] != _filter_fingerprint(task_filter):
            raise InvalidPageToken("it was issued for different filters")
        position = data["p"]
        if not isinstance(position, dict):
            raise InvalidPageToken("not a token issued by this API")
        return position

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _filter_fingerprint(task_filter: TaskFilter) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in asdict(task_filter).items()}
