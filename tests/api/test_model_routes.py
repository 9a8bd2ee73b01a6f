"""Model routes over the API: saved whole, versioned, audited, validated against the
tenant (secrets, fallbacks, egress), invisible to other tenants, usable by graphs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.api.conftest import Member, TwoTenants

MemberFactory = Callable[..., Awaitable[Member]]


def _route(name: str | None = None, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"deployments": [{"model": "openai/gpt-4o-mini"}], **config}
    if name is not None:
        body["name"] = name
    return body


async def test_a_route_is_saved_versioned_and_audited(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    await api.post(
        "/v1/secrets",
        json={"name": "OPENAI_KEY", "value": "sk-abc", "allowed_hosts": ["api.openai.com"]},
        headers=headers,
    )
    backup = await api.post("/v1/routes", json=_route("backup"), headers=headers)
    assert backup.status_code == 201, backup.text
    body = _route(
        "fast",
        deployments=[
            {"model": "openai/gpt-4o-mini", "api_key_secret": "OPENAI_KEY", "weight": 3},
            {"model": "anthropic/claude-3-5-haiku-latest", "rpm": 100, "tpm": 10000},
        ],
        strategy="least-busy",
        fallbacks=["backup"],
        allowed_fails=2,
        cooldown_seconds=30,
        timeout_seconds=20,
    )
    created = await api.post("/v1/routes", json=body, headers=headers)
    assert created.status_code == 201, created.text
    route = created.json()
    assert route["version"] == 1 and route["config"]["strategy"] == "least-busy"
    assert route["config"]["deployments"][0]["weight"] == 3

    replaced = await api.put(
        "/v1/routes/fast",
        json=_route(strategy="latency-based-routing", fallbacks=["backup"]),
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    listed = (await api.get("/v1/routes", headers=headers)).json()
    assert [r["name"] for r in listed["items"]] == ["backup", "fast"]
    assert "default" in listed["platform_routes"]

    in_use = await api.delete("/v1/routes/backup", headers=headers)
    assert in_use.status_code == 409 and "fallback of fast" in in_use.json()["detail"]
    assert (await api.delete("/v1/routes/fast", headers=headers)).status_code == 204
    assert (await api.get("/v1/routes/fast", headers=headers)).status_code == 404

    entries = (await api.get("/v1/audit", params={"limit": 100}, headers=headers)).json()
    actions = [e["action"] for e in entries["items"]]
    assert {"routes.created", "routes.updated", "routes.deleted"} <= set(actions)
    assert "sk-abc" not in str(entries)


async def test_bad_routes_are_422s_naming_the_field(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        (_route("r", strategy="fastest"), ["body", "strategy"], "simple-shuffle"),
        (_route("r", deployments=[]), ["body", "deployments"], "at least 1"),
        (_route("r", deployments=[{"model": "gpt"}]), ["body", "deployments", 0, "model"], ""),
        (
            _route("r", deployments=[{"model": "openai/x", "api_base": "ftp://h"}]),
            ["body", "deployments", 0, "api_base"],
            "http or https",
        ),
        (
            _route("r", deployments=[{"model": "openai/x", "api_key_secret": "NOPE"}]),
            ["body", "deployments", 0, "api_key_secret"],
            "unknown secret 'NOPE'",
        ),
        (
            _route("r", deployments=[{"model": "openai/x", "api_base": "http://169.254.169.254"}]),
            ["body", "deployments", 0, "api_base"],
            "egress to 169.254.169.254 refused",
        ),
        (_route("r", fallbacks=["ghost"]), ["body", "fallbacks", 0], "unknown route 'ghost'"),
        (_route("r", fallbacks=["r"]), ["body", "fallbacks", 0], "itself"),
        (_route("r", cooldown_seconds=-1), ["body", "cooldown_seconds"], "greater than 0"),
        (_route("r", surprise=True), ["body", "surprise"], "Extra inputs"),
        (
            _route("r", deployments=[{"model": "openai/x", "input_cost_per_token": 0.1}]),
            ["body", "deployments", 0],
            "together",
        ),
        (_route("1bad"), ["body", "name"], "letter"),
        (_route("r", cache_seconds=60), ["body", "cache_seconds"], "AUTERITY_REDIS_URL"),
    ]
    for body, loc, message in cases:
        response = await api.post("/v1/routes", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        errors = response.json()["errors"]
        assert any(e["loc"] == loc and message in e["msg"] for e in errors), (loc, errors)
    assert (await api.get("/v1/routes", headers=headers)).json()["items"] == []


async def test_routes_need_routes_manage(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    editor = await member(make_tenant(), roles=["editor"])
    for method, path in [("GET", "/v1/routes"), ("POST", "/v1/routes"), ("GET", "/v1/routes/x")]:
        response = await api.request(method, path, json=_route("x"), headers=editor.headers)
        assert response.status_code == 403, response.text
        assert "routes:manage" in response.json()["detail"]
    assert (await api.get("/v1/routes")).status_code == 401


async def test_a_tenant_cannot_see_change_or_fall_back_to_another_tenants_route(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    assert (await api.post("/v1/routes", json=_route("private"), headers=b.headers)).is_success
    assert (await api.get("/v1/routes/private", headers=a.headers)).status_code == 404
    put = await api.put("/v1/routes/private", json=_route(), headers=a.headers)
    assert put.status_code == 404
    assert (await api.delete("/v1/routes/private", headers=a.headers)).status_code == 404
    fallback = await api.post(
        "/v1/routes", json=_route("mine", fallbacks=["private"]), headers=a.headers
    )
    assert fallback.status_code == 422 and "unknown route 'private'" in fallback.text
    graph = {
        "name": "uses-b",
        "nodes": [{"id": "ask", "type": "llm", "config": {"route": "private", "prompt": "hi"}}],
        "edges": [],
    }
    refused = await api.post("/v1/graphs/validate", json=graph, headers=a.headers)
    assert refused.status_code == 422 and "unknown model route 'private'" in refused.text
    accepted = await api.post("/v1/graphs/validate", json=graph, headers=b.headers)
    assert accepted.status_code == 200, accepted.text
    assert (await api.get("/v1/routes/private", headers=b.headers)).json()["version"] == 1
