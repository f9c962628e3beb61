"""Tokens for the local gateway, minted by the code ``taskapi token`` runs
(``identity.issue_token``), and local servers that verify them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskapi.local.gateway import LocalApiServer
from taskapi.local.identity import TokenVerifier, issue_token
from taskapi.local.proxy import Handler

ALICE = "alice@example.com"


def token_for(data_dir: Path, user: str = ALICE, **options: Any) -> str:
    """What ``TASKAPI_DATA_DIR=data_dir taskapi token --user USER`` prints."""
    return issue_token(data_dir, user, **options)


def bearer(data_dir: Path, user: str = ALICE, **options: Any) -> dict[str, str]:
    """The ``Authorization`` header of a request by ``user`` to a server on ``data_dir``."""
    return {"Authorization": f"Bearer {token_for(data_dir, user, **options)}"}


def local_server(handler: Handler, data_dir: Path, **options: Any) -> LocalApiServer:
    """A ``LocalApiServer`` on a free port of 127.0.0.1 that accepts ``data_dir``'s tokens."""
    verifier = TokenVerifier.for_data_dir(data_dir)
    return LocalApiServer(("127.0.0.1", 0), handler, verifier=verifier, **options)
