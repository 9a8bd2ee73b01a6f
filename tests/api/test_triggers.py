"""Webhook triggers over HTTP (routes/triggers.py): create, read, list, update, delete,
rotate the secret; bad bodies and other tenants refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.samples import ISSUE, MAPPING, TICKET, deliver, make_trigger
from tests.factories import auth_headers, make_member, save_graph


async def test_create_read_list_update_delete(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    created = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    trigger_id = created["id"]
    assert created["secret"].startswith("whsec_")
    assert created["url"] == f"/v1/hooks/{trigger_id}"
    assert created["version_id"] is None and created["enabled"] is True

    read = await api.get(f"/v1/triggers/{trigger_id}", headers=headers)
    assert read.status_code == 200
    assert "secret" not in read.json() and read.json()["inputs"] == MAPPING
    listed = (await api.get("/v1/triggers", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [trigger_id]
    assert "secret" not in listed[0]
    by_graph = await api.get("/v1/triggers", params={"graph_id": "gr_nothing"}, headers=headers)
    assert by_graph.json()["items"] == []

    version_id = (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).json()["version_id"]
    patched = await api.patch(
        f"/v1/triggers/{trigger_id}",
        json={"name": "renamed", "enabled": False, "version": "1"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "renamed" and patched.json()["enabled"] is False
    assert patched.json()["version_id"] == version_id
    assert patched.json()["inputs"] == MAPPING
    unpinned = await api.patch(
        f"/v1/triggers/{trigger_id}", json={"version": None, "inputs": None}, headers=headers
    )
    assert unpinned.json()["version_id"] is None and unpinned.json()["inputs"] is None

    audit = await api.get("/v1/audit", params={"action": "trigger.*"}, headers=headers)
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert {"trigger.create", "trigger.update"} <= set(actions)

    assert (await api.delete(f"/v1/triggers/{trigger_id}", headers=headers)).status_code == 204
    assert (await api.get(f"/v1/triggers/{trigger_id}", headers=headers)).status_code == 404
    gone = await deliver(api, created, ISSUE)
    assert gone.status_code == 404


async def test_rotating_the_secret_retires_the_old_one(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id)
    rotated = await api.post(f"/v1/triggers/{trigger['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != trigger["secret"]
    assert (await deliver(api, trigger, {"title": "x"})).status_code == 401
    assert (await deliver(api, trigger, {"title": "x"}, secret=secret)).status_code == 202
    audit = await api.get("/v1/audit", params={"action": "trigger.rotate_secret"}, headers=headers)
    assert len(audit.json()["items"]) == 1
    assert secret not in json.dumps(audit.json())


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"graph_id": "GRAPH"}, ["body", "name"]),
        ({"name": "x"}, ["body", "graph_id"]),
        ({"name": 5, "graph_id": "GRAPH"}, ["body", "name"]),
        ({"name": "x", "graph_id": "GRAPH", "enabled": "sometimes"}, ["body", "enabled"]),
        ({"name": "x", "graph_id": "GRAPH", "inputs": ["title"]}, ["body", "inputs"]),
        ({"name": "x", "graph_id": "GRAPH", "colour": "red"}, ["body", "colour"]),
        ({"name": "", "graph_id": "GRAPH"}, ["body", "name"]),
        (
            {"name": "x", "graph_id": "GRAPH", "inputs": {"title": "{{ body.title "}},
            ["body", "inputs", "title"],
        ),
        (
            {"name": "x", "graph_id": "GRAPH", "inputs": {"title": "{{ inputs.title }}"}},
            ["body", "inputs", "title"],
        ),
        (
            {"name": "x", "graph_id": "GRAPH", "inputs": {"title": {"a": ["{{ secrets.k }}"]}}},
            ["body", "inputs", "title", "a", 0],
        ),
        (
            {"name": "x", "graph_id": "GRAPH", "inputs": {"priority": "{{ body.p }}"}},
            ["body", "inputs", "title"],
        ),
    ],
)
async def test_bad_trigger_bodies_are_422(
    api: httpx.AsyncClient, owner, body: dict[str, Any], loc: list[Any]
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    sent = {key: graph_id if value == "GRAPH" else value for key, value in body.items()}
    response = await api.post("/v1/triggers", json=sent, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == loc


async def test_malformed_json_and_bad_updates_are_422(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id)
    json_headers = {**headers, "content-type": "application/json"}
    broken = await api.post("/v1/triggers", content=b'{"name": ', headers=json_headers)
    assert broken.status_code == 422 and broken.json()["errors"][0]["loc"][0] == "body"
    path = f"/v1/triggers/{trigger['id']}"
    for body, loc in [
        ({"name": None}, ["body", "name"]),
        ({"enabled": "yes please"}, ["body", "enabled"]),
        ({"secret": "mine"}, ["body", "secret"]),
        ({"inputs": {"title": "{% include 'x' %}"}}, ["body", "inputs", "title"]),
    ]:
        response = await api.patch(path, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"] == loc
    broken_patch = await api.patch(path, content=b"{", headers=json_headers)
    assert broken_patch.status_code == 422
    unknown_version = await api.patch(path, json={"version": "99"}, headers=headers)
    assert unknown_version.status_code == 404
    unknown_graph = await api.post(
        "/v1/triggers", json={"name": "x", "graph_id": "gr_missing"}, headers=headers
    )
    assert unknown_graph.status_code == 404


async def test_another_tenant_gets_404_and_permissions_hold(
    api: httpx.AsyncClient, sessions, owner
) -> None:
    member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id)
    stranger = await auth_headers(api, make_member(sessions))
    for method, path, body in [
        ("GET", f"/v1/triggers/{trigger['id']}", None),
        ("PATCH", f"/v1/triggers/{trigger['id']}", {"name": "mine"}),
        ("DELETE", f"/v1/triggers/{trigger['id']}", None),
        ("POST", f"/v1/triggers/{trigger['id']}/rotate-secret", None),
        ("POST", "/v1/triggers", {"name": "steal", "graph_id": graph_id}),
    ]:
        response = await api.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
    assert (await api.get("/v1/triggers", headers=stranger)).json()["items"] == []

    viewer = await auth_headers(api, make_member(sessions, ("viewer",), tenant=member))
    assert (await api.get("/v1/triggers", headers=viewer)).status_code == 403
    assert (await api.post("/v1/triggers", json={}, headers=viewer)).status_code == 403
    assert (await api.get("/v1/triggers")).status_code == 401
    editor = await auth_headers(api, make_member(sessions, ("editor",), tenant=member))
    assert (await api.get(f"/v1/triggers/{trigger['id']}", headers=editor)).status_code == 200
