"""Roles over HTTP (routes/roles.py): custom roles grant their permissions; built-in roles
are read-only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import Member

MemberFactory = Callable[..., Awaitable[Member]]


async def test_custom_roles_grant_their_permissions(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    created = await api.post(
        "/v1/roles",
        json={"name": "auditor", "description": "reads the trail", "permissions": ["audit:read"]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["builtin"] is False and role["permissions"] == ["audit:read"]

    auditor = await member(tenant, roles=["auditor"])
    assert (await api.get("/v1/audit", headers=auditor.headers)).status_code == 200
    assert (await api.get("/v1/secrets", headers=auditor.headers)).status_code == 403

    changed = await api.patch(
        f"/v1/roles/{role['id']}", json={"permissions": ["secrets:manage"]}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert (await api.get("/v1/audit", headers=auditor.headers)).status_code == 403
    assert (await api.get("/v1/secrets", headers=auditor.headers)).status_code == 200

    held = await api.delete(f"/v1/roles/{role['id']}", headers=owner.headers)
    assert held.status_code == 409
    await api.patch(
        f"/v1/users/{auditor.user_id}", json={"roles": ["viewer"]}, headers=owner.headers
    )
    assert (await api.delete(f"/v1/roles/{role['id']}", headers=owner.headers)).status_code == 204
    assert (await api.get(f"/v1/roles/{role['id']}", headers=owner.headers)).status_code == 404

    listed = (await api.get("/v1/roles", headers=owner.headers)).json()
    assert [item["name"] for item in listed["items"]] == [
        "owner",
        "admin",
        "editor",
        "operator",
        "approver",
        "viewer",
    ]
    assert "tasks:complete" in listed["permissions"]


async def test_roles_validate_names_and_permissions(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    cases = [
        ({"name": "admin", "permissions": []}, 422),
        ({"name": "Bad Name", "permissions": []}, 422),
        ({"name": "ok", "permissions": ["graphs:fly"]}, 422),
        ({"name": "ok", "permissions": [], "extra": 1}, 422),
    ]
    for body, status in cases:
        response = await api.post("/v1/roles", json=body, headers=owner.headers)
        assert response.status_code == status, (body, response.text)
    assert (await api.patch("/v1/roles/owner", json={}, headers=owner.headers)).status_code == 409
    assert (await api.delete("/v1/roles/viewer", headers=owner.headers)).status_code == 409
    assert (await api.get("/v1/roles/viewer", headers=owner.headers)).json()["builtin"] is True
