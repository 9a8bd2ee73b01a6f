"""Secrets: write-only over the API, sealed at rest, and never in audit, logs or run history."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from auterity.db import transaction
from auterity.models.secrets import Secret
from auterity.secrets import Credential, SecretStore
from auterity.settings import Settings
from tests.api.conftest import Member, TwoTenants
from tests.support import serve

MemberFactory = Callable[..., Awaitable[Member]]
VALUE = "sk-live-3f9a1c7e-very-secret"


def _values(found: dict[str, Credential]) -> dict[str, str]:
    return {name: credential.value for name, credential in found.items()}


async def test_values_go_in_and_never_come_out(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    created = await api.post(
        "/v1/secrets",
        json={"name": "api_token", "value": VALUE, "description": "vendor"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    secret = created.json()
    assert secret["name"] == "api_token" and secret["version"] == 1
    responses = [
        created,
        await api.get("/v1/secrets", headers=headers),
        await api.get(f"/v1/secrets/{secret['id']}", headers=headers),
        await api.get("/v1/secrets/api_token", headers=headers),
        await api.put("/v1/secrets/api_token", json={"value": VALUE + "-2"}, headers=headers),
    ]
    for response in responses:
        assert response.status_code == 200 or response.status_code == 201, response.text
        assert VALUE not in response.text
        assert "value" not in response.json()
    assert responses[-1].json()["version"] == 2

    duplicate = await api.post(
        "/v1/secrets", json={"name": "api_token", "value": "x"}, headers=headers
    )
    assert duplicate.status_code == 409
    upsert = await api.put("/v1/secrets/other_token", json={"value": "abc123"}, headers=headers)
    assert upsert.status_code == 201
    for body in (
        {"name": "bad-name", "value": "x"},
        {"name": "1bad", "value": "x"},
        {"name": "ok", "value": ""},
        {"name": "ok", "value": "x", "plaintext": True},
    ):
        response = await api.post("/v1/secrets", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert VALUE not in response.text
    assert (await api.delete("/v1/secrets/other_token", headers=headers)).status_code == 204
    assert (await api.get("/v1/secrets/other_token", headers=headers)).status_code == 404
    names = [
        item["name"] for item in (await api.get("/v1/secrets", headers=headers)).json()["items"]
    ]
    assert names == ["api_token"]


async def test_sealed_at_rest_and_resolved_only_for_its_tenant(
    api: httpx.AsyncClient,
    two_tenants: TwoTenants,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    a, b = two_tenants.a, two_tenants.b
    await api.post("/v1/secrets", json={"name": "token", "value": VALUE}, headers=a.headers)
    await api.post("/v1/secrets", json={"name": "token", "value": "b-value"}, headers=b.headers)
    with transaction(sessions, a.tenant_id) as session:
        row = session.scalars(select(Secret).where(Secret.name == "token")).one()
        assert VALUE.encode() not in row.ciphertext
        assert row.key_id

    store = SecretStore(sessions, settings)
    assert _values(await store.get(a.tenant_slug, {"token", "missing"})) == {"token": VALUE}
    assert _values(await store.get(b.tenant_slug, {"token"})) == {"token": "b-value"}
    assert await store.get("no-such-tenant", {"token"}) == {}


async def test_rotation_keeps_values_readable_and_reencrypts(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    owner = await member(make_tenant())
    await api.post("/v1/secrets", json={"name": "token", "value": VALUE}, headers=owner.headers)
    new_key = SecretStr("rotated-secret-key-for-tests-0123456789")
    rotating = settings.model_copy(
        update={"secret_key": new_key, "secret_keys_previous": [settings.secret_key]}
    )
    store = SecretStore(sessions, rotating)
    assert _values(await store.get(owner.tenant_slug, {"token"})) == {"token": VALUE}
    assert store.reencrypt_all() >= 1
    assert store.reencrypt_all() == 0
    after = SecretStore(sessions, settings.model_copy(update={"secret_key": new_key}))
    assert _values(await after.get(owner.tenant_slug, {"token"})) == {"token": VALUE}
    with pytest.raises(Exception, match="no key with id"):
        await SecretStore(sessions, settings).get(owner.tenant_slug, {"token"})


async def test_a_secret_value_never_reaches_audit_or_logs(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    owner = await member(make_tenant())
    headers = owner.headers
    await api.post("/v1/secrets", json={"name": "token", "value": VALUE}, headers=headers)
    await api.put("/v1/secrets/token", json={"value": VALUE}, headers=headers)
    # a careless client puts the value where audit would record it: a role description
    await api.post(
        "/v1/roles",
        json={"name": "leaky", "description": f"uses {VALUE}", "permissions": ["graphs:read"]},
        headers={**headers, "User-Agent": f"script/{VALUE}"},
    )
    await api.post("/v1/auth/login", json={"email": owner.email, "password": VALUE})
    entries = (await api.get("/v1/audit", params={"limit": 500}, headers=headers)).json()["items"]
    export = (await api.get("/v1/audit/export", headers=headers)).text
    assert {"secrets.created", "secrets.updated", "roles.created"} <= {e["action"] for e in entries}
    assert VALUE not in json.dumps(entries)
    assert VALUE not in export
    assert "[REDACTED]" in json.dumps(entries)
    assert VALUE not in caplog.text


async def test_a_secret_value_never_lands_in_a_runs_temporal_history(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    temporal_client: Client,
    api_worker: None,
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    await api.post("/v1/secrets", json={"name": "token", "value": VALUE}, headers=headers)
    seen: list[str] = []
    hook = FastAPI()

    @hook.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        seen.append(request.headers["authorization"])
        return {"you_sent": request.headers["authorization"]}

    with serve(hook) as base:
        graph = {
            "name": "uses-a-secret",
            "nodes": [
                {
                    "id": "call",
                    "type": "http",
                    "config": {
                        "method": "POST",
                        "url": f"{base}/echo",
                        "headers": {"Authorization": "Bearer {{ secrets.token }}"},
                        "json": {"hello": "world"},
                    },
                }
            ],
        }
        saved = await api.post("/v1/graphs", json=graph, headers=headers)
        assert saved.status_code == 201, saved.text
        started = await api.post(
            f"/v1/graphs/{saved.json()['id']}/executions", json={}, headers=headers
        )
        assert started.status_code == 201, started.text
        execution_id = started.json()["id"]
        for _ in range(200):
            body = (await api.get(f"/v1/executions/{execution_id}", headers=headers)).json()
            if body["status"] != "running":
                break
            await asyncio.sleep(0.1)
    assert body["status"] == "completed", body
    assert seen == [f"Bearer {VALUE}"]  # the activity did resolve it
    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    assert VALUE not in history.to_json()
    assert VALUE not in json.dumps(body)


async def test_a_secret_is_bound_to_the_hosts_it_may_be_sent_to(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    body = {"name": "hook", "value": VALUE, "allowed_hosts": ["Hooks.Slack.com.", "*.example.org"]}
    created = await api.post("/v1/secrets", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["allowed_hosts"] == ["hooks.slack.com", "*.example.org"]
    kept = await api.put("/v1/secrets/hook", json={"value": VALUE + "2"}, headers=headers)
    assert kept.json()["allowed_hosts"] == ["hooks.slack.com", "*.example.org"]
    moved = await api.put(
        "/v1/secrets/hook", json={"value": VALUE, "allowed_hosts": ["10.0.0.7"]}, headers=headers
    )
    assert moved.json()["allowed_hosts"] == ["10.0.0.7"]
    assert (await api.get("/v1/secrets/hook", headers=headers)).json()["allowed_hosts"] == [
        "10.0.0.7"
    ]
    unbound = await api.post("/v1/secrets", json={"name": "x", "value": "v"}, headers=headers)
    assert unbound.status_code == 201 and unbound.json()["allowed_hosts"] is None
    for hosts in (["https://evil.example/"], [], ["a b"]):
        bad = await api.post(
            "/v1/secrets", json={"name": "y", "value": "v", "allowed_hosts": hosts}, headers=headers
        )
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["loc"][:2] == ["body", "allowed_hosts"]
    entries = (await api.get("/v1/audit", params={"action": "secrets.*"}, headers=headers)).json()
    assert ["10.0.0.7"] in [entry["details"].get("allowed_hosts") for entry in entries["items"]]


async def test_in_production_every_secret_names_its_hosts(
    settings: Settings, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    from api.main import create_app

    owner = await member(make_tenant())
    production = settings.model_copy(update={"env": "production"})
    with serve(create_app(production)) as url:
        async with httpx.AsyncClient(base_url=url, headers=owner.headers) as client:
            missing = await client.post("/v1/secrets", json={"name": "t", "value": VALUE})
            assert missing.status_code == 422
            assert missing.json()["errors"] == [
                {
                    "loc": ["body", "allowed_hosts"],
                    "msg": "a secret must name the hosts it may be sent to in production",
                }
            ]
            assert VALUE not in missing.text
            upsert = await client.put("/v1/secrets/t", json={"value": VALUE})
            assert upsert.status_code == 422
            bound = {"name": "t", "value": VALUE, "allowed_hosts": ["api.example.com"]}
            assert (await client.post("/v1/secrets", json=bound)).status_code == 201
            replaced = await client.put("/v1/secrets/t", json={"value": VALUE + "2"})
            assert replaced.status_code == 200
            assert replaced.json()["allowed_hosts"] == ["api.example.com"]
