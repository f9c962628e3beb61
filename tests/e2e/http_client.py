"""The e2e suite's HTTP client: plain against a local ``taskapi serve``, authenticated against
a deployed stack.

Against AWS the API requires IAM auth (SigV4, service ``execute-api``) or, with
``AuthMode=COGNITO``, a user pool ID token. ``authenticator_for`` picks one from the
environment: ``TASKAPI_E2E_ID_TOKEN`` if set, else SigV4 with credentials from botocore's
default chain (environment, ``AWS_PROFILE``/SSO, instance or container role). Signing uses
botocore's own ``SigV4Auth``; nothing here re-implements the algorithm.

The client is built on urllib3 (a dependency of botocore, so always installed) and never raises
for an HTTP status: tests assert on statuses, including 4xx.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import botocore.session
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

API_URL_VARIABLE = "TASKAPI_API_URL"
ID_TOKEN_VARIABLE = "TASKAPI_E2E_ID_TOKEN"
REGION_VARIABLES = ("TASKAPI_E2E_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")

# https://{api-id}.execute-api.{region}.amazonaws.com[.cn]/{stage}
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")


class Authenticator(Protocol):
    """Adds whatever a request needs to be accepted; returns the headers to send."""

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]: ...


class SigV4Signer:
    """Signs each request with Signature Version 4 for API Gateway (``execute-api``)."""

    service = "execute-api"

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials
        self.region = region

    @classmethod
    def from_default_chain(cls, region: str) -> SigV4Signer:
        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise RuntimeError(
                f"{API_URL_VARIABLE} is set but no AWS credentials were found: configure the "
                "default chain (AWS_PROFILE, aws configure, or AWS_ACCESS_KEY_ID/...)"
            )
        return cls(credentials, region)

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        # Frozen per request: refreshable credentials (SSO, roles) may rotate between requests.
        SigV4Auth(self._credentials.get_frozen_credentials(), self.service, self.region).add_auth(
            request
        )
        return dict(request.headers.items())


@dataclass(frozen=True, slots=True)
class BearerToken:
    """An ``Authorization`` value: a Cognito user pool ID token, as the API's Cognito
    authorizer expects it (bare), or ``Bearer <token>`` for the local gateway."""

    token: str

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return {**headers, "Authorization": self.token}


def region_of(api_url: str, environ: Mapping[str, str] = os.environ) -> str:
    """The region of an execute-api URL, else the first of ``REGION_VARIABLES`` that is set
    (custom domain names do not carry it)."""
    match = _EXECUTE_API_HOST.match(urlsplit(api_url).hostname or "")
    if match:
        return match["region"]
    for name in REGION_VARIABLES:
        if environ.get(name):
            return environ[name]
    raise RuntimeError(
        f"cannot tell the region of {api_url}: set one of {', '.join(REGION_VARIABLES)}"
    )


def authenticator_for(api_url: str, environ: Mapping[str, str] = os.environ) -> Authenticator:
    token = environ.get(ID_TOKEN_VARIABLE)
    if token:
        return BearerToken(token)
    return SigV4Signer.from_default_chain(region_of(api_url, environ))


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class ApiClient:
    """Requests against ``base_url`` (no trailing slash), authenticated when an authenticator
    is given. Connections are pooled and reused across requests."""

    base_url: str
    authenticate: Authenticator | None = None
    timeout_seconds: float = 30.0
    _pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))

    @classmethod
    def for_deployed_stack(cls, api_url: str, environ: Mapping[str, str] = os.environ) -> ApiClient:
        return cls(api_url.rstrip("/"), authenticate=authenticator_for(api_url, environ))

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        url = self.base_url + path
        if params:
            url += "?" + urlencode(sorted((k, str(v)) for k, v in params.items()))
        body = b"" if json_body is None else json.dumps(json_body).encode()
        sent = {"accept": "application/json", **(headers or {})}
        if json_body is not None:
            sent.setdefault("content-type", "application/json")
        if self.authenticate is not None:
            sent = self.authenticate(method, url, sent, body)
        reply = self._pool.request(
            method,
            url,
            body=body or None,
            headers=sent,
            timeout=self.timeout_seconds,
            redirect=False,
        )
        return Response(status=reply.status, headers=reply.headers, body=reply.data)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self._pool.clear()
