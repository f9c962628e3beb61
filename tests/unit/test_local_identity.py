"""The local user pool (``taskapi.local.identity``) and ``taskapi token``: keys, tokens, claims
and the member identity, without a server (the gateway over sockets: tests/local)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from taskapi.entrypoints.http.identity import caller_of
from taskapi.local import identity
from taskapi.local.cli import main
from taskapi.local.identity import (
    KeyFileError,
    NotAuthenticated,
    TokenVerifier,
    authorizer_claims,
    issue_token,
    load_or_create_key,
    member_identity,
)
from taskapi.local.proxy import HttpRequest, to_proxy_event
from tests.tokens import ALICE

# Pinned: a user's sub must be the same on every machine and in every release, because owners
# add members by it (cognito:<sub>); changing the namespace would orphan every membership.
ALICE_IDENTITY = "cognito:7724ae0a-fe2b-5658-9810-f85ae844d505"


def authorization(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def test_a_token_round_trips_with_the_claims_of_a_cognito_id_token(tmp_path: Path) -> None:
    token = issue_token(tmp_path, ALICE, ttl_seconds=600, now=lambda: 1_700_000_000.5)
    verifier = TokenVerifier.for_data_dir(tmp_path)

    # Verified at its issue time (it expired long ago by the wall clock).
    claims = jwt.decode(
        token,
        verifier.public_key,
        algorithms=["RS256"],
        audience=identity.CLIENT_ID,
        options={"verify_exp": False},
    )

    assert claims["sub"] == str(uuid.UUID(claims["sub"]))
    assert claims["cognito:username"] == claims["sub"]
    assert (claims["email"], claims["email_verified"], claims["token_use"]) == (ALICE, True, "id")
    assert (claims["iss"], claims["aud"]) == (identity.ISSUER, identity.CLIENT_ID)
    assert (claims["iat"], claims["exp"]) == (1_700_000_000, 1_700_000_600)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == identity.key_id(verifier.public_key)


def test_the_verifier_accepts_a_fresh_token_bare_or_after_bearer_in_any_case(
    tmp_path: Path,
) -> None:
    token = issue_token(tmp_path, "Bob@Example.com")
    verifier = TokenVerifier.for_data_dir(tmp_path)

    for value in (f"Bearer {token}", token, f"bearer {token}", f"  BEARER   {token} "):
        claims = verifier.claims([("authorization", value)])
        assert claims["email"] == "bob@example.com"
        assert member_of(claims) == member_identity("bob@example.com")


def member_of(claims: dict[str, Any]) -> str:
    """The identity the handler derives from a proxy event carrying these claims."""
    event = to_proxy_event(HttpRequest("GET", "/tasks"), claims=authorizer_claims(claims))
    return caller_of(event)


def sign_with(tmp_path: Path, **changes: Any) -> str:
    claims = identity.id_token_claims(ALICE, issued_at=int(time.time()), ttl_seconds=600)
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return identity.sign(claims, load_or_create_key(tmp_path))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-client"}, "another client"),
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x"}, "another issuer"),
        ({"token_use": "access"}, "not an ID token"),
        ({"token_use": None}, "token_use"),
        ({"exp": 1_000}, "expired"),
        ({"sub": None}, "sub"),
        ({"sub": ""}, "no subject"),
    ],
    ids=["audience", "issuer", "access-token", "no-token-use", "expired", "no-sub", "empty-sub"],
)
def test_a_token_with_a_claim_the_pool_would_not_issue_is_refused(
    tmp_path: Path, changes: dict[str, Any], reason: str
) -> None:
    verifier = TokenVerifier.for_data_dir(tmp_path)

    with pytest.raises(NotAuthenticated, match=reason):
        verifier.claims(authorization(sign_with(tmp_path, **changes)))


def test_tokens_of_another_data_directory_or_another_algorithm_are_refused(
    tmp_path: Path,
) -> None:
    verifier = TokenVerifier.for_data_dir(tmp_path / "mine")
    theirs = issue_token(tmp_path / "theirs", ALICE)
    claims = jwt.decode(theirs, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    # HS256 keyed with the public key, the classic algorithm confusion (built by hand: PyJWT
    # itself refuses to sign so).
    public_pem = verifier.public_key.public_bytes(
        identity.serialization.Encoding.PEM,
        identity.serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    signed = ".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT"}, claims)
    )
    mac = hmac.new(public_pem, signed.encode(), hashlib.sha256).digest()
    confused = f"{signed}.{_b64(mac)}"

    with pytest.raises(NotAuthenticated, match="signature"):
        verifier.claims(authorization(theirs))
    for token in (unsigned, unsigned + "x", confused):
        with pytest.raises(NotAuthenticated):
            verifier.claims(authorization(token))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([], "no Authorization header"),
        ([("Authorization", "Bearer")], "no token"),
        ([("Authorization", "Bearer   ")], "no token"),
        ([("Authorization", "")], "no token"),
        ([("Authorization", "a"), ("authorization", "b")], "more than one"),
        ([("Authorization", "Bearer not-a-jwt")], "does not hold a JWT"),
        ([("Authorization", "Basic dXNlcjpwYXNz")], "does not hold a JWT"),
        ([("Authorization", "Bearer a.b.c\u00e9")], "does not hold a JWT"),
        ([("Authorization", "Bearer " + "a" * 9000)], "too long"),
        ([("Authorization", "Bearer aaa.bbb.ccc")], "not valid"),
    ],
    ids=[
        "none",
        "bearer-alone",
        "bearer-spaces",
        "empty",
        "two-headers",
        "not-a-jwt",
        "basic",
        "non-ascii",
        "huge",
        "garbage-jwt",
    ],
)
def test_a_header_without_exactly_one_well_formed_token_is_refused(
    tmp_path: Path, headers: list[tuple[str, str]], reason: str
) -> None:
    verifier = TokenVerifier.for_data_dir(tmp_path)

    with pytest.raises(NotAuthenticated, match=reason):
        verifier.claims(headers)


def test_two_authorization_headers_are_refused_even_if_both_are_valid(tmp_path: Path) -> None:
    token = issue_token(tmp_path, ALICE)

    with pytest.raises(NotAuthenticated, match="more than one"):
        TokenVerifier.for_data_dir(tmp_path).claims(authorization(token) * 2)


# -- the key ------------------------------------------------------------------------------


def test_the_key_is_created_on_first_use_readable_by_its_owner_only_and_then_kept(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "not" / "yet"

    first = load_or_create_key(data_dir)
    path = identity.key_path(data_dir)
    mode = stat.S_IMODE(path.stat().st_mode)
    second = load_or_create_key(data_dir)

    assert mode == 0o600
    assert identity.key_id(first.public_key()) == identity.key_id(second.public_key())
    assert [p.name for p in data_dir.iterdir()] == [identity.KEY_FILE]  # no staging file left
    # A token issued before another process reads the key verifies with what it reads.
    token = issue_token(data_dir, ALICE)
    assert TokenVerifier.for_data_dir(data_dir).claims(authorization(token))["email"] == ALICE


def test_a_key_created_meanwhile_by_another_process_is_not_replaced(tmp_path: Path) -> None:
    theirs = load_or_create_key(tmp_path)
    path = identity.key_path(tmp_path)

    identity._create_key(path)  # lost the race: the link fails, their key stays

    assert identity.key_id(load_or_create_key(tmp_path).public_key()) == identity.key_id(
        theirs.public_key()
    )
    assert [p.name for p in tmp_path.iterdir()] == [identity.KEY_FILE]


def test_a_key_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    load_or_create_key(tmp_path)
    path = identity.key_path(tmp_path)
    os.chmod(path, 0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_key(tmp_path)


def test_a_key_file_that_is_not_a_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = identity.key_path(tmp_path)
    path.write_text("not a key")
    os.chmod(path, 0o600)

    with pytest.raises(KeyFileError, match="delete it"):
        load_or_create_key(tmp_path)


# -- the member identity and the command ----------------------------------------------------


def test_the_member_identity_is_stable_per_address_and_distinct_between_users() -> None:
    assert member_identity(ALICE) == ALICE_IDENTITY
    assert member_identity("  Alice@EXAMPLE.com ") == ALICE_IDENTITY
    assert member_identity("bob@example.com") != ALICE_IDENTITY
    with pytest.raises(identity.InvalidUser, match="not an e-mail address"):
        member_identity("alice")


def test_taskapi_token_identity_prints_the_member_identity_without_touching_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKAPI_DATA_DIR", str(tmp_path / "data"))

    assert main(["token", "--user", "Alice@Example.com", "--identity"]) == 0
    assert capsys.readouterr().out == ALICE_IDENTITY + "\n"
    assert not (tmp_path / "data").exists()


def test_taskapi_token_prints_a_token_the_data_directorys_server_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKAPI_DATA_DIR", str(tmp_path))

    assert main(["token", "--user", ALICE, "--ttl", "120"]) == 0
    token = capsys.readouterr().out

    assert token.endswith("\n")
    assert token.count("\n") == 1
    claims = TokenVerifier.for_data_dir(tmp_path).claims(authorization(token.strip()))
    assert claims["exp"] - claims["iat"] == 120
    assert "cognito:" + claims["sub"] == ALICE_IDENTITY


@pytest.mark.parametrize(
    "argv",
    [
        ["--user", "alice"],
        ["--user", ALICE, "--ttl", "0"],
        ["--user", ALICE, "--ttl", "86401"],
        ["--user", ALICE, "--ttl", "1h"],
    ],
    ids=["not-an-address", "ttl-zero", "ttl-over-a-day", "ttl-not-seconds"],
)
def test_taskapi_token_refuses_what_cognito_would_not_issue(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.setenv("TASKAPI_DATA_DIR", str(tmp_path / "data"))

    try:
        status = main(["token", *argv])
    except SystemExit as exit_:  # argparse's refusal of an option
        status = int(exit_.code or 0)

    assert status == 2
    assert "taskapi token" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_taskapi_token_says_what_is_wrong_with_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKAPI_DATA_DIR", str(tmp_path))
    load_or_create_key(tmp_path)
    os.chmod(identity.key_path(tmp_path), 0o640)

    assert main(["token", "--user", ALICE]) == 2
    assert "chmod 600" in capsys.readouterr().err


# -- the claims in the proxy event -----------------------------------------------------------


def test_the_claims_reach_the_event_as_strings_where_api_gateway_puts_them() -> None:
    claims = identity.id_token_claims(ALICE, issued_at=1_796_187_600, ttl_seconds=3600)

    event = to_proxy_event(HttpRequest("GET", "/tasks"), claims=authorizer_claims(claims))
    given = event["requestContext"]["authorizer"]["claims"]

    assert all(isinstance(value, str) for value in given.values())
    assert given["email_verified"] == "true"
    assert given["iat"] == "Wed Dec 02 05:00:00 UTC 2026"
    assert given["exp"] == "Wed Dec 02 06:00:00 UTC 2026"
    assert given["auth_time"] == "1796187600"
    assert authorizer_claims({"cognito:groups": ["a", "b"]}) == {"cognito:groups": "a,b"}
    assert caller_of(event) == ALICE_IDENTITY
    assert "authorizer" not in to_proxy_event(HttpRequest("GET", "/tasks"))["requestContext"]
