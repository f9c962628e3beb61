"""Opaque, tamper-evident page tokens.

A token is the store's resume position plus the listing it was issued for (the task filter,
or whose dependents), signed with HMAC-SHA256 (signed, not encrypted). Altered, forged or
reused with another listing, it is a 400, never a 500 or a wrong page. Tokens are signed with
the current key and accepted with the previous one too, so a key can rotate without breaking
the pages clients are walking. See docs/api.md#pagination.
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
from uuid import UUID

from taskapi.domain.errors import InvalidPageToken
from taskapi.service.ports import Position, TaskFilter

_SIGNATURE_BYTES = 16
_MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class DependentsOf:
    """The listing of the tasks that depend on ``task_id``."""

    task_id: UUID


# What a token is bound to: a filtered listing of every task, or one task's dependents.
Listing = TaskFilter | DependentsOf


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

    def encode(self, position: Position, listing: Listing) -> str:
        payload = json.dumps(
            {"p": position, "f": _fingerprint(listing)},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        token = _sign(self._keys().current, payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def decode(self, token: str, listing: Listing) -> Position:
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
        # Signed by us, but perhaps by another release, or with a leaked secret: trust nothing
        # about its shape. (The store checks the position's own shape.)
        try:
            data: Any = json.loads(payload)
        except ValueError as exc:  # not UTF-8, not JSON
            raise InvalidPageToken("not a token issued by this API") from exc
        if not isinstance(data, dict) or set(data) != {"f", "p"}:
            raise InvalidPageToken("not a token issued by this API")
        expected = _fingerprint(listing)
        if data["f"] != expected:
            same_kind = isinstance(data["f"], dict) and set(data["f"]) == set(expected)
            raise InvalidPageToken(_OTHER_LISTING[same_kind, isinstance(listing, DependentsOf)])
        position = data["p"]
        if not isinstance(position, dict):
            raise InvalidPageToken("not a token issued by this API")
        return position


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


_OTHER_LISTING = {
    (True, False): "it was issued for different filters",
    (True, True): "it was issued for the dependents of another task",
    (False, False): "it was issued for another listing",
    (False, True): "it was issued for another listing",
}


def _fingerprint(listing: Listing) -> dict[str, str | None]:
    if isinstance(listing, DependentsOf):
        return {"dependents_of": str(listing.task_id)}
    return {k: (None if v is None else str(v)) for k, v in asdict(listing).items()}
