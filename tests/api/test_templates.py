"""Templates over HTTP (routes/templates.py): the built-in gallery, the tenant's own
versioned templates, instantiation into graph versions."""

from __future__ import annotations

import httpx

from tests.api.samples import GRAPH


async def test_templates_gallery_and_instantiation(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    gallery = (await api.get("/v1/templates", headers=headers)).json()
    assert len([t for t in gallery if t["builtin"]]) >= 5
    missing = await api.post(
        "/v1/templates/ticket-triage/instantiate", json={"params": {}}, headers=headers
    )
    assert missing.status_code == 422
    assert "notify_url" in missing.json()["detail"]
    made = await api.post(
        "/v1/templates/ticket-triage/instantiate",
        json={"params": {"notify_url": "http://127.0.0.1:9/hook", "approver_role": "editor"}},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    definition = made.json()["definition"]
    approve = next(n for n in definition["nodes"] if n["id"] == "approve")
    assert approve["config"]["assignees"] == ["role:editor"]
    assert "{{ inputs.ticket }}" in approve["config"]["description"]

    own = {
        "id": "greeter",
        "name": "Greeter",
        "parameters": {"type": "object", "properties": {"greeting": {"type": "string"}}},
        "graph": {**GRAPH, "nodes": [
            {"id": "hello", "type": "transform", "config": {"value": "{{ params.greeting }} {{ inputs.name }}"}}
        ], "edges": []},
    }  # fmt: skip
    assert (await api.post("/v1/templates", json=own, headers=headers)).json()["version"] == 1
    assert (await api.post("/v1/templates", json=own, headers=headers)).json()["version"] == 2
    undeclared = {**own, "parameters": {"type": "object"}}
    assert (await api.post("/v1/templates", json=undeclared, headers=headers)).status_code == 422
    graph = await api.post(
        "/v1/templates/greeter/instantiate", json={"params": {"greeting": "Howdy"}}, headers=headers
    )
    assert graph.json()["definition"]["nodes"][0]["config"]["value"] == "Howdy {{ inputs.name }}"
