"""A deployed stack's outputs and parameters (CloudFormation DescribeStacks), for the
operations commands that find the stack's queues and bus by its name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


class NoSuchStack(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class StackDescription:
    name: str
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]


def describe_stack(cloudformation: Any, name: str) -> StackDescription:
    """The outputs and parameters of stack ``name``; ``NoSuchStack`` if there is none."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        # CloudFormation answers a missing stack with a plain ValidationError.
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise NoSuchStack(name) from exc
        raise
    if not stacks:
        raise NoSuchStack(name)
    stack = stacks[0]
    return StackDescription(
        name=name,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
        },
    )
