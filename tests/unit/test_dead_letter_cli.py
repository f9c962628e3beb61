"""``taskapi events dead-letters`` / ``redrive`` with ``--source``: the argument and
configuration errors, answered before any request (this suite may open no socket), and the
promise that the local commands never load boto3. The AWS paths themselves run on the moto
endpoint (tests/integration/test_redrive.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taskapi.local.cli import main

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """No region, profile or credentials from the machine the tests run on."""
    for name in (
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "TASKAPI_AWS_REGION",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "TASKAPI_EVENT_BUS_NAME", "TASKAPI_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def errors_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["events", *args])
    return status, capsys.readouterr().err


def test_aws_options_need_an_aws_source(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = errors_of(capsys, "redrive", "--message-id", "m-1", "--queue-url", QUEUE)

    assert status == 2
    assert err == (
        "taskapi events redrive: --queue-url, --message-id need --source relay "
        "or --source notifications\n"
    )


def test_an_aws_source_needs_a_queue(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = errors_of(capsys, "dead-letters", "--source", "relay", "--region", "eu-west-1")

    assert status == 2
    assert err == (
        "taskapi events dead-letters: name the queue: --stack NAME or --queue-url URL (relay)\n"
    )


def test_an_aws_source_needs_a_region(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = errors_of(
        capsys, "dead-letters", "--source", "notifications", "--queue-url", QUEUE
    )

    assert status == 2
    assert "no AWS region: pass --region" in err
    assert err.count("\n") == 1


def test_republishing_needs_a_bus_but_a_dry_run_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, err = errors_of(
        capsys, "redrive", "--source", "notifications", "--queue-url", QUEUE, "--all",
        "--region", "eu-west-1",
    )  # fmt: skip
    assert status == 2
    assert "name the bus to republish to: --stack NAME, --bus-name NAME" in err

    # The dry run gets as far as asking for credentials, which there are none of.
    status, err = errors_of(
        capsys, "redrive", "--source", "notifications", "--queue-url", QUEUE, "--all",
        "--region", "eu-west-1", "--dry-run",
    )  # fmt: skip
    assert status == 2
    assert err.startswith("taskapi events redrive: no AWS credentials")
    assert err.count("\n") == 1  # one line, no traceback


def test_redrive_takes_one_selection(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["events", "redrive", "--source", "relay", "--all", "--message-id", "m"])

    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_help_never_loads_boto3_nor_the_local_commands_the_aws_ones() -> None:
    # (The local store's notification wiring loads boto3 through Powertools' idempotency
    # utility, as it did before these commands: what is checked is that --help loads none
    # and that the local dead letters do not load the AWS redrive.)
    probe = (
        "import sys\n"
        "from taskapi.local.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('boto3 loaded:', 'boto3' in sys.modules)\n"
        "main(['events', 'dead-letters', '--limit', '1'])\n"
        "print(sorted(m for m in sys.modules if m.endswith('dead_letters')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"TASKAPI_STORE": "memory", "PATH": ""},
    )
    assert "boto3 loaded: False" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "[]"
