"""Executions over HTTP against a real worker and Temporal server: start, read, list,
cancel, retry from the failed node, live events, tenant isolation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client

from auterity.graph.contracts import is_blob_ref
from auterity.graph.run import GraphRunInput, GraphRunResult
from auterity.security.tokens import ACCESS_TOKEN_TTL, issue_access_token
from auterity.settings import Settings
from tests.factories import (
    auth_headers,
    make_member,
    save_graph,
    wait_for_execution,
)
from tests.support import serve

pytestmark = pytest.mark.usefixtures("api_worker")


GREET = {
    "name": "greet",
    "inputs": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    "nodes": [
        {"id": "hello", "type": "transform", "config": {"value": "Hello {{ inputs.name }}"}},
        {
            "id": "shout",
            "type": "transform",
            "config": {"expression": "nodes.hello.output | upper"},
        },
    ],
    "edges": [{"from": "hello", "to": "shout"}],
}


SLEEPER = {
    "name": "sleeper",
    "nodes": [{"id": "nap", "type": "wait", "config": {"duration": "1h"}}],
}


async def test_start_read_and_list(api: httpx.AsyncClient, owner) -> None:
    member, headers = owner
    graph_id = await save_graph(api, headers, GREET)
    started = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "ada"}}, headers=headers
    )
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    assert execution_id.startswith(f"{member.tenant_slug}:{graph_id}:")
    body = await wait_for_execution(api, headers, execution_id, "completed")
    assert body["inputs"] == {"name": "ada"}
    assert body["nodes"]["shout"]["status"] == "succeeded"
    assert body["nodes"]["shout"]["output"] == "HELLO ADA"
    assert body["graph_id"] == graph_id and body["trigger"] == "api"

    for _ in range(50):  # visibility is eventually consistent
        listed = await api.get(
            f"/v1/executions?graph_id={graph_id}&status=completed", headers=headers
        )
        if [item["id"] for item in listed.json()["items"]] == [execution_id]:
            break
        await asyncio.sleep(0.2)
    assert [item["id"] for item in listed.json()["items"]] == [execution_id]
    bad = await api.get("/v1/executions?status=sleepy", headers=headers)
    assert bad.status_code == 422


async def test_list_refuses_forged_cursors_and_impossible_ranges(
    api: httpx.AsyncClient, make_tenant, member
) -> None:
    """Found by the fuzzer: a cursor the API never handed out, or a range visibility cannot
    take, reached Temporal and came back as a 500."""
    a, b = await member(make_tenant()), await member(make_tenant())
    graph_id = await save_graph(api, a.headers, GREET)
    for _ in range(3):
        await api.post(
            f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "x"}}, headers=a.headers
        )
    cursor = None
    for _ in range(50):  # visibility is eventually consistent
        page = (await api.get("/v1/executions", params={"limit": 1}, headers=a.headers)).json()
        if cursor := page["next_cursor"]:
            break
        await asyncio.sleep(0.2)
    assert cursor, page
    more = await api.get("/v1/executions", params={"limit": 1, "cursor": cursor}, headers=a.headers)
    assert more.status_code == 200, more.text
    for params, headers, loc in [
        ({"cursor": "QÛp\U000a0f3b©\x1e$¯GD"}, a.headers, ["query", "cursor"]),
        ({"cursor": "eyJhIjoxfQ"}, a.headers, ["query", "cursor"]),
        ({"cursor": cursor}, b.headers, ["query", "cursor"]),  # another tenant's cursor
        ({"started_after": "1176-07-25T19:57:32Z"}, a.headers, ["query", "started_after"]),
        (
            {"started_after": "2000-06-01T00:00:00Z", "started_before": "2000-01-01T00:00:00Z"},
            a.headers,
            ["query", "started_after"],
        ),
        ({"started_after": "2000-06-01T00:00:00"}, a.headers, ["query", "started_after"]),
    ]:
        response = await api.get("/v1/executions", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["loc"] == loc


async def test_inputs_are_validated_against_the_graph(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, GREET)
    wrong = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": 7}}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["body", "inputs", "name"]
    missing = await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    assert missing.status_code == 422 and "name" in missing.json()["detail"]
    unknown = await api.post(
        f"/v1/graphs/{graph_id}/executions",
        json={"inputs": {"name": "x"}, "colour": 1},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "colour"]


async def test_idempotency_key_returns_the_same_execution(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, GREET)
    keyed = {**headers, "Idempotency-Key": "order-42"}
    first = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "a"}}, headers=keyed
    )
    again = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "a"}}, headers=keyed
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["created"] is False


async def test_a_start_after_a_save_or_delete_sees_it_at_once(
    api: httpx.AsyncClient, owner
) -> None:
    """The API caches a graph's current version; saving or deleting the graph drops it."""
    _member, headers = owner
    graph_id = await save_graph(api, headers, SLEEPER)

    async def start() -> httpx.Response:
        return await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)

    first, again = await start(), await start()  # the second start is served from the cache
    assert first.json()["version_id"] == again.json()["version_id"]
    changed = {**SLEEPER, "nodes": [{"id": "nap", "type": "wait", "config": {"duration": "2h"}}]}
    saved = await api.put(f"/v1/graphs/{graph_id}", json=changed, headers=headers)
    assert saved.status_code == 200, saved.text
    after_save = await start()
    assert after_save.status_code == 201
    assert after_save.json()["version_id"] == saved.json()["version_id"]
    assert after_save.json()["version_id"] != first.json()["version_id"]

    entries = (await api.get("/v1/audit?action=execution.start", headers=headers)).json()["items"]
    started = {entry["targets"][0]["id"] for entry in entries}
    assert {first.json()["id"], again.json()["id"], after_save.json()["id"]} <= started

    assert (await api.delete(f"/v1/graphs/{graph_id}", headers=headers)).status_code == 204
    assert (await start()).status_code == 404
    for response in (first, again, after_save):
        await api.post(f"/v1/executions/{response.json()['id']}/cancel", headers=headers)


async def test_cancel_a_waiting_run(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, SLEEPER)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    await wait_for_execution(api, headers, execution_id, "running")
    cancelled = await api.post(f"/v1/executions/{execution_id}/cancel", headers=headers)
    assert cancelled.status_code == 202
    await wait_for_execution(api, headers, execution_id, "cancelled")
    again = await api.post(f"/v1/executions/{execution_id}/cancel", headers=headers)
    assert again.status_code == 409


async def test_retry_from_the_failed_node_reuses_what_succeeded(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    calls: list[str] = []
    healthy = {"ok": False}
    hook = FastAPI()

    @hook.post("/hook")
    async def receive(request: Request) -> JSONResponse:
        calls.append((await request.body()).decode())
        return JSONResponse({"ok": True}, status_code=200 if healthy["ok"] else 400)

    with serve(hook) as base:
        graph = {
            "name": "fragile",
            "nodes": [
                {"id": "prepare", "type": "transform", "config": {"value": {"n": 1}}},
                {"id": "send", "type": "http", "config": {
                    "method": "POST", "url": f"{base}/hook", "json": "{{ nodes.prepare.output }}"}},
            ],
            "edges": [{"from": "prepare", "to": "send"}],
        }  # fmt: skip
        graph_id = await save_graph(api, headers, graph)
        first = (
            await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
        ).json()["id"]
        failed = await wait_for_execution(api, headers, first, "failed")
        assert failed["failed_node"] == "send"
        assert failed["nodes"]["send"]["error"]["type"] == "HttpClientError"
        healthy["ok"] = True
        retried = await api.post(f"/v1/executions/{first}/retry", headers=headers)
        assert retried.status_code == 201, retried.text
        second = retried.json()["id"]
        done = await wait_for_execution(api, headers, second, "completed")
    assert done["retry_of"] == first
    assert done["nodes"]["prepare"]["reused"] is True
    assert done["nodes"]["send"]["output"]["status"] == 200
    assert [json.loads(body) for body in calls] == [{"n": 1}, {"n": 1}]
    again = await api.post(f"/v1/executions/{second}/retry", headers=headers)
    assert again.status_code == 409


async def test_live_events_and_replay(api: httpx.AsyncClient, api_url: str, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, GREET)
    started = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "x"}}, headers=headers
    )
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    url = api_url.replace("http://", "ws://") + f"/v1/executions/{execution_id}/events"
    received: list[dict[str, Any]] = []
    async with websockets.connect(url, additional_headers=headers) as socket:
        async for message in socket:
            received.append(json.loads(message))
    kinds = [(event["type"], event.get("node")) for event in received]
    assert ("node.started", "hello") in kinds and ("node.completed", "shout") in kinds
    assert kinds.index(("node.completed", "hello")) < kinds.index(("node.completed", "shout"))
    assert received[-1] == {**received[-1], "type": "run.finished", "status": "succeeded"}
    token = headers["Authorization"].split()[1]
    async with websockets.connect(f"{url}?access_token={token}") as socket:
        replayed = [json.loads(message) async for message in socket]
    assert [e["type"] for e in replayed] == [e["type"] for e in received]
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(url) as socket:
            await socket.recv()


@pytest.mark.parametrize("ending", ["logout", "expiry"])
async def test_a_live_stream_ends_when_its_credential_does(
    api: httpx.AsyncClient, api_url: str, settings: Settings, make_tenant, member, ending: str
) -> None:
    """Attack: a stream opened with a token kept running after the session was revoked (or
    the token expired), feeding a signed-out person every node output of a long run."""
    person = await member(make_tenant())
    graph_id = await save_graph(api, person.headers, SLEEPER)
    started = await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=person.headers)
    url = api_url.replace("http://", "ws://") + f"/v1/executions/{started.json()['id']}/events"
    headers = person.headers
    if ending == "expiry":  # a token of the same session that expires two seconds from now
        claims = jwt.decode(person.access_token, options={"verify_signature": False})
        token, _ = issue_access_token(
            settings, user_id=claims["sub"], tenant_id=claims["tenant"], session_id=claims["sid"],
            now=datetime.now(UTC) - ACCESS_TOKEN_TTL + timedelta(seconds=2),
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(url, additional_headers=headers) as socket:
        if ending == "logout":
            assert (await api.post("/v1/auth/logout", headers=person.headers)).status_code == 204
        received = []
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            async for message in socket:  # until the server closes it
                received.append(json.loads(message))
        assert socket.close_code == 4401, (socket.close_code, received)
    assert received[-1]["type"] == "error" and received[-1]["status"] == 401


async def test_another_tenant_gets_404_everywhere(
    api: httpx.AsyncClient, sessions, owner, api_url
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, SLEEPER)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    stranger = await auth_headers(api, make_member(sessions))
    for method, path in [
        ("GET", f"/v1/executions/{execution_id}"),
        ("POST", f"/v1/executions/{execution_id}/cancel"),
        ("POST", f"/v1/executions/{execution_id}/retry"),
        ("POST", f"/v1/graphs/{graph_id}/executions"),
    ]:
        response = await api.request(
            method, path, headers=stranger, json={} if method == "POST" else None
        )
        assert response.status_code == 404, (path, response.text)
    listed = (await api.get("/v1/executions", headers=stranger)).json()
    assert execution_id not in [item["id"] for item in listed["items"]]
    await api.post(f"/v1/executions/{execution_id}/cancel", headers=headers)


async def test_subgraph_versions_are_resolved_when_a_run_starts(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    child = await api.post("/v1/graphs", json=GREET, headers=headers)
    parent = {
        "name": "parent",
        "nodes": [{"id": "inner", "type": "subgraph", "config": {
            "graph_id": child.json()["id"], "version": child.json()["version_id"],
            "inputs": {"name": "sub"}}}],
    }  # fmt: skip
    graph_id = await save_graph(api, headers, parent)
    started = await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    assert started.status_code == 201, started.text
    body = await wait_for_execution(api, headers, started.json()["id"], "completed")
    assert "HELLO SUB" in str(body["nodes"]["inner"]["output"])

    missing = {**parent, "nodes": [{**parent["nodes"][0], "config": {
        **parent["nodes"][0]["config"], "version": "v_" + "0" * 24}}]}  # fmt: skip
    broken = await save_graph(api, headers, missing)
    refused = await api.post(f"/v1/graphs/{broken}/executions", json={}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["nodes", "inner", "config", "version"]


LIST_MAKER = {
    "name": "list-maker",
    "nodes": [{"id": "made", "type": "transform", "config": {"expression": "range(1000) | list"}}],
}  # "made" is about 4.9 KB of JSON: above a 2 KiB threshold, far below the 64 KiB default


async def test_a_run_started_through_the_api_uses_the_configured_blob_threshold_and_llm_queue(
    api: httpx.AsyncClient, owner, settings: Settings, temporal_client: Client
) -> None:
    from api.main import create_app
    from workers.activities import ActivityRuntime
    from workers.main import build_worker

    _member, headers = owner
    graph_id = await save_graph(api, headers, LIST_MAKER)
    queue = f"api-small-{uuid.uuid4()}"
    small = settings.model_copy(
        update={"blob_threshold_bytes": 2048, "task_queue": queue, "llm_task_queue": f"{queue}-llm"}
    )

    async def run_through(client: httpx.AsyncClient) -> tuple[GraphRunInput, GraphRunResult]:
        started = await client.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
        assert started.status_code == 201, started.text
        handle = temporal_client.get_workflow_handle(
            started.json()["id"], result_type=GraphRunResult
        )
        result = await asyncio.wait_for(handle.result(), 30)
        first = (await handle.fetch_history()).events[0]
        payloads = first.workflow_execution_started_event_attributes.input.payloads
        [run] = await temporal_client.data_converter.decode(payloads, [GraphRunInput])
        return run, result

    async with (
        ActivityRuntime(small) as runtime,
        build_worker(temporal_client, small, runtime.activities()),
    ):
        with serve(create_app(small)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as configured:
                run, result = await run_through(configured)
    assert run.blob_threshold_bytes == 2048
    assert run.llm_task_queue == f"{queue}-llm"
    assert is_blob_ref(result.nodes["made"].output), result.nodes["made"].output

    default_run, default_result = await run_through(api)
    assert default_run.blob_threshold_bytes == settings.blob_threshold_bytes == 64 * 1024
    assert default_run.llm_task_queue is None and not settings.llm_task_queue
    assert default_result.nodes["made"].output == list(range(1000))
