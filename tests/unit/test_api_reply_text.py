"""The resolver's shortcuts change no reply: a route's model is serialised straight to JSON
text (docs/performance.md), and that text is byte for byte what Powertools' own path writes
(validate, dump to a dict, ``json.dumps`` with compact separators and ASCII escapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial

import pytest
from aws_lambda_powertools.shared.json_encoder import Encoder

from taskapi.domain.model import Task
from taskapi.entrypoints.http.schemas import TaskList
from tests.fakes.service import ServiceHarness, build_service
from tests.unit.api_helpers import TASKS, call, create, installed

# The resolver's serializer when none is configured (APIGatewayRestResolver's default).
powertools_json = partial(json.dumps, separators=(",", ":"), cls=Encoder)

# Text that JSON spells with escapes: non-ASCII, astral, separators, quotes, controls allowed
# in a description.
AWKWARD = 'Zoë ☃ 😀 \u2028 "quoted" \\ back'


@pytest.fixture
def harness() -> Iterator[ServiceHarness]:
    with installed(build_service()) as harness:
        yield harness


@pytest.mark.usefixtures("harness")
def test_a_created_task_is_the_text_powertools_would_write() -> None:
    reply = call("POST", TASKS, {"title": AWKWARD, "description": f"{AWKWARD}\n\ttab"})

    assert reply.status == 201
    task = Task.model_validate_json(reply.body)
    assert reply.body.decode() == powertools_json(task.model_dump(mode="json", by_alias=True))
    assert reply.body.isascii()


@pytest.mark.usefixtures("harness")
def test_a_task_and_a_page_of_tasks_are_the_text_powertools_would_write() -> None:
    created = create(title=AWKWARD, assignee="Zoe@Example.com")

    one = call("GET", f"{TASKS}/{created['task_id']}")
    page = call("GET", f"{TASKS}?limit=5")

    assert (one.status, page.status) == (200, 200)
    task = Task.model_validate_json(one.body)
    assert one.body.decode() == powertools_json(task.model_dump(mode="json", by_alias=True))
    listing = TaskList.model_validate_json(page.body)
    assert page.body.decode() == powertools_json(listing.model_dump(mode="json", by_alias=True))
