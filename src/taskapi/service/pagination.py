"""Opaque, tamper-evident page tokens.

A token is the store's resume position plus the listing it was issued for (which workspace,
which filters, whose dependents), signed with HMAC-SHA256 (signed, not encrypted). Altered,
forged or reused with another listing or workspace, it is a 400, never a 500 or a wrong page.
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
from uuid import UUID

from taskapi.domain.errors import InvalidPageToken
from taskapi.service.ports import Position, TaskFilter

_SIGNATURE_BYTES = 16
_MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class TasksIn:
    """The listing of a workspace's tasks that pass ``task_filter``."""

    workspace_id: UUID
    task_filter: TaskFilter


@dataclass(frozen=True, slots=True)
class DependentsOf:
    """The listing of the tasks of a workspace that depend on ``task_id``."""

    workspace_id: UUID
    task_id: UUID


@dataclass(frozen=True, slots=True)
class WorkspacesOf:
    """The listing of the workspaces ``member`` belongs to."""

    member: str


@dataclass(frozen=True, slots=True)
class MembersOf:
    """The listing of a workspace's members."""

    workspace_id: UUID


# What a token is bound to: which listing, of which workspace (or caller), with which filters.
Listing = TasksIn | DependentsOf | WorkspacesOf | MembersOf


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
            raise InvalidPageToken(_mismatch(data["f"], expected))
        position = data["p"]
        if not isinstance(position, dict):
            raise InvalidPageToken("not a token issued by this API")
        return position


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _fingerprint(listing: Listing) -> dict[str, str | None]:
    fields = {
        name: None if value is None else str(value) for name, value in _fields(listing).items()
    }
    return {"listing": type(listing).__name__, **fields}


def _fields(listing: Listing) -> dict[str, object]:
    if isinstance(listing, TasksIn):
        return {"workspace_id": listing.workspace_id, **asdict(listing.task_filter)}
    return asdict(listing)


def _mismatch(issued: object, expected: dict[str, str | None]) -> str:
    """Why a token signed by us does not fit this listing, in the client's terms."""
    if not isinstance(issued, dict) or issued.get("listing") != expected["listing"]:
        return "it was issued for another listing"
    if "workspace_id" in expected and issued.get("workspace_id") != expected["workspace_id"]:
        return "it was issued for another workspace"
    if expected["listing"] == DependentsOf.__name__:
        return "it was issued for the dependents of another task"
    if expected["listing"] == WorkspacesOf.__name__:
        return "it was issued to another caller"
    return "it was issued for different filters"
