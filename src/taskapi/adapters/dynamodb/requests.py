"""Creates made with an ``Idempotency-Key`` on DynamoDB: one ``REQUEST#<key>`` item each, put
in the transaction of the task it created, conditional on the key being free (no item, or an
expired one; TTL removes them). See docs/aws.md#writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from taskapi.adapters.dynamodb.client import DynamoDbTable
from taskapi.adapters.dynamodb.items import encode, number, string
from taskapi.adapters.dynamodb.table import EXPIRES_AT, PK, SK
from taskapi.adapters.dynamodb.writes import Operation
from taskapi.adapters.unit_of_work import StagedRequests
from taskapi.domain.model import FROM_STORE, Task
from taskapi.service.ports import RecordedRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

REQUEST_PREFIX: Final = "REQUEST#"
REQUEST_SK: Final = "REQUEST"


def request_key(key: str) -> dict[str, AttributeValueTypeDef]:
    return {PK: string(f"{REQUEST_PREFIX}{key}"), SK: string(REQUEST_SK)}


def _epoch_seconds(instant: datetime) -> int:
    return int(instant.timestamp())


class DynamoDbRequestLog(StagedRequests):
    def __init__(self, table: DynamoDbTable) -> None:
        super().__init__()
        self._table = table

    def get(self, key: str, now: datetime) -> RecordedRequest | None:
        record = self._table.get(request_key(key))
        # TTL deletes an expired item some time after it expired: until then it is ignored.
        if record is None or int(record[EXPIRES_AT]) <= _epoch_seconds(now):
            return None
        return RecordedRequest(
            key=key,
            fingerprint=str(record["fingerprint"]),
            task=Task.model_validate_json(str(record["task"]), context=FROM_STORE),
            recorded_at=now,
            expires_at=datetime.fromtimestamp(int(record[EXPIRES_AT]), UTC),
        )


def request_put(table: str, request: RecordedRequest) -> Operation:
    values: dict[str, Any] = {
        PK: f"{REQUEST_PREFIX}{request.key}",
        SK: REQUEST_SK,
        "fingerprint": request.fingerprint,
        "task": request.task.model_dump_json(),
        EXPIRES_AT: _epoch_seconds(request.expires_at),
    }
    item: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": table,
            "Item": encode(values),
            "ConditionExpression": "attribute_not_exists(#pk) OR #expires <= :now",
            "ExpressionAttributeNames": {"#pk": PK, "#expires": EXPIRES_AT},
            "ExpressionAttributeValues": {":now": number(_epoch_seconds(request.recorded_at))},
        }
    }
    return Operation(item, "request", request_key=request.key)
