"""The resolver of this API: Powertools' REST resolver, adjusted where HTTP or the contract
need it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.shared.types import AnyCallableT

from taskapi.entrypoints.http.route_table import RouteTable

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI


class TaskApiResolver(APIGatewayRestResolver):
    """The REST resolver, plus what this API needs from it.

    * It records every route in a ``RouteTable``, to answer 405 with ``Allow``.
    * A path parameter matches any segment, so a malformed id is a 400, not a 404.
    * Its OpenAPI document tells the truth about validation: with validation on, Powertools
      documents a 422 ``HTTPValidationError`` on every route, while this API answers invalid
      requests with 400 and its own error body (documented per route); and an optional
      header or query parameter is documented as a string, not "string or null".
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route_table = RouteTable()

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}/*$") -> re.Pattern[str]:
        # Powertools' path parameters match only word and URL-safe characters, so an id with
        # a NUL, a zero-width space or a look-alike hyphen matched no route (404). Here a
        # parameter is any non-empty segment, and validation says what is wrong with it (400).
        return re.compile(base_regex.format(re.sub(r"(<\w+>)", r"(?P\1[^/]+)", rule)))

    def route(
        self, rule: str, method: str | list[str] | tuple[str], *args: Any, **kwargs: Any
    ) -> Callable[[AnyCallableT], AnyCallableT]:
        self.route_table.add(rule, [method] if isinstance(method, str) else method)
        return super().route(rule, method, *args, **kwargs)

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        # The OpenAPI models take ~100 ms to import: only /openapi.json and /swagger need them.
        from aws_lambda_powertools.event_handler.openapi.models import (  # noqa: PLC0415
            OpenAPI,
        )

        document = super().get_openapi_schema(**kwargs).model_dump(by_alias=True, exclude_none=True)
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                responses = operation.get("responses", {})
                for status in [s for s in responses if _is_framework_422(responses[s])]:
                    del responses[status]
                for parameter in operation.get("parameters", []):
                    _drop_null_branch(parameter)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        return OpenAPI.model_validate(document)


def _drop_null_branch(parameter: dict[str, Any]) -> None:
    # An optional header or query parameter is absent, never null: HTTP has no null. Pydantic
    # documents ``str | None`` as anyOf [string, null]; keep only the string.
    schema = parameter.get("schema", {})
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(branches[0])


def _is_framework_422(response: Any) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return isinstance(schema, dict) and schema.get("$ref", "").endswith("/HTTPValidationError")
