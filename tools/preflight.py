"""Before ``sam deploy``: can SAM find AWS credentials and a region? If not, say what is
missing in one line and exit 1, instead of letting SAM fail halfway with its own error.

    .venv/bin/python tools/preflight.py [--config-file samconfig.toml] [--config-env default]
                                        [--guided]

Resolved the way the SAM CLI (1.170) resolves them, which is botocore's way plus samconfig:

- **profile**: ``profile`` in samconfig (``[<env>.deploy.parameters]``, then
  ``[<env>.global.parameters]``), else ``AWS_DEFAULT_PROFILE``, else ``AWS_PROFILE``, else
  ``default``; a named profile must exist in ``~/.aws/config`` or ``~/.aws/credentials``
  (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``). A samconfig profile is explicit,
  so keys in the environment are then ignored; with a profile from the environment they win.
- **region**: ``region`` in samconfig, else ``AWS_DEFAULT_REGION``, else the profile's
  ``region`` in ``~/.aws/config``. Not ``AWS_REGION``: botocore outside Lambda ignores it.
  With ``--guided`` a missing region is fine (SAM asks for it). An ``AWS_REGION`` that differs
  from the region SAM will use gets a warning (the aws CLI v2 prefers it).
- **credentials**: botocore's default chain for that profile: environment
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), assume-role and
  web-identity settings, SSO, ``credential_process``, ``~/.aws/credentials``,
  ``~/.aws/config``, a container's or the EC2 instance's role.

Credentials are found, not tried: no request leaves the machine (SSO and assume-role
credentials are fetched only when SAM first uses them, so an expired SSO session still shows
up only then, as SAM's own error).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = REPO_ROOT / "samconfig.toml"
# What to do about each missing piece, in one clause each.
HOW_TO_ADD_CREDENTIALS = (
    "run `aws configure sso` and export AWS_PROFILE, or `aws configure`, "
    "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
DEFAULT_PROFILE_SOURCE = "default"


@dataclass(frozen=True)
class Found:
    """What SAM will use: the credential source and the region, each with where it came from."""

    credentials: str | None
    region: str | None
    region_source: str | None
    profile: str
    profile_source: str


def samconfig_value(config: Mapping[str, Any], environment: str, key: str) -> str | None:
    """A deploy setting from samconfig: the deploy command's section wins over global."""
    sections = config.get(environment, {})
    for command in ("deploy", "global"):
        value = sections.get(command, {}).get("parameters", {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


def resolve(samconfig: Mapping[str, Any], environment: str, env: Mapping[str, str]) -> Found:
    """Find the profile, region and credentials SAM would use. Raises botocore's errors for a
    profile that does not exist and for unreadable or partial settings."""
    # A profile SAM passes on (from samconfig) is explicit: botocore then skips the keys in the
    # environment. AWS_DEFAULT_PROFILE / AWS_PROFILE are read by botocore itself and are not.
    configured = samconfig_value(samconfig, environment, "profile")
    session = botocore.session.Session(profile=configured)
    profile_name: str = session.profile or "default"
    if configured is not None:
        profile_source = f"samconfig [{environment}]"
    else:
        variables = [name for name in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if env.get(name)]
        profile_source = variables[0] if variables else DEFAULT_PROFILE_SOURCE

    region = samconfig_value(samconfig, environment, "region")
    region_source = f"samconfig [{environment}]" if region else None
    if region is None:
        region = session.get_config_variable("region")
        if region:
            region_source = (
                "AWS_DEFAULT_REGION" if env.get("AWS_DEFAULT_REGION") else f"profile {profile_name}"
            )
    credentials = session.get_credentials()
    return Found(
        credentials=credentials.method if credentials is not None else None,
        region=region or None,
        region_source=region_source,
        profile=profile_name,
        profile_source=profile_source,
    )


def problems(found: Found, env: Mapping[str, str], *, guided: bool) -> list[str]:
    """One clause per missing piece: what is missing and the usual way to provide it."""
    missing = []
    if found.credentials is None:
        missing.append(
            f"no AWS credentials for {describe_profile(found)}: {HOW_TO_ADD_CREDENTIALS}"
        )
    if found.region is None and not guided:
        if env.get("AWS_REGION"):
            missing.append(
                "no AWS region: AWS_REGION is set, but SAM reads AWS_DEFAULT_REGION "
                "(export AWS_DEFAULT_REGION=$AWS_REGION)"
            )
        else:
            missing.append(
                "no AWS region: export AWS_DEFAULT_REGION, or set region in "
                f"{describe_profile(found)} of ~/.aws/config or in samconfig.toml"
            )
    return missing


def describe_profile(found: Found) -> str:
    if found.profile_source == DEFAULT_PROFILE_SOURCE:
        return f"profile {found.profile!r}"
    return f"profile {found.profile!r} (from {found.profile_source})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", type=Path, default=SAMCONFIG)
    parser.add_argument("--config-env", default="default")
    parser.add_argument("--guided", action="store_true", help="SAM will ask for the region")
    arguments = parser.parse_args(argv)
    env = os.environ  # what botocore reads; the checks only name the variables
    try:
        samconfig = tomllib.loads(arguments.config_file.read_text(encoding="utf-8"))
        found = resolve(samconfig, arguments.config_env, env)
    except (OSError, tomllib.TOMLDecodeError) as error:
        print(f"make deploy: cannot read {arguments.config_file}: {error}", file=sys.stderr)
        return 1
    except botocore.exceptions.ProfileNotFound as error:
        print(
            f"make deploy: {error} (check AWS_PROFILE, AWS_CONFIG_FILE and "
            "AWS_SHARED_CREDENTIALS_FILE)",
            file=sys.stderr,
        )
        return 1
    except botocore.exceptions.BotoCoreError as error:
        # Partial credentials in the environment, an unreadable config file, and the like.
        print(f"make deploy: {error}", file=sys.stderr)
        return 1
    missing = problems(found, env, guided=arguments.guided)
    if missing:
        print(f"make deploy: {'; '.join(missing)}", file=sys.stderr)
        return 1
    other = env.get("AWS_REGION")
    if found.region and other and other != found.region:
        # Not a refusal: the deploy is fine, but the aws CLI (v2 prefers AWS_REGION) would
        # then look for the stack in another region.
        print(
            f"make deploy: warning: SAM deploys to {found.region}, but AWS_REGION={other} "
            "(read by the aws CLI, not by SAM)",
            file=sys.stderr,
        )
    region = f"{found.region} (from {found.region_source})" if found.region else "asked by SAM"
    print(f"AWS credentials: {found.credentials}, {describe_profile(found)}; region {region}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
