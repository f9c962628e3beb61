"""``taskapi token --user EMAIL [--ttl SECONDS] [--identity]``: an ID token of the local user
pool for that user, to send as ``Authorization: Bearer <token>`` to ``taskapi serve`` (same
``TASKAPI_DATA_DIR``); ``--identity`` prints the member identity ``cognito:<sub>`` instead.
See docs/api.md#authentication.
"""

from __future__ import annotations

import argparse
import sys

from taskapi.config import Settings
from taskapi.local.identity import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    InvalidUser,
    KeyFileError,
    issue_token,
    member_identity,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print an ID token for the local server (or a user's member identity)",
        description="Print a signed ID token for USER, shaped as a Cognito user pool's, for "
        "`taskapi serve` with the same TASKAPI_DATA_DIR (default .taskapi), whose key signs "
        'it: curl -H "Authorization: Bearer $(taskapi token --user alice@example.com)" ...',
    )
    parser.add_argument("--user", required=True, metavar="EMAIL", help="the user's e-mail address")
    parser.add_argument(
        "--ttl",
        type=_ttl,
        default=DEFAULT_TTL_SECONDS,
        metavar="SECONDS",
        help=f"how long the token is valid (default {DEFAULT_TTL_SECONDS}, at most "
        f"{MAX_TTL_SECONDS}, as Cognito's ID tokens)",
    )
    parser.add_argument(
        "--identity",
        action="store_true",
        help="print the user's member identity (cognito:<sub>, stable per e-mail address) "
        "instead of a token: what an owner adds to a workspace",
    )
    parser.set_defaults(func=_token)


def _ttl(text: str) -> int:
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= seconds <= MAX_TTL_SECONDS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_TTL_SECONDS} seconds")
    return seconds


def _token(args: argparse.Namespace) -> int:
    try:
        if args.identity:
            print(member_identity(args.user))
        else:
            data_dir = Settings.from_environment().data_dir
            print(issue_token(data_dir, args.user, ttl_seconds=args.ttl))
    except (InvalidUser, KeyFileError) as error:
        print(f"taskapi token: {error}", file=sys.stderr)
        return 2
    return 0
