"""One DynamoDB table and the calls the task store makes on it.

What leaves this module is a decoded item, a port error (through the failure table), or
``ConditionsFailed``, a cancelled transaction the unit of work turns into a domain error.
``BatchGetItem`` is split at 100 keys, and its unprocessed keys are retried with capped
exponential backoff and full jitter, a bounded number of times. See docs/aws.md#clients.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from taskapi.adapters.aws.errors import (
    THROTTLED_RETRY_AFTER_SECONDS,
    TRANSACTION_CANCELED,
    UNAVAILABLE_MESSAGE,
    cancellation_reasons,
    error_code,
    to_port_error,
    translate_aws_errors,
)
from taskapi.adapters.dynamodb.items import decode
from taskapi.service.ports import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

    Item = Mapping[str, AttributeValueTypeDef]

logger = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS: Final = 100
MAX_BATCH_GET_KEYS: Final = 100


class ConditionsFailed(Exception):
    """A transaction cancelled because at least one of its conditions failed. ``reasons``
    holds DynamoDB's ``CancellationReasons``, one per item, in request order."""

    def __init__(self, reasons: list[Mapping[str, Any]]) -> None:
        super().__init__("transaction cancelled by a failed condition")
        self.reasons = reasons


class DynamoDbTable:
    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        *,
        batch_attempts: int = 6,
        backoff_base_seconds: float = 0.05,
        backoff_cap_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.name = name
        self._batch_attempts = batch_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._sleep = sleep

    def get(self, key: Item) -> dict[str, Any] | None:
        with translate_aws_errors("dynamodb.GetItem"):
            response = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else decode(item)

    def batch_get(
        self,
        keys: Sequence[Item],
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The items that exist among ``keys``, in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_BATCH_GET_KEYS):
            request: KeysAndAttributesTypeDef = {
                "Keys": list(keys[start : start + MAX_BATCH_GET_KEYS]),
                "ConsistentRead": True,
            }
            if projection is not None:
                request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = dict(names)
            found += self._batch_get_all(request)
        return found

    def _batch_get_all(self, request: KeysAndAttributesTypeDef) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for attempt in range(self._batch_attempts):
            if attempt:
                self._back_off(attempt)
            with translate_aws_errors("dynamodb.BatchGetItem"):
                response = self.client.batch_get_item(RequestItems={self.name: request})
            found += [decode(item) for item in response.get("Responses", {}).get(self.name, [])]
            unprocessed = response.get("UnprocessedKeys", {}).get(self.name)
            if not unprocessed or not unprocessed.get("Keys"):
                return found
            request = {**request, "Keys": unprocessed["Keys"]}
        logger.warning(
            "BatchGetItem left keys unprocessed after every retry",
            extra={"table": self.name, "unprocessed": len(request["Keys"])},
        )
        raise StoreUnavailable(UNAVAILABLE_MESSAGE, THROTTLED_RETRY_AFTER_SECONDS)

    def _back_off(self, attempt: int) -> None:
        ceiling = min(self._backoff_cap, self._backoff_base * 2**attempt)
        self._sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not cryptography

    def query(self, request: QueryInputTypeDef) -> tuple[list[dict[str, Any]], Item | None]:
        """One page of a query, decoded, and the key to continue from (``None``: no more)."""
        with translate_aws_errors("dynamodb.Query"):
            response = self.client.query(**request)
        return [decode(item) for item in response.get("Items", [])], response.get(
            "LastEvaluatedKey"
        )

    def query_pages(self, request: QueryInputTypeDef) -> Iterator[list[dict[str, Any]]]:
        """Every page of a query, decoded, following ``LastEvaluatedKey``."""
        while True:
            items, last = self.query(request)
            yield items
            if not last:
                return
            request = {**request, "ExclusiveStartKey": last}

    def delete(self, key: Item) -> None:
        with translate_aws_errors("dynamodb.DeleteItem"):
            self.client.delete_item(TableName=self.name, Key=key)

    def transact(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        """One ``TransactWriteItems``. A cancellation caused by a failed condition raises
        ``ConditionsFailed``; every other failure goes through the failure table."""
        try:
            self.client.transact_write_items(TransactItems=list(items))
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if error_code(exc) == TRANSACTION_CANCELED and any(
                reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
            ):
                raise ConditionsFailed(reasons) from exc
            raise to_port_error(exc, "dynamodb.TransactWriteItems") from exc
        except BotoCoreError as exc:
            raise to_port_error(exc, "dynamodb.TransactWriteItems") from exc
