"""API keys over HTTP (routes/api_keys.py): scoped, shown once, revocable, bound to their
creator; a key starts runs like a person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client

from tests.api.conftest import Member
from tests.api.samples import TICKET
from tests.factories import save_graph

MemberFactory = Callable[..., Awaitable[Member]]


async def test_api_keys_are_scoped_shown_once_and_revocable(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    created = await api.post(
        "/v1/api-keys", json={"name": "ci", "scopes": ["audit:read"]}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith(f"atk_{key['id']}_")
    bearer = {"Authorization": f"Bearer {key['key']}"}

    me = (await api.get("/v1/me", headers=bearer)).json()
    assert me["kind"] == "api_key" and me["permissions"] == ["audit:read"]
    assert (await api.get("/v1/audit", headers=bearer)).status_code == 200
    assert (await api.get("/v1/secrets", headers=bearer)).status_code == 403
    # keys cannot mint keys
    minted = await api.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["audit:read"]}, headers=bearer
    )
    assert minted.status_code == 403

    listed = (await api.get("/v1/api-keys", headers=owner.headers)).json()["items"]
    assert [item["id"] for item in listed] == [key["id"]]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None

    assert (await api.delete(f"/v1/api-keys/{key['id']}", headers=owner.headers)).status_code == 204
    assert (await api.get("/v1/me", headers=bearer)).status_code == 401
    wrong_secret = key["key"][:-4] + ("AAAA" if not key["key"].endswith("AAAA") else "BBBB")
    assert (
        await api.get("/v1/me", headers={"Authorization": f"Bearer {wrong_secret}"})
    ).status_code == 401


async def test_api_keys_expire_and_follow_their_creator(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    admin = await member(tenant, roles=["admin"])
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await api.post(
        "/v1/api-keys",
        json={"name": "old", "scopes": ["audit:read"], "expires_at": past},
        headers=admin.headers,
    )
    assert refused.status_code == 422
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await api.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": ["users:manage"], "expires_at": soon},
        headers=admin.headers,
    )
    bearer = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get("/v1/users", headers=bearer)).status_code == 200
    # the creator loses users:manage: so does the key
    await api.patch(f"/v1/users/{admin.user_id}", json={"roles": ["viewer"]}, headers=owner.headers)
    assert (await api.get("/v1/users", headers=bearer)).status_code == 403
    # the creator is deactivated: the key stops working
    await api.delete(f"/v1/users/{admin.user_id}", headers=owner.headers)
    assert (await api.get("/v1/me", headers=bearer)).status_code == 401


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
