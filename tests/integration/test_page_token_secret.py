"""The page-token keys come from Secrets Manager at run time (moto server, or AWS with
TASKAPI_AWS_TESTS=1), and a rotation keeps the tokens in flight valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from taskapi.adapters.aws.secrets import SecretsManagerSigningKeys
from taskapi.domain.errors import InvalidPageToken
from taskapi.service.pagination import PageTokenCodec
from taskapi.service.ports import StoreFailure, TaskFilter
from tests.moto_server import AwsTarget

pytestmark = pytest.mark.integration

POSITION = {"created_at": "2025-01-15T09:30:00+00:00", "task_id": "1"}


@pytest.fixture
def secrets(aws_target: AwsTarget) -> Any:
    return aws_target.session().client(
        "secretsmanager", endpoint_url=aws_target.endpoint_url, region_name=aws_target.region
    )


@pytest.fixture
def secret_id(aws_target: AwsTarget, secrets: Any) -> Iterator[str]:
    name = aws_target.unique_name("page-tokens")
    arn = secrets.create_secret(
        Name=name, SecretString=json.dumps({"current": "key-a", "previous": ""})
    )["ARN"]
    yield arn
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def rotate(secrets: Any, secret_id: str, new_key: str) -> None:
    current = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])["current"]
    secrets.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"current": new_key, "previous": current})
    )


def test_tokens_survive_one_rotation_and_not_two(secrets: Any, secret_id: str) -> None:
    codec = PageTokenCodec(SecretsManagerSigningKeys(secret_id, lambda: secrets, max_age_seconds=0))
    token = codec.encode(POSITION, TaskFilter())

    rotate(secrets, secret_id, "key-b")
    assert codec.decode(token, TaskFilter()) == POSITION

    rotate(secrets, secret_id, "key-c")
    with pytest.raises(InvalidPageToken):
        codec.decode(token, TaskFilter())


def test_the_keys_are_cached_per_container(secrets: Any, secret_id: str) -> None:
    keys = SecretsManagerSigningKeys(secret_id, lambda: secrets, max_age_seconds=300)
    first = keys()
    rotate(secrets, secret_id, "key-b")
    assert keys() == first  # within max_age: no call to Secrets Manager


def test_a_secret_of_the_wrong_shape_is_a_store_failure(secrets: Any, secret_id: str) -> None:
    secrets.put_secret_value(SecretId=secret_id, SecretString="just-a-string")
    with pytest.raises(StoreFailure, match="page-token secret"):
        SecretsManagerSigningKeys(secret_id, lambda: secrets, max_age_seconds=0)()
