"""Graphs over HTTP: immutable versions, precise validation errors, tenant isolation."""

from __future__ import annotations

import copy

import httpx
import pytest

from tests.api.samples import GRAPH
from tests.factories import auth_headers, make_member


async def test_save_versions_and_read(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    created = await api.post("/v1/graphs", json=GRAPH, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    graph_id, first = body["id"], body["version_id"]
    assert body["version"] == 1 and first.startswith("v")

    same = await api.put(f"/v1/graphs/{graph_id}", json=GRAPH, headers=headers)
    assert same.status_code == 200
    assert same.json()["version_id"] == first and same.json()["created"] is False

    changed = copy.deepcopy(GRAPH)
    changed["nodes"][0]["config"]["value"] = "Hi {{ inputs.name }}"
    second = await api.put(f"/v1/graphs/{graph_id}", json=changed, headers=headers)
    assert second.json()["created"] is True
    assert second.json()["version"] == 2 and second.json()["version_id"] != first

    read = (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).json()
    assert read["version_id"] == second.json()["version_id"]
    assert read["definition"]["nodes"][0]["config"]["value"] == "Hi {{ inputs.name }}"

    versions = (await api.get(f"/v1/graphs/{graph_id}/versions", headers=headers)).json()
    assert [v["number"] for v in versions] == [2, 1]
    listed = (await api.get("/v1/graphs", headers=headers)).json()
    assert [g["id"] for g in listed] == [graph_id]

    assert (await api.delete(f"/v1/graphs/{graph_id}", headers=headers)).status_code == 204
    assert (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).status_code == 404
    assert (await api.get("/v1/graphs", headers=headers)).json() == []


async def test_invalid_graph_names_node_field_and_position(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    broken = copy.deepcopy(GRAPH)
    broken["nodes"][1]["config"]["expression"] = "nodes.hello.output |"
    response = await api.post("/v1/graphs", json=broken, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    error = response.json()["errors"][0]
    assert error["node"] == "shout"
    assert error["field"] == "config.expression"
    assert isinstance(error["position"], int)
    assert "shout" in response.json()["detail"]

    validated = await api.post("/v1/graphs/validate", json=broken, headers=headers)
    assert validated.status_code == 422
    ok = await api.post("/v1/graphs/validate", json=GRAPH, headers=headers)
    assert ok.status_code == 200 and ok.json()["order"] == ["hello", "shout"]


@pytest.mark.parametrize(
    ("mutate", "node", "field"),
    [
        (lambda g: g["nodes"][0].update(colour="red"), "hello", "colour"),
        (lambda g: g["nodes"][0].update(type="teleport"), "hello", "type"),
        (lambda g: g["edges"].append({"from": "shout", "to": "ghost"}), None, "edges[1].to"),
    ],
)
async def test_bad_graphs_are_422_never_ignored(api, owner, mutate, node, field) -> None:
    _member, headers = owner
    broken = copy.deepcopy(GRAPH)
    mutate(broken)
    response = await api.post("/v1/graphs", json=broken, headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["node"] == node and e["field"].startswith(field) for e in errors), errors


@pytest.mark.parametrize(
    ("node", "position", "complaint"),
    [
        (
            {"id": "leak", "type": "transform", "config": {"value": "{{ ''.__class__ }}"}},
            5,
            "'.__class__' is not readable",
        ),
        (
            {"id": "leak", "type": "transform", "config": {"value": "{{ '{0.__init__}'.format(1) }}"}},
            17,
            "may not read attributes",
        ),
        (
            {"id": "leak", "type": "llm", "config": {"prompt": "{{ secrets.token | reverse }}"}},
            3,
            "secrets are credentials",
        ),
        (
            {"id": "leak", "type": "http", "config": {"url": "https://x.example/", "headers": {"A": "{{ secrets.token ~ '' }}"}}},
            3,
            "write a secret as {{ secrets.<name> }}",
        ),
    ],
)  # fmt: skip
async def test_unsafe_templates_and_misplaced_secrets_are_422_at_save(
    api: httpx.AsyncClient, owner, node: dict, position: int, complaint: str
) -> None:
    """Attacks that used to be saved and fail (or leak) only when the run reached them."""
    _member, headers = owner
    response = await api.post(
        "/v1/graphs", json={"name": "hostile", "nodes": [node], "edges": []}, headers=headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    field = next(iter(node["config"])) if node["type"] != "http" else "headers"
    assert (error["node"], error["position"]) == ("leak", position)
    assert error["field"].startswith(f"config.{field}")
    assert complaint in error["msg"]


async def test_malformed_json_is_a_clear_422(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    response = await api.post(
        "/v1/graphs", content=b'{"name": ', headers={**headers, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][0] == "body"


async def test_another_tenant_gets_404_and_viewers_cannot_write(api, sessions, owner) -> None:
    _member, headers = owner
    graph_id = (await api.post("/v1/graphs", json=GRAPH, headers=headers)).json()["id"]
    stranger = await auth_headers(api, make_member(sessions))
    for method, path in [
        ("GET", f"/v1/graphs/{graph_id}"),
        ("PUT", f"/v1/graphs/{graph_id}"),
        ("DELETE", f"/v1/graphs/{graph_id}"),
        ("GET", f"/v1/graphs/{graph_id}/versions"),
    ]:
        response = await api.request(
            method, path, headers=stranger, json=GRAPH if method == "PUT" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    viewer = await auth_headers(api, make_member(sessions, ("viewer",), tenant=_member))
    assert (await api.get(f"/v1/graphs/{graph_id}", headers=viewer)).status_code == 200
    assert (await api.post("/v1/graphs", json=GRAPH, headers=viewer)).status_code == 403
    assert (await api.get("/v1/graphs")).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/v1/graphs", {"offset": 10**27}, ["query", "offset"]),
        ("/v1/triggers", {"offset": 100_001}, ["query", "offset"]),
        ("/v1/schedules", {"offset": 2**63}, ["query", "offset"]),
        ("/v1/templates/summarize-web-page", {"version": 34579712427}, ["query", "version"]),
    ],
)
async def test_out_of_range_pages_and_versions_are_422(
    api: httpx.AsyncClient, owner, path: str, params: dict[str, int], loc: list[str]
) -> None:
    """Found by the fuzzer: numbers the database cannot take were 500s."""
    _member, headers = owner
    response = await api.get(path, params=params, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
