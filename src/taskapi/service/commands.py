"""Inputs of the task service. They are also the HTTP request bodies, so the OpenAPI document
and the validation the API performs come from one definition."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from taskapi.domain.model import (
    MAX_DEPENDENCIES,
    Assignee,
    Description,
    Priority,
    Status,
    Title,
    UtcDateTime,
    unique_ids,
)
from taskapi.domain.text import LINE_CONTROLS, NoControlCharacters
from taskapi.domain.workspaces import Role, WorkspaceName

# An id as the API writes it: 8-4-4-4-12 hexadecimal digits, in either case (RFC 9562 reads
# UUIDs case-insensitively). Python's UUID() also reads braces, "urn:uuid:", no hyphens and
# surrounding whitespace; the API refuses those, so one task has one spelling (up to case).
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_TEXT = re.compile(UUID_PATTERN.strip("^$"))


def _uuid_text(value: object) -> object:
    if isinstance(value, str) and not _UUID_TEXT.fullmatch(value):
        raise ValueError(
            "must be a UUID written as 8-4-4-4-12 hexadecimal digits, "
            "e.g. 0b7e3f9a-5d0c-4c61-9a57-3f4f2b1f8e21"
        )
    return value


TaskId = Annotated[
    UUID, BeforeValidator(_uuid_text), Field(json_schema_extra={"pattern": UUID_PATTERN})
]
# The domain's dependencies (at most 100, no repeats), each id spelled as above.
Dependencies = Annotated[
    tuple[TaskId, ...], Field(max_length=MAX_DEPENDENCIES), AfterValidator(unique_ids)
]

# RFC 3339 (what OpenAPI's "date-time" means): date, "T", time with seconds, and an offset.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE_TIME_EXAMPLE = "e.g. 2030-01-31T17:00:00Z or 2030-01-31T19:00:00+02:00"


def _rfc_3339_text(value: object) -> object:
    # JSON has no date type: the contract says an RFC 3339 string. Pydantic would also read a
    # number (or a string of digits) as seconds since the epoch, a bare date as midnight, and
    # a time without an offset as UTC; refuse them instead of guessing what the client meant.
    if isinstance(value, datetime):  # from Python callers, not from JSON
        return value
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"must be an RFC 3339 date-time string, {_DATE_TIME_EXAMPLE}")
    if match["offset"] is None:
        raise ValueError(f"has no UTC offset: end it with Z or +hh:mm, {_DATE_TIME_EXAMPLE}")
    return value


DueAt = Annotated[UtcDateTime, BeforeValidator(_rfc_3339_text)]

# Text fields refuse control characters (C0, DEL and C1): NUL and escape sequences have no
# place in a task, and some stores and terminals mishandle them. A description may keep tab,
# line feed and carriage return; a title is one line. The OpenAPI pattern says the same.
_TITLE_CONTROLS = LINE_CONTROLS
_DESCRIPTION_CONTROLS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"


TitleText = Annotated[
    Title,
    BeforeValidator(NoControlCharacters(_TITLE_CONTROLS)),
    Field(json_schema_extra={"pattern": f"^[^{_TITLE_CONTROLS}]*$"}),
]
DescriptionText = Annotated[
    Description,
    BeforeValidator(
        NoControlCharacters(_DESCRIPTION_CONTROLS, " other than tab, line feed, carriage return")
    ),
    Field(json_schema_extra={"pattern": f"^[^{_DESCRIPTION_CONTROLS}]*$"}),
]


@dataclass(frozen=True, slots=True)
class Access:
    """Who is asking, about which workspace: every task use case starts from one."""

    workspace_id: UUID
    caller: str  # the caller identity (cognito:<sub>, iam:<arn>): a member, or not
    # The request's correlation id: every event the request causes carries it.
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """Who sent a create, in which workspace, and the key they gave it: keys never collide
    across callers or workspaces."""

    caller: str
    workspace_id: UUID
    key: str

    def scoped(self) -> str:
        """The key as stores keep it: bounded, and one per (caller, workspace, key)."""
        text = f"{self.caller}\n{self.workspace_id}\n{self.key}"
        return hashlib.sha256(text.encode()).hexdigest()


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: TitleText
    description: DescriptionText | None = None
    status: Status = Status.PENDING
    priority: Priority = Priority.MEDIUM
    dependencies: Dependencies = ()
    due_at: DueAt | None = None
    assignee: Assignee | None = None

    def fingerprint(self) -> str:
        """Equal for equal commands, whatever the spelling of the body they came from."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


# A signed 64-bit integer: what SQLite and DynamoDB numbers both hold exactly.
MAX_VERSION = 2**63 - 1

# Optional in a partial update, but a task always has them: an explicit null is an error.
_NOT_NULLABLE = ("title", "status", "priority", "dependencies")


def _document_not_nullable(schema: dict[str, Any]) -> None:
    # The JSON Schema (and so the OpenAPI request body) says what the validator enforces:
    # these fields may be absent but never null.
    # Each is ``X | None = None``: an anyOf of one type and null, and a null default.
    for name in _NOT_NULLABLE:
        field_schema = schema["properties"][name]
        [branch] = [b for b in field_schema.pop("anyOf") if b.get("type") != "null"]
        field_schema.update(branch)
        del field_schema["default"]


class UpdateTask(BaseModel):
    """A partial update: only the fields present in the request change. ``version`` is the
    optimistic-concurrency token (the HTTP layer may take it from ``If-Match`` instead)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_document_not_nullable)

    title: TitleText | None = None
    description: DescriptionText | None = None
    status: Status | None = None
    priority: Priority | None = None
    dependencies: Dependencies | None = None
    due_at: DueAt | None = None
    assignee: Assignee | None = None
    # strict: the version is a JSON integer, not "3" or true; at most what every store holds.
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, strict=True)

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> Self:
        nulled = sorted(
            name
            for name in _NOT_NULLABLE
            if name in self.model_fields_set and getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)}")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client actually sent (an explicit null clears an optional field)."""
        sent = self.model_fields_set - {"version"}
        return {name: getattr(self, name) for name in sent}


class ListTasks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=100)
    next_token: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    # Validated and normalised as a task's assignee is, so the filter matches the stored form.
    assignee: Assignee | None = None


class ListDependents(BaseModel):
    """A page of the tasks that depend on a task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=100)
    next_token: str | None = None


# -- workspaces ---------------------------------------------------------------------------


class CreateWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: WorkspaceName


class UpdateWorkspace(BaseModel):
    """A rename. ``version`` is the optimistic-concurrency token (or ``If-Match``); without
    either, the rename applies to whatever version is current."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: WorkspaceName
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, strict=True)


class PutMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role


class ListPage(BaseModel):
    """A page of workspaces, or of a workspace's members."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=100)
    next_token: str | None = None
