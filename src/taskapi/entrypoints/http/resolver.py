"""The resolver of this API: Powertools' REST resolver, adjusted where HTTP or the contract
need it, and where its per-request work cannot change an answer (docs/performance.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
    _extract_field_value_from_body,
    _get_body_field_location,
    _get_embed_body,
    _get_multi_value_query_params,
    _handle_missing_field_value,
    _is_or_contains_sequence,
    _process_model_param,
    _process_scalar_param,
    _request_params_to_args,
    _validate_field,
)
from aws_lambda_powertools.event_handler.openapi.compat import is_scalar_field
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import UploadFile
from aws_lambda_powertools.shared.types import AnyCallableT
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent, CaseInsensitiveDict
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from taskapi.entrypoints.http.correlation import (
    CORRELATION_HEADER,
    OPENAPI_PARAMETER,
    OPENAPI_RESPONSE_HEADER,
)
from taskapi.entrypoints.http.route_table import RouteTable

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Route
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.openapi.compat import ModelField
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from aws_lambda_powertools.event_handler.types import EventHandlerInstance


class TaskApiResolver(APIGatewayRestResolver):
    """The REST resolver, plus what this API needs from it.

    * It records every route in a ``RouteTable``, to answer 405 with ``Allow``.
    * A path parameter matches any segment, so a malformed id is a 400, not a 404.
    * Its OpenAPI document tells the truth about validation: with validation on, Powertools
      documents a 422 ``HTTPValidationError`` on every route, while this API answers invalid
      requests with 400 and its own error body (documented per route); and an optional
      header or query parameter is documented as a string, not "string or null".
    * Its validation and response building skip work that cannot change the answer (see
      ``_RequestValidation``, ``_ResponseValidation``, ``_ResponseBuilder``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route_table = RouteTable()
        self._response_builder_class = _ResponseBuilder
        if self._enable_validation:
            self._request_validation_middleware = _RequestValidation()
            self._response_validation_middleware = _ResponseValidation(
                validation_serializer=kwargs.get("serializer"),
                has_response_validation_error=self._has_response_validation_error,
            )

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
                # Every reply goes through the Lambda handler, which takes and echoes it.
                operation.setdefault("parameters", []).append(dict(OPENAPI_PARAMETER))
                for response in responses.values():
                    response.setdefault("headers", {})[CORRELATION_HEADER] = dict(
                        OPENAPI_RESPONSE_HEADER
                    )
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


# -- the request path, without the waste -----------------------------------------------------
#
# Powertools' validation middlewares and response builder, as of Powertools 3.37 (uv.lock), with
# the per-request work that cannot change an answer taken out. Validation itself (every
# parameter and the body, through the same Pydantic models and the same error list, in the same
# order) is untouched; tests/unit/test_api_input.py holds the answers to hostile input.


class _RouteArguments(dict[str, Any]):
    """A route's validated arguments. Powertools writes them into a debug message on every
    request, formatted whether or not debug logging is on (an f-string); the full repr of a
    request body model is most of that cost, and the names say which arguments there were."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: ..." for name in self) + "}"


class _RequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, except that a route's query string, headers and cookies
    are read and normalised only when it declares parameters of that kind, and what kind of
    parameter each is (a walk over its type annotation) is worked out once, not per request."""

    def __init__(self) -> None:  # Powertools' own sets nothing up (and is untyped)
        return None

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        route: Route = app.context["_route"]
        dependant = route.dependant
        event = app.current_event
        values: dict[str, Any] = _RouteArguments()
        path_values, errors = _request_params_to_args(
            dependant.path_params, app.context["_route_args"]
        )
        values.update(path_values)
        if dependant.query_params:
            query = _normalize_multi_params(
                event.resolved_query_string_parameters,
                dependant.query_params,
                _get_multi_value_query_params(event),
            )
            query_values, query_errors = _request_params_to_args(dependant.query_params, query)
            values.update(query_values)
            errors += query_errors
        if dependant.header_params:
            headers = _normalize_multi_params(
                event.resolved_headers_field,
                dependant.header_params,
                CaseInsensitiveDict(event.get("multiValueHeaders")),  # type: ignore[no-untyped-call]
            )
            repeated = _one_value_per_header(headers, dependant.header_params)
            header_values, header_errors = _request_params_to_args(dependant.header_params, headers)
            values.update(header_values)
            errors += repeated + header_errors
        if dependant.cookie_params:
            cookie_values, cookie_errors = _request_params_to_args(
                dependant.cookie_params, event.resolved_cookies_field
            )
            values.update(cookie_values)
            errors += cookie_errors
        if dependant.body_params:
            body_values, body_errors = _request_body_to_args(
                dependant.body_params, self._get_body(app)
            )
            values.update(body_values)
            errors.extend(body_errors)
        if errors:
            raise RequestValidationError(errors)
        app.context["_route_args"] = values
        return next_middleware(app)


# Headers whose value is a comma-separated list (RFC 9110, 5.3): several lines of one are the
# same as one line with the values joined, not a repeated single value.
_LIST_HEADERS = frozenset({"if-match"})


def _one_value_per_header(
    headers: MutableMapping[str, Any], params: Sequence[ModelField]
) -> list[dict[str, Any]]:
    """One value for each header the route declares (its alias is the lower-case key): the
    lines of a list header joined, and a validation error for any other sent on several lines
    (two Idempotency-Keys: which one?), taken out so it is not also "not a valid string".
    Headers the route does not read are no concern of its validation."""
    errors = []
    for param in params:
        name, value = param.alias, headers.get(param.alias)
        if not isinstance(value, list) or _parameter_kind(param) is not _SCALAR:
            continue
        if name in _LIST_HEADERS:
            headers[name] = ", ".join(str(part) for part in value)
        elif len(value) > 1:
            del headers[name]
            errors.append(
                {
                    "type": "value_error",
                    "loc": ("header", name),
                    "msg": f"sent {len(value)} times: send this header once",
                    "input": value,
                }
            )
    return errors


_SCALAR, _MODEL, _OTHER = "scalar", "model", "other"
_PARAMETER_KINDS: dict[int, str] = {}  # id(ModelField) -> kind; the fields live as long as routes


def _parameter_kind(param: ModelField) -> str:
    kind = _PARAMETER_KINDS.get(id(param))
    if kind is None:
        if is_scalar_field(param):
            kind = _SCALAR
        elif _is_model(param.field_info.annotation):
            kind = _MODEL
        else:
            kind = _OTHER
        _PARAMETER_KINDS[id(param)] = kind
    return kind


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _normalize_multi_params(
    received: MutableMapping[str, Any],
    params: Sequence[ModelField],
    multi_value_params: Collection[str],
) -> MutableMapping[str, Any]:
    # Powertools' own, with each parameter's kind cached.
    for param in params:
        kind = _parameter_kind(param)
        if kind is _SCALAR:
            _process_scalar_param(received, param, multi_value_params)
        elif kind is _MODEL:
            _process_model_param(received, param, multi_value_params)
    return received


_TAKES_SEQUENCE: dict[int, bool] = {}  # id(ModelField) -> whether its type is a sequence


def _request_body_to_args(
    required_params: list[ModelField], received_body: dict[str, Any] | None
) -> tuple[dict[str, Any], list[Any]]:
    # Powertools' own, with whether each body field's type is a sequence cached.
    values: dict[str, Any] = {}
    errors: list[Any] = []
    received_body, field_alias_omitted = _get_embed_body(
        field=required_params[0], required_params=required_params, received_body=received_body
    )
    for field in required_params:
        loc = _get_body_field_location(field, field_alias_omitted)
        value = _extract_field_value_from_body(field, received_body, loc, errors)
        if value is None:
            _handle_missing_field_value(field, values, errors, loc)
            continue
        value = _normalize_body_value(value, field)
        if isinstance(value, UploadFile):
            values[field.name] = value
        else:
            values[field.name] = _validate_field(
                field=field, value=value, loc=loc, existing_errors=errors
            )
    return values, errors


def _normalize_body_value(value: Any, field: ModelField) -> Any:
    # Powertools' _normalize_field_value.
    annotation = field.field_info.annotation
    if isinstance(value, UploadFile) and annotation is bytes:
        return value.content
    takes_sequence = _TAKES_SEQUENCE.get(id(field))
    if takes_sequence is None:
        takes_sequence = _TAKES_SEQUENCE[id(field)] = _is_or_contains_sequence(annotation)
    if takes_sequence:
        return value
    if isinstance(value, list) and value:
        return value[0]
    return value


class _ResponseValidation(OpenAPIResponseValidationMiddleware):
    """Powertools' response validation, except for a route that returns an instance of exactly
    the model it declares: validating it again would return it unchanged (Pydantic does not
    revalidate instances), so it is serialised straight to its JSON text, in one step instead
    of a dict and then ``json.dumps``. The text is the very same (``ensure_ascii``, compact
    separators); the one character the two spell differently (DEL), and text Pydantic cannot
    encode (a lone surrogate), take Powertools' path."""

    def _handle_response(self, *, route: Route, response: Response[Any]) -> Response[Any]:
        field = route.dependant.return_param
        body = response.body
        if (
            field is not None
            and isinstance(body, BaseModel)
            and type(body) is field.type_
            and body.model_config.get("revalidate_instances", "never") == "never"
            and response.is_json()
        ):
            try:
                text = body.model_dump_json(by_alias=True, ensure_ascii=True)
            except PydanticSerializationError:  # e.g. a lone surrogate, which json.dumps escapes
                text = "\x7f"
            if "\x7f" not in text:
                response.body = text
                return response
        handled: Response[Any] = super()._handle_response(route=route, response=response)
        return handled


class _ResponseBuilder(ResponseBuilder[BaseProxyEvent]):
    @staticmethod
    def _has_compression_enabled(
        route_compression: bool, response_compression: bool | None, event: BaseProxyEvent
    ) -> bool:
        # Neither the route nor the response asks for gzip: no need to build the request's
        # header dictionaries again to read Accept-Encoding (Powertools' answer is False too).
        if not route_compression and not response_compression:
            return False
        return ResponseBuilder._has_compression_enabled(
            route_compression, response_compression, event
        )
