"""`make deploy` stops before SAM with one line when SAM would find no credentials or no
region (tools/preflight.py).

Each test runs the preflight's ``main`` with an environment of its own: every ``AWS_*``
variable of the developer removed, a home directory, AWS config and credentials files it
writes, and the EC2 instance metadata provider switched off (AWS_EC2_METADATA_DISABLED), so
nothing reaches the network and nothing of the developer's own AWS setup leaks in.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tools import preflight

from tests.infra.cfn import REPO_ROOT

SAMCONFIG = REPO_ROOT / "samconfig.toml"
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-example"}


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


Preflight = Callable[..., Outcome]


@pytest.fixture
def run_preflight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Preflight:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def run(
        *args: str,
        config: str = "",
        credentials: str = "",
        samconfig: Path = SAMCONFIG,
        **variables: str,
    ) -> Outcome:
        (tmp_path / "config").write_text(config, encoding="utf-8")
        (tmp_path / "credentials").write_text(credentials, encoding="utf-8")
        with monkeypatch.context() as scoped:
            for name, value in variables.items():
                scoped.setenv(name, value)
            returncode = preflight.main(["--config-file", str(samconfig), *args])
        captured = capsys.readouterr()
        return Outcome(returncode, captured.out, captured.err)

    return run


def _refusal(result: Outcome) -> str:
    """The one line a refused preflight prints (and checks that it is one line)."""
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("make deploy: ")
    return lines[0]


def test_nothing_configured_names_both_credentials_and_region(run_preflight: Preflight) -> None:
    line = _refusal(run_preflight())

    assert "no AWS credentials for profile 'default'" in line
    assert "no AWS region" in line
    assert "AWS_DEFAULT_REGION" in line


def test_credentials_without_a_region_name_only_the_region(run_preflight: Preflight) -> None:
    line = _refusal(run_preflight(**KEYS))

    assert "no AWS region" in line
    assert "credentials" not in line


def test_aws_region_alone_is_not_a_region_for_sam(run_preflight: Preflight) -> None:
    # botocore (under SAM) reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION.
    line = _refusal(run_preflight(AWS_REGION="eu-west-1", **KEYS))

    assert "AWS_REGION is set, but SAM reads AWS_DEFAULT_REGION" in line


def test_a_region_without_credentials_names_only_the_credentials(run_preflight: Preflight) -> None:
    line = _refusal(run_preflight(AWS_DEFAULT_REGION="eu-west-1"))

    assert "no AWS credentials" in line
    assert "aws configure sso" in line
    assert "region" not in line


def test_half_a_key_pair_is_named(run_preflight: Preflight) -> None:
    line = _refusal(run_preflight(AWS_DEFAULT_REGION="eu-west-1", AWS_ACCESS_KEY_ID="AKIAEXAMPLE"))

    assert "AWS_SECRET_ACCESS_KEY" in line


def test_a_profile_that_does_not_exist_is_named(run_preflight: Preflight) -> None:
    line = _refusal(run_preflight(AWS_PROFILE="nowhere", AWS_DEFAULT_REGION="eu-west-1"))

    assert "nowhere" in line


def test_env_keys_and_default_region_pass(run_preflight: Preflight) -> None:
    result = run_preflight(AWS_DEFAULT_REGION="eu-west-1", **KEYS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "AWS credentials: env, profile 'default'; region eu-west-1 (from AWS_DEFAULT_REGION)"
    )


def test_a_named_profile_supplies_credentials_and_region(run_preflight: Preflight) -> None:
    result = run_preflight(
        config="[profile dev]\nregion = eu-central-1\n",
        credentials="[dev]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
        AWS_PROFILE="dev",
    )

    assert result.returncode == 0, result.stderr
    assert "shared-credentials-file, profile 'dev' (from AWS_PROFILE)" in result.stdout
    assert "region eu-central-1 (from profile dev)" in result.stdout


def test_keys_in_the_environment_win_over_aws_profile(run_preflight: Preflight) -> None:
    result = run_preflight(
        config="[profile dev]\nregion = eu-central-1\n", AWS_PROFILE="dev", **KEYS
    )

    assert result.returncode == 0, result.stderr
    assert "AWS credentials: env, profile 'dev' (from AWS_PROFILE)" in result.stdout


def test_a_samconfig_profile_is_explicit_and_ignores_keys_in_the_environment(
    run_preflight: Preflight, tmp_path: Path
) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[default.deploy.parameters]\nprofile = "ops"\n', encoding="utf-8"
    )

    line = _refusal(
        run_preflight(
            samconfig=samconfig,
            config="[profile ops]\nregion = eu-west-1\n",
            AWS_DEFAULT_REGION="eu-west-1",
            **KEYS,
        )
    )

    assert "no AWS credentials for profile 'ops' (from samconfig [default])" in line


def test_an_aws_region_sam_will_not_use_is_pointed_out(run_preflight: Preflight) -> None:
    result = run_preflight(AWS_DEFAULT_REGION="eu-west-1", AWS_REGION="us-east-1", **KEYS)

    assert result.returncode == 0
    assert result.stderr.strip() == (
        "make deploy: warning: SAM deploys to eu-west-1, but AWS_REGION=us-east-1 "
        "(read by the aws CLI, not by SAM)"
    )


def test_samconfig_region_and_profile_win_as_they_do_for_sam(
    run_preflight: Preflight, tmp_path: Path
) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[default.global.parameters]\nregion = "ap-southeast-2"\n'
        '[default.deploy.parameters]\nprofile = "ops"\n',
        encoding="utf-8",
    )

    result = run_preflight(
        samconfig=samconfig,
        credentials="[ops]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_PROFILE="someone-else",
    )

    assert result.returncode == 0, result.stderr
    assert "profile 'ops' (from samconfig [default])" in result.stdout
    assert "region ap-southeast-2 (from samconfig [default])" in result.stdout


def test_a_guided_deploy_needs_credentials_but_asks_for_the_region(
    run_preflight: Preflight,
) -> None:
    guided = run_preflight("--guided", **KEYS)
    without_credentials = _refusal(run_preflight("--guided"))

    assert guided.returncode == 0, guided.stderr
    assert "region asked by SAM" in guided.stdout
    assert "no AWS credentials" in without_credentials
    assert "region" not in without_credentials


@pytest.mark.parametrize("environment", ["default", "e2e"])
def test_the_committed_samconfig_deploys_without_sam_build_or_fixed_account(
    environment: str,
) -> None:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))[environment]
    settings = {key for section in config.values() for key in section.get("parameters", {})}

    assert "build" not in config
    assert "deploy" in config
    assert {"region", "profile", "s3_bucket"}.isdisjoint(settings)
