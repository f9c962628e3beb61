"""The local user pool: ID tokens shaped as Cognito's, signed with the data directory's key.

``taskapi token`` issues them (``issue_token``); ``taskapi serve``'s gateway verifies them
(``TokenVerifier``) as API Gateway's Cognito authorizer does, and hands the handler their claims
as strings (``authorizer_claims``). A user's ``sub`` is derived from the e-mail address, so the
member identity ``cognito:<sub>`` is stable. See docs/api.md#authentication.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from email_validator import EmailNotValidError, validate_email

# What a deployed pool's tokens carry in these claims, with local values: no port (it changes
# between runs), and nothing a deployed stack would accept.
ISSUER = "http://localhost/taskapi-local-user-pool"
CLIENT_ID = "taskapi-local-client"
ALGORITHM = "RS256"  # Cognito's; the verifier needs only the public key
KEY_FILE = "token-signing-key.pem"
# Cognito's default ID token validity, and its maximum.
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 86_400
# Fixed for ever: changing it would change every local user's sub (and so their memberships).
SUBJECT_NAMESPACE = uuid.UUID("6f2b7c1e-4a0d-5e8b-9c3f-2d1a0b9e8f77")
MEMBER_PREFIX = "cognito:"
# A JWS in compact form; anything else is refused before a parser sees it. Cognito's ID tokens
# are about 1 KB; 8 KiB leaves room and keeps a hostile header cheap to refuse.
MAX_TOKEN_CHARACTERS = 8192
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_REQUIRED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "token_use", "email")


class InvalidUser(ValueError):
    """The ``--user`` given is not an e-mail address."""


class KeyFileError(Exception):
    """The signing key file cannot be used as it is; the message says why and what to do."""


class NotAuthenticated(Exception):
    """The request carries no token the local user pool accepts; the message says why (for
    the server's log: the client gets the deployed gateway's fixed message)."""


def normalized_email(address: str) -> str:
    """The address as the pool keys it: trimmed and in lower case."""
    candidate = address.strip()
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidUser(f"{address!r} is not an e-mail address: {error}") from None
    return candidate.lower()


def subject_of(address: str) -> str:
    """The ``sub`` of the local user with this e-mail address: the same on every machine."""
    return str(uuid.uuid5(SUBJECT_NAMESPACE, normalized_email(address)))


def member_identity(address: str) -> str:
    """The caller identity the API derives from this user's tokens (``caller_of``)."""
    return MEMBER_PREFIX + subject_of(address)


# -- the key ------------------------------------------------------------------------------


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_key(data_dir: Path) -> rsa.RSAPrivateKey:
    """The data directory's signing key, created on first use (mode 0600, never replaced:
    a server and a ``taskapi token`` started together agree on one key)."""
    path = key_path(data_dir)
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written whole under a unique name, then linked into place: no reader ever sees half a
    # key, and link() fails instead of replacing a key another process created meanwhile.
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)
    finally:
        staging.unlink()


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path} is readable by others (mode {mode:04o}): anyone who can read it can sign "
            f"tokens for any user. Run `chmod 600 {path}`, or delete it to get a new key."
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise KeyFileError(
            f"{path} is not a PEM private key: delete it to get a new one (tokens issued "
            "with the old key stop working)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA key: delete it to get a new one")
    return key


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The ``kid`` header: a digest of the public key, as a JWKS would list it."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).decode().rstrip("=")


# -- issuing ------------------------------------------------------------------------------


def id_token_claims(address: str, *, issued_at: int, ttl_seconds: int) -> dict[str, Any]:
    """The claims of a Cognito ID token for a pool that signs users in with their e-mail
    address (where ``cognito:username`` is the ``sub``)."""
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"the TTL must be 1 to {MAX_TTL_SECONDS} seconds, not {ttl_seconds}")
    email = normalized_email(address)
    subject = subject_of(email)
    return {
        "sub": subject,
        "email": email,
        "email_verified": True,
        "cognito:username": subject,
        "token_use": "id",
        "auth_time": issued_at,
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }


def sign(claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(
        dict(claims), key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key())}
    )


def issue_token(
    data_dir: Path,
    address: str,
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: Callable[[], float] = time.time,
) -> str:
    """An ID token for ``address``, signed with ``data_dir``'s key (what ``taskapi token``
    prints; tests mint theirs here too)."""
    claims = id_token_claims(address, issued_at=int(now()), ttl_seconds=ttl_seconds)
    return sign(claims, load_or_create_key(data_dir))


# -- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    """What API Gateway's Cognito authorizer checks: one ``Authorization`` header holding the
    token, bare or after ``Bearer``; its RS256 signature by this pool's key; ``exp``,
    ``iss``, ``aud`` and ``token_use`` (an ID token)."""

    public_key: rsa.RSAPublicKey
    issuer: str = ISSUER
    audience: str = CLIENT_ID

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> TokenVerifier:
        return cls(load_or_create_key(data_dir).public_key())

    def claims(self, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The verified claims of the request with these headers; ``NotAuthenticated``
        otherwise."""
        token = _token_in(headers)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": list(_REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated("the token is for another client (aud)") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated("the token is from another issuer (iss)") from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("the token's signature is not this data directory's") from None
        except jwt.PyJWTError as error:
            raise NotAuthenticated(f"the token is not valid: {error}") from None
        if claims.get("token_use") != "id":
            raise NotAuthenticated("the token is not an ID token (token_use)")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise NotAuthenticated("the token has no subject (sub)")
        return claims


def _token_in(headers: Sequence[tuple[str, str]]) -> str:
    values = [value for name, value in headers if name.lower() == "authorization"]
    if not values:
        raise NotAuthenticated("no Authorization header")
    if len(values) > 1:
        raise NotAuthenticated("more than one Authorization header")
    value = values[0].strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token:
        raise NotAuthenticated("the Authorization header holds no token")
    if len(token) > MAX_TOKEN_CHARACTERS:
        raise NotAuthenticated("the token is too long")
    if not _COMPACT_JWS.fullmatch(token):
        raise NotAuthenticated("the Authorization header does not hold a JWT")
    return token


def authorizer_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway's Cognito authorizer puts them in a REST proxy event
    (``requestContext.authorizer.claims``): every value a string, booleans in lower case,
    ``exp`` and ``iat`` as dates (``Wed Dec 02 05:00:00 UTC 2026``), lists comma-joined."""
    return {name: _claim_text(name, value) for name, value in claims.items()}


def _claim_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in ("exp", "iat") and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
