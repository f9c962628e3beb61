"""The e2e client's authentication: what a deployed stack will receive, checked offline."""

from __future__ import annotations

import re

import pytest
from botocore.credentials import Credentials
from tests.e2e.http_client import (
    ApiClient,
    BearerToken,
    SigV4Signer,
    authenticator_for,
    region_of,
)

API_URL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"


def test_the_region_comes_from_an_execute_api_url() -> None:
    assert region_of(API_URL, environ={}) == "eu-west-1"


def test_a_custom_domain_takes_the_region_from_the_environment() -> None:
    url = "https://tasks.example.org/v1"

    assert region_of(url, environ={"AWS_REGION": "ap-southeast-2"}) == "ap-southeast-2"
    with pytest.raises(RuntimeError, match="cannot tell the region"):
        region_of(url, environ={})


def test_sigv4_signs_for_execute_api_in_the_api_region() -> None:
    signer = SigV4Signer(Credentials("AKIDEXAMPLE", "secret", "session-token"), "eu-west-1")

    headers = signer(
        "POST",
        f"{API_URL}/tasks?limit=5",
        {"content-type": "application/json"},
        b'{"title": "x"}',
    )

    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert re.search(r"/\d{8}/eu-west-1/execute-api/aws4_request", authorization)
    assert "content-type" in authorization.split("SignedHeaders=")[1]
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert re.fullmatch(r"\d{8}T\d{6}Z", headers["X-Amz-Date"])


def test_signatures_depend_on_the_body() -> None:
    signer = SigV4Signer(Credentials("AKIDEXAMPLE", "secret"), "eu-west-1")

    first = signer("POST", f"{API_URL}/tasks", {}, b'{"title": "a"}')
    second = signer("POST", f"{API_URL}/tasks", {}, b'{"title": "b"}')

    assert first["Authorization"] != second["Authorization"]


def test_a_cognito_id_token_takes_precedence_over_sigv4() -> None:
    authenticate = authenticator_for(API_URL, environ={"TASKAPI_E2E_ID_TOKEN": "eyJ.token"})

    assert authenticate == BearerToken("eyJ.token")
    assert authenticate("GET", API_URL, {"accept": "application/json"}, b"") == {
        "accept": "application/json",
        "Authorization": "eyJ.token",
    }


def test_a_deployed_client_strips_the_trailing_slash() -> None:
    client = ApiClient.for_deployed_stack(API_URL + "/", environ={"TASKAPI_E2E_ID_TOKEN": "t"})

    assert client.base_url == API_URL
    assert client.authenticate is not None
