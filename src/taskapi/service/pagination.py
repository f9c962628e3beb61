"""Opaque, tamper-evident page tokens.

A token is the store's resume position plus the filter it was issued for, signed with
HMAC-SHA256 (signed, not encrypted). Altered, forged or reused with other filters, it is a 400.
Tokens are signed with the current key and accepted with the previous one too, so a key can
rotate without breaking the pages clients are walking. See docs/api.md#pagination.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from taskapi.domain.errors import InvalidPageToken
from taskapi.service.ports import Position, TaskFilter

_SIGNATURE_BYTES = 16
_MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The key new tokens are signed with, and the ones still accepted (after a rotation)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("the page-token secret must not be empty")

    @property
    def accepted(self) -> tuple[bytes, ...]:
        return (self.current, *(key for key in self.previous if key))


class PageTokenCodec:
    """``keys``: one secret, fixed keys, or where to get them now (a secret store that may
    rotate them; it is asked on every use and is expected to cache)."""

    def __init__(self, keys: bytes | SigningKeys | Callable[[], SigningKeys]) -> None:
        if isinstance(keys, bytes):
            keys = SigningKeys(keys)
        if isinstance(keys, SigningKeys):
            fixed = keys
            self._keys: Callable[[], SigningKeys] = lambda: fixed
        else:
            self._keys = keys

    def encode(self, position: Position, task_filter: TaskFilter) -> str:
        payload = json.dumps(
            {"p": position, "f": _filter_fingerprint(task_filter)},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        token = _sign(self._keys().current, payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def decode(self, token: str, task_filter: TaskFilter) -> Position:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidPageToken("too long")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidPageToken("not a token issued by this API") from exc
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not any(
            hmac.compare_digest(signature, _sign(key, payload)) for key in self._keys().accepted
        ):
            raise InvalidPageToken("not a token issued by this API")
        data: Any = json.loads(payload)
        if data.get("f") != _filter_fingerprint(task_filter):
            raise InvalidPageToken("it was issued for different filters")
        position = data.get("p")
        if not isinstance(position, dict):
            raise InvalidPageToken("not a token issued by this API")
        return position


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _filter_fingerprint(task_filter: TaskFilter) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in asdict(task_filter).items()}
