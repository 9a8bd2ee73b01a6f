"""Webhook triggers over HTTP: manage them, deliver signed bodies, map inputs, refuse the rest."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.schemas.hooks import SIGNATURE_HEADER, hook_url
from api.services.executions import started_input
from api.services.hooks import signature_header
from auterity.graph import naming
from auterity.settings import load_settings
from tests.factories import auth_headers, make_member, save_graph

TICKET = {
    "name": "ticket",
    "inputs": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "priority": {"type": "integer"}},
        "required": ["title"],
    },
    "nodes": [{"id": "echo", "type": "transform", "config": {"value": "{{ inputs.title }}"}}],
    "edges": [],
}
MAPPING = {
    "title": "{{ body.issue.title }}",
    "priority": "{{ body.issue.labels | length }}",
}


async def make_trigger(
    api: httpx.AsyncClient, headers: dict[str, str], graph_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": "issues", "graph_id": graph_id, **fields}
    response = await api.post("/v1/triggers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliver(
    api: httpx.AsyncClient,
    trigger: dict[str, Any],
    payload: Any,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed = signature_header(secret or trigger["secret"], timestamp or int(time.time()), raw)
    return await api.post(
        trigger["url"],
        content=raw,
        params=params,
        headers={"content-type": "application/json", SIGNATURE_HEADER: signed, **(headers or {})},
    )


ISSUE = {"issue": {"title": "Printer on fire", "labels": ["urgent", "hardware"]}}


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


async def test_signed_delivery_starts_a_run_with_mapped_inputs(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)

    response = await deliver(api, trigger, ISSUE)
    assert response.status_code == 202, response.text
    assert response.json()["created"] is True
    execution_id = response.json()["execution_id"]
    assert execution_id.startswith(f"{member.tenant_slug}:{graph_id}:")

    handle = temporal_client.get_workflow_handle(execution_id)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(naming.TRIGGER) == "webhook"
    assert attributes.get(naming.TENANT) == member.tenant_slug
    assert attributes.get(naming.GRAPH) == graph_id
    assert (await description.memo())["trigger_id"] == trigger["id"]
    run = await started_input(temporal_client, handle)
    assert run.inputs == {"title": "Printer on fire", "priority": 2}
    assert run.trigger == "webhook"

    audit = await api.get("/v1/audit", params={"action": "execution.start"}, headers=headers)
    entry = audit.json()["items"][0]
    assert entry["actor"]["type"] == "system"
    assert entry["actor"]["name"] == f"webhook:{trigger['id']}"
    assert {"type": "execution", "id": execution_id} in entry["targets"]


@pytest.mark.usefixtures("api_worker")
async def test_delivery_runs_to_completion_with_headers_and_query(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    mapping = {"title": "{{ headers['x-source'] }}/{{ query.team }}/{{ body.n }}"}
    trigger = await make_trigger(api, headers, graph_id, inputs=mapping)
    response = await deliver(
        api, trigger, {"n": 7}, headers={"X-Source": "crm"}, params={"team": "ops"}
    )
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    for _ in range(200):
        read = (await api.get(f"/v1/executions/{execution_id}", headers=headers)).json()
        if read["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert read["status"] == "completed", read
    assert read["trigger"] == "webhook"
    assert read["nodes"]["echo"]["output"] == "crm/ops/7"


async def test_without_a_mapping_the_body_is_the_inputs(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id)
    response = await deliver(api, trigger, {"title": "plain"})
    assert response.status_code == 202, response.text
    handle = temporal_client.get_workflow_handle(response.json()["execution_id"])
    assert (await started_input(temporal_client, handle)).inputs == {"title": "plain"}

    not_an_object = await deliver(api, trigger, ["title"])
    assert not_an_object.status_code == 422
    assert "JSON object" in not_an_object.json()["detail"]
    invalid = await deliver(api, trigger, {"title": 5})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"][-1] == "title"


async def test_pinned_version_runs_that_version(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    first = (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).json()["version_id"]
    pinned = await make_trigger(api, headers, graph_id, version=first)
    floating = await make_trigger(api, headers, graph_id)
    changed = json.loads(json.dumps(TICKET))
    changed["nodes"][0]["config"]["value"] = "v2 {{ inputs.title }}"
    second = (await api.put(f"/v1/graphs/{graph_id}", json=changed, headers=headers)).json()
    assert second["version_id"] != first

    for trigger, expected in ((pinned, first), (floating, second["version_id"])):
        response = await deliver(api, trigger, {"title": "x"})
        assert response.status_code == 202, response.text
        description = await temporal_client.get_workflow_handle(
            response.json()["execution_id"]
        ).describe()
        assert description.typed_search_attributes.get(naming.GRAPH_VERSION) == expected


async def test_retried_and_replayed_deliveries_return_the_same_execution(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)

    keyed = {"Idempotency-Key": "delivery-1"}
    first = await deliver(api, trigger, ISSUE, headers=keyed)
    retried = await deliver(api, trigger, ISSUE, headers=keyed, timestamp=int(time.time()) - 5)
    assert first.status_code == 202 and retried.status_code == 200
    assert retried.json() == {"execution_id": first.json()["execution_id"], "created": False}
    by_request_id = await deliver(api, trigger, ISSUE, headers={"X-Request-Id": "req-9"})
    again = await deliver(api, trigger, ISSUE, headers={"X-Request-Id": "req-9"})
    assert by_request_id.status_code == 202 and again.status_code == 200
    assert again.json()["execution_id"] == by_request_id.json()["execution_id"]

    raw = json.dumps(ISSUE).encode()
    signed = signature_header(trigger["secret"], int(time.time()), raw)
    replay = {"content-type": "application/json", SIGNATURE_HEADER: signed}
    original = await api.post(trigger["url"], content=raw, headers=replay)
    replayed = await api.post(trigger["url"], content=raw, headers=replay)
    assert original.status_code == 202 and replayed.status_code == 200
    assert replayed.json()["execution_id"] == original.json()["execution_id"]
    padded = {**replay, SIGNATURE_HEADER: signed.replace("v1=", "v1=00,v1=")}
    assert (await api.post(trigger["url"], content=raw, headers=padded)).status_code == 200


@pytest.mark.parametrize(
    ("signature", "detail"),
    [
        (None, "send the X-Auterity-Signature header"),
        ("v1=abc", "malformed"),
        ("t=now,v1=abc", "malformed"),
        ("t=1700000000", "malformed"),
        ("wrong-secret", "does not match"),
        ("tampered", "does not match"),
        ("stale", "within 300s"),
        ("future", "within 300s"),
    ],
)
async def test_bad_signatures_are_401(
    api: httpx.AsyncClient, owner, signature: str | None, detail: str
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    raw = json.dumps(ISSUE).encode()
    now = int(time.time())
    values = {
        "wrong-secret": signature_header("whsec_not-the-secret", now, raw),
        "tampered": signature_header(trigger["secret"], now, raw + b" "),
        "stale": signature_header(trigger["secret"], now - 301, raw),
        "future": signature_header(trigger["secret"], now + 400, raw),
    }
    sent = {"content-type": "application/json"}
    if signature is not None:
        sent[SIGNATURE_HEADER] = values.get(signature, signature)
    response = await api.post(trigger["url"], content=raw, headers=sent)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]


async def test_unknown_and_disabled_triggers_are_404(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, enabled=False)
    assert (await deliver(api, trigger, {"title": "x"})).status_code == 404
    unknown = {**trigger, "url": "/v1/hooks/wh_000000000000000000000000"}
    assert (await deliver(api, unknown, {"title": "x"})).status_code == 404
    enabled = await api.patch(
        f"/v1/triggers/{trigger['id']}", json={"enabled": True}, headers=headers
    )
    assert enabled.status_code == 200
    assert (await deliver(api, trigger, {"title": "x"})).status_code == 202


@pytest.mark.parametrize(
    ("payload", "loc", "detail"),
    [
        (b'{"issue": ', ["body"], "the body is not JSON"),
        (b"\xff\xfe", ["body"], "not UTF-8"),
        ({"issue": {"labels": []}}, ["inputs", "title"], "input 'title' could not be mapped"),
        ({"issue": {"title": "x", "labels": 3}}, ["inputs", "priority"], "input 'priority'"),
        ({"issue": {"title": 42, "labels": []}}, ["body", "inputs", "title"], "title"),
    ],
)
async def test_bad_deliveries_are_422_naming_what(
    api: httpx.AsyncClient, owner, payload: Any, loc: list[Any], detail: str
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    response = await deliver(api, trigger, payload)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert detail in response.json()["detail"]


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


async def test_api_keys_start_executions_like_users(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    created = await api.post(
        "/v1/api-keys",
        json={"name": "ci", "scopes": ["executions:start", "executions:read"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    machine = {"Authorization": f"Bearer {created.json()['key']}"}
    started = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"title": "by key"}}, headers=machine
    )
    assert started.status_code == 201, started.text
    handle = temporal_client.get_workflow_handle(started.json()["id"])
    memo = await (await handle.describe()).memo()
    assert memo["started_by"] == created.json()["id"]
    refused = await api.post(
        "/v1/triggers", json={"name": "x", "graph_id": graph_id}, headers=machine
    )
    assert refused.status_code == 403


def test_hook_url_is_absolute_with_a_public_url() -> None:
    assert hook_url(load_settings(env="test"), "wh_1") == "/v1/hooks/wh_1"
    public = load_settings(env="test", public_url="https://auterity.example.com/")
    assert hook_url(public, "wh_1") == "https://auterity.example.com/v1/hooks/wh_1"
