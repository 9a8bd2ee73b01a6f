"""The builder's JSON Schemas over HTTP (routes/schema.py): the graph and each node kind."""

from __future__ import annotations

import httpx


async def test_schemas_for_the_builder(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    kinds = (await api.get("/v1/node-kinds", headers=headers)).json()
    assert {"http", "llm", "transform", "condition", "switch", "merge", "wait", "approval"} <= set(
        kinds
    )
    assert kinds["http"]["x-auterity"]["runs_as"] == "activity"
    schema = (await api.get("/v1/schema/graph", headers=headers)).json()
    assert "nodes" in schema["properties"]
