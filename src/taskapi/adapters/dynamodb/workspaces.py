"""Workspaces and their members on DynamoDB: the reads, and the items of a workspace write.

A workspace is one partition, ``WS#<ws>``: its item (``WORKSPACE``: name, version,
``task_count``), its graph counter (``GRAPH``) and one item per member (``MEMBER#<member>``).
Each membership also has an inverted item under the member, ``MEMBER#<member>`` /
``JOINED#<added_at>#<ws>``, written in the same transaction, so "my workspaces, in the order
I joined them" is one strongly consistent Query. Every membership change is also an update of
the workspace item conditional on the version read (the aggregate rule), so two concurrent
changes of one workspace's members conflict. See docs/aws.md#workspaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from taskapi.adapters.dynamodb.client import DynamoDbTable
from taskapi.adapters.dynamodb.items import (
    ALL_WORKSPACES,
    COMMIT_ID,
    JOINED_PREFIX,
    MEMBER_PREFIX,
    TASK_COUNT,
    WORKSPACE_SK,
    encode,
    graph_key,
    joined_key,
    member_key,
    member_pk,
    membership_from_record,
    membership_values,
    number,
    string,
    tombstone_key,
    workspace_from_record,
    workspace_key,
    workspace_pk,
    workspace_values,
)
from taskapi.adapters.dynamodb.table import BY_CREATED_AT, EXPIRES_AT, LIST_PK, LIST_SK, PK, SK
from taskapi.adapters.dynamodb.writes import Operation
from taskapi.adapters.unit_of_work import (
    StagedWorkspaces,
    StagedWorkspaceWrite,
    joined_position_after,
    member_position_after,
    parse_joined_position,
    parse_member_position,
)
from taskapi.domain.workspaces import Membership, Role, Workspace
from taskapi.service.ports import MemberSlice, Position, WorkspaceRole, WorkspaceSlice

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

# How long a removal's tombstone stays: long enough for any retry of its transaction.
TOMBSTONE_LIFETIME: Final = timedelta(days=1)


class DynamoDbWorkspaceRepository(StagedWorkspaces):
    def __init__(self, table: DynamoDbTable) -> None:
        super().__init__()
        self._table = table
        # Memberships as this unit of work read them (``None``: read, and absent).
        self.observed_members: dict[tuple[UUID, str], Membership | None] = {}

    def discard(self) -> None:
        super().discard()
        self.observed_members.clear()

    # -- reads ------------------------------------------------------------------------------

    def get(self, workspace_id: UUID) -> Workspace | None:
        record = self._table.get(workspace_key(workspace_id))
        return None if record is None else workspace_from_record(record)

    def membership(self, workspace_id: UUID, member: str) -> Membership | None:
        record = self._table.get(member_key(workspace_id, member))
        found = None if record is None else membership_from_record(record)
        self.observed_members[(workspace_id, member)] = found
        return found

    def owners(self, workspace_id: UUID) -> list[str]:
        request = self._members_query(workspace_id)
        request["FilterExpression"] = "#role = :owner"
        request["ExpressionAttributeNames"] = {
            **request["ExpressionAttributeNames"],
            "#role": "role",
        }
        request["ExpressionAttributeValues"] = {
            **request["ExpressionAttributeValues"],
            ":owner": string(Role.OWNER.value),
        }
        return sorted(
            str(record["member"]) for page in self._table.query_pages(request) for record in page
        )

    def all_members(self, workspace_id: UUID) -> list[Membership]:
        """Every member of the workspace (for its removal)."""
        request = self._members_query(workspace_id)
        return [
            membership_from_record(record)
            for page in self._table.query_pages(request)
            for record in page
        ]

    def members(self, workspace_id: UUID, limit: int, after: Position | None) -> MemberSlice:
        request = self._members_query(workspace_id)
        if after is not None:
            request["ExclusiveStartKey"] = member_key(workspace_id, parse_member_position(after))
        found: list[Membership] = []
        while len(found) <= limit:
            request["Limit"] = limit + 1 - len(found)
            records, last = self._table.query(request)
            found += [membership_from_record(record) for record in records]
            if last is None:
                break
            request["ExclusiveStartKey"] = last
        page = found[:limit]
        more = len(found) > limit
        return MemberSlice(page, member_position_after(page[-1].member) if more else None)

    def of_member(self, member: str, limit: int, after: Position | None) -> WorkspaceSlice:
        # One strongly consistent Query on the member's inverted items, then the page's
        # workspace items with one BatchGetItem. A membership whose workspace is gone (its
        # removal deletes members past the first transaction afterwards) is skipped.
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {
                ":pk": string(member_pk(member)),
                ":prefix": string(JOINED_PREFIX),
            },
            "ConsistentRead": True,
        }
        if after is not None:
            added_at, workspace_id = parse_joined_position(after)
            request["ExclusiveStartKey"] = joined_key(member, added_at, workspace_id)
        found: list[tuple[Membership, Workspace]] = []
        while len(found) <= limit:
            request["Limit"] = limit + 1 - len(found)
            records, last = self._table.query(request)
            joined = [membership_from_record(record) for record in records]
            workspaces = self._workspaces([m.workspace_id for m in joined])
            found += [
                (m, workspaces[m.workspace_id]) for m in joined if m.workspace_id in workspaces
            ]
            if last is None:
                break
            request["ExclusiveStartKey"] = last
        page = found[:limit]
        more = len(found) > limit
        last_joined = page[-1][0] if more else None
        return WorkspaceSlice(
            [WorkspaceRole(workspace, membership.role) for membership, workspace in page],
            None
            if last_joined is None
            else joined_position_after(last_joined.added_at, last_joined.workspace_id),
        )

    def all(self, limit: int, after: UUID | None) -> list[Workspace]:
        # The workspace directory: the ByCreatedAt partition "WORKSPACES", sorted by id.
        request: QueryInputTypeDef = {
            "TableName": self._table.name,
            "IndexName": BY_CREATED_AT,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": "#sk",
            "ExpressionAttributeNames": {"#pk": LIST_PK, "#sk": LIST_SK},
            "ExpressionAttributeValues": {":pk": string(ALL_WORKSPACES)},
        }
        if after is not None:
            request["ExclusiveStartKey"] = {
                **workspace_key(after),
                LIST_PK: string(ALL_WORKSPACES),
                LIST_SK: string(str(after)),
            }
        found: list[Workspace] = []
        while len(found) < limit:
            request["Limit"] = limit - len(found)
            entries, last = self._table.query(request)
            ids = [UUID(str(entry[LIST_SK])) for entry in entries]
            workspaces = self._workspaces(ids)  # the index lags: skip one removed since
            found += [workspaces[i] for i in ids if i in workspaces]
            if last is None:
                break
            request["ExclusiveStartKey"] = last
        return found

    def _workspaces(self, ids: list[UUID]) -> dict[UUID, Workspace]:
        records = self._table.batch_get([workspace_key(i) for i in dict.fromkeys(ids)])
        workspaces = (workspace_from_record(record) for record in records)
        return {workspace.workspace_id: workspace for workspace in workspaces}

    def _members_query(self, workspace_id: UUID) -> QueryInputTypeDef:
        return {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {
                ":pk": string(workspace_pk(workspace_id)),
                ":prefix": string(MEMBER_PREFIX),
            },
            "ConsistentRead": True,
        }

    def observed_membership(self, workspace_id: UUID, member: str) -> Membership | None:
        """The membership as this unit of work read it (read now if it has not)."""
        if (workspace_id, member) not in self.observed_members:
            self.membership(workspace_id, member)
        return self.observed_members[(workspace_id, member)]


# -- the items of a workspace write -------------------------------------------------------------


def workspace_operations(
    table: str,
    write: StagedWorkspaceWrite,
    repository: DynamoDbWorkspaceRepository,
    commit_id: str,
    now: datetime,
) -> list[Operation]:
    """The operations of one workspace write. The workspace item's own operation comes
    first and carries the condition; the member items follow (for a removal: the graph
    counter, a tombstone, then every member's two items, which may exceed one transaction:
    the unit of work deletes those that do not fit after the commit)."""
    workspace = write.workspace
    workspace_id = workspace.workspace_id
    head = Operation(
        _workspace_item(table, write, commit_id),
        "workspace",
        workspace_write=write,
        workspace_id=workspace_id,
        commit_id=commit_id,
    )
    operations = [head]
    if write.kind == "add":
        assert write.membership is not None
        operations += _member_puts(table, write.membership, None)
    elif write.kind == "put_member":
        assert write.membership is not None
        before = repository.observed_membership(workspace_id, write.membership.member)
        operations += _member_puts(table, write.membership, before)
    elif write.kind == "remove_member":
        assert write.member is not None
        before = repository.observed_membership(workspace_id, write.member)
        if before is not None:
            operations += _member_deletes(table, before)
    elif write.kind == "remove":
        operations.append(_plain("Delete", {"TableName": table, "Key": graph_key(workspace_id)}))
        tombstone = {
            **tombstone_key(workspace_id),
            COMMIT_ID: string(commit_id),
            EXPIRES_AT: number(int((now + TOMBSTONE_LIFETIME).timestamp())),
        }
        operations.append(_plain("Put", {"TableName": table, "Item": tombstone}))
        for membership in repository.all_members(workspace_id):
            operations += _member_deletes(table, membership)
    return operations


def _plain(kind: str, body: dict[str, Any]) -> Operation:
    return Operation({kind: body}, "member")  # type: ignore[misc]


def _member_puts(table: str, membership: Membership, before: Membership | None) -> list[Operation]:
    values = membership_values(membership)
    member_item = {**member_key(membership.workspace_id, membership.member), **encode(values)}
    joined_item = {
        **joined_key(membership.member, membership.added_at, membership.workspace_id),
        **encode(values),
    }
    operations = [
        _plain("Put", {"TableName": table, "Item": member_item}),
        _plain("Put", {"TableName": table, "Item": joined_item}),
    ]
    if before is not None and before.added_at != membership.added_at:
        # The join order key moves: the old inverted item goes.
        old = joined_key(before.member, before.added_at, before.workspace_id)
        operations.append(_plain("Delete", {"TableName": table, "Key": old}))
    return operations


def _member_deletes(table: str, membership: Membership) -> list[Operation]:
    return [
        _plain(
            "Delete",
            {"TableName": table, "Key": member_key(membership.workspace_id, membership.member)},
        ),
        _plain(
            "Delete",
            {
                "TableName": table,
                "Key": joined_key(membership.member, membership.added_at, membership.workspace_id),
            },
        ),
    ]


def _workspace_item(
    table: str, write: StagedWorkspaceWrite, commit_id: str
) -> TransactWriteItemTypeDef:
    workspace = write.workspace
    key = workspace_key(workspace.workspace_id)
    if write.kind == "add":
        values = workspace_values(workspace) | {TASK_COUNT: 0, COMMIT_ID: commit_id}
        put: dict[str, Any] = {
            "TableName": table,
            "Item": encode(values),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return {"Put": put}  # type: ignore[typeddict-item]
    expected = number(write.expected_version)
    if write.kind == "remove":
        delete: dict[str, Any] = {
            "TableName": table,
            "Key": key,
            # Not while it holds tasks: every create moves task_count in its own transaction,
            # conditional on this item existing, so no create can slip past this removal.
            "ConditionExpression": "#version = :expected AND "
            "(attribute_not_exists(#count) OR #count = :zero)",
            "ExpressionAttributeNames": {"#version": "version", "#count": TASK_COUNT},
            "ExpressionAttributeValues": {":expected": expected, ":zero": number(0)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return {"Delete": delete}  # type: ignore[typeddict-item]
    # A rename or a membership change: the workspace's new version. An update, not a put:
    # the item also carries task_count, which task writes maintain.
    names: dict[str, str] = {"#version": "version", "#commit": COMMIT_ID}
    values_: dict[str, AttributeValueTypeDef] = {
        ":expected": expected,
        ":commit": string(commit_id),
    }
    assignments = ["#commit = :commit"]
    for position, (name, value) in enumerate(workspace_values(workspace).items()):
        if name in (PK, SK):
            continue
        names[f"#a{position}"] = name
        values_[f":a{position}"] = encode({"v": value})["v"]
        assignments.append(f"#a{position} = :a{position}")
    update: dict[str, Any] = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": f"SET {', '.join(assignments)}",
        "ConditionExpression": "#version = :expected",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values_,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return {"Update": update}  # type: ignore[typeddict-item]


def workspace_record_of(item: Mapping[str, Any] | None) -> Workspace | None:
    """The workspace of a (decoded) item DynamoDB returned with a failed condition."""
    return None if not item or item.get(SK) != WORKSPACE_SK else workspace_from_record(item)
