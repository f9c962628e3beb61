"""A workspace to send task requests to, made over an ``http.client`` connection the way a
client makes one: ``POST /workspaces`` (the caller becomes its owner)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping


def create_workspace(
    connection: http.client.HTTPConnection, auth: Mapping[str, str], name: str = "local"
) -> str:
    """A new workspace of the token's user; the path of its tasks, ``/workspaces/{id}/tasks``."""
    body = json.dumps({"name": name}).encode()
    connection.request("POST", "/workspaces", body, {"Content-Type": "application/json", **auth})
    response = connection.getresponse()
    created = json.loads(response.read())
    assert response.status == 201, created
    return f"/workspaces/{created['workspace_id']}/tasks"
