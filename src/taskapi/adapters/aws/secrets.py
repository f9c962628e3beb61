"""The page-token signing keys, read at run time from Secrets Manager (Powertools Parameters),
cached per container for ``max_age`` seconds; never in the function's configuration.

The secret is JSON, ``{"current": ..., "previous": ...}``: rotating writes a new current and
moves the old one to previous, so tokens in flight stay valid until the next rotation.
See docs/deployment.md#the-page-token-secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskapi.service.pagination import SigningKeys
from taskapi.service.ports import StoreFailure

DEFAULT_MAX_AGE_SECONDS = 300


class SecretsManagerSigningKeys:
    def __init__(
        self,
        secret_id: str,
        client: Callable[[], Any],
        *,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._secret_id = secret_id
        self._client = client
        self._max_age = max_age_seconds
        self._provider: Any = None

    def __call__(self) -> SigningKeys:
        if self._provider is None:
            # Imported on first use: only list requests need it, not every cold start.
            from aws_lambda_powertools.utilities.parameters import (  # noqa: PLC0415
                SecretsProvider,
            )

            self._provider = SecretsProvider(boto3_client=self._client())
        try:
            value = self._provider.get(self._secret_id, max_age=self._max_age, transform="json")
        except Exception as exc:  # Powertools wraps every failure in its own GetParameterError
            raise StoreFailure(f"the page-token secret could not be read: {exc}") from exc
        return _keys(value)


def _keys(value: Any) -> SigningKeys:
    if not isinstance(value, dict) or not isinstance(value.get("current"), str):
        raise StoreFailure('the page-token secret is not {"current": ..., "previous": ...}')
    previous = value.get("previous")
    return SigningKeys(
        current=value["current"].encode(),
        previous=(previous.encode(),) if isinstance(previous, str) and previous else (),
    )
