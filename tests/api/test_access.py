"""Roles, permissions and API keys: what each principal may do, and what it may grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import Member, login

MemberFactory = Callable[..., Awaitable[Member]]


async def test_require_answers_403_without_the_permission(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    viewer = await member(make_tenant(), roles=["viewer"])
    for method, path in (
        ("GET", "/v1/users"),
        ("GET", "/v1/roles"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/secrets"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/audit/export"),
        ("POST", "/v1/audit/verify"),
    ):
        response = await api.request(method, path, headers=viewer.headers)
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert "permission" in response.json()["detail"]


async def test_every_identity_endpoint_needs_a_credential(api: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/me"),
        ("POST", "/v1/auth/logout"),
        ("GET", "/v1/users"),
        ("POST", "/v1/users"),
        ("GET", "/v1/users/x"),
        ("PATCH", "/v1/users/x"),
        ("DELETE", "/v1/users/x"),
        ("GET", "/v1/roles"),
        ("POST", "/v1/roles"),
        ("GET", "/v1/roles/x"),
        ("PATCH", "/v1/roles/x"),
        ("DELETE", "/v1/roles/x"),
        ("GET", "/v1/api-keys"),
        ("POST", "/v1/api-keys"),
        ("GET", "/v1/api-keys/x"),
        ("DELETE", "/v1/api-keys/x"),
        ("GET", "/v1/secrets"),
        ("POST", "/v1/secrets"),
        ("GET", "/v1/secrets/x"),
        ("PUT", "/v1/secrets/x"),
        ("DELETE", "/v1/secrets/x"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/audit/export"),
        ("POST", "/v1/audit/verify"),
    ):
        response = await api.request(method, path, json={})
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"


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


async def test_nobody_grants_more_than_they_hold(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    admin = await member(tenant, roles=["admin"])
    await api.post(
        "/v1/roles",
        json={"name": "manager", "permissions": ["users:manage"]},
        headers=owner.headers,
    )
    manager = await member(tenant, roles=["manager"])
    as_manager = manager.headers

    # a users:manage-only member cannot hand out roles or scopes beyond it
    invite = {"email": "x-" + manager.user_id + "@example.com", "roles": ["editor"]}
    assert (await api.post("/v1/users", json=invite, headers=as_manager)).status_code == 403
    escalate = {"roles": ["admin"]}
    assert (
        await api.patch(f"/v1/users/{manager.user_id}", json=escalate, headers=as_manager)
    ).status_code == 403
    role = {"name": "sneaky", "permissions": ["secrets:manage"]}
    assert (await api.post("/v1/roles", json=role, headers=as_manager)).status_code == 403
    key = {"name": "k", "scopes": ["secrets:manage"]}
    assert (await api.post("/v1/api-keys", json=key, headers=as_manager)).status_code == 403

    # admins do everything except the owner role
    assert (
        await api.patch(
            f"/v1/users/{admin.user_id}", json={"roles": ["owner"]}, headers=admin.headers
        )
    ).status_code == 403
    assert (
        await api.delete(f"/v1/users/{owner.user_id}", headers=admin.headers)
    ).status_code == 403
    # and the last owner stays
    demote = {"roles": ["admin"]}
    assert (
        await api.patch(f"/v1/users/{owner.user_id}", json=demote, headers=owner.headers)
    ).status_code == 409


async def test_invite_then_deactivate_a_member(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    email = f"new-{owner.user_id}@example.com"
    created = await api.post(
        "/v1/users",
        json={"email": email, "name": "New", "roles": ["viewer"]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["account_created"] is True and body["initial_password"]
    assert body["roles"] == ["viewer"]

    signed_in = await login(api, email, body["initial_password"])
    assert signed_in.status_code == 200
    token = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    assert (await api.get("/v1/me", headers=token)).status_code == 200

    again = await api.post(
        "/v1/users", json={"email": email, "roles": ["viewer"]}, headers=owner.headers
    )
    assert again.status_code == 409

    listed = (await api.get("/v1/users", headers=owner.headers)).json()["items"]
    assert {person["email"] for person in listed} == {owner.email, email}

    assert (await api.delete(f"/v1/users/{body['id']}", headers=owner.headers)).status_code == 204
    assert (await api.get("/v1/me", headers=token)).status_code == 401
    assert (await login(api, email, body["initial_password"])).status_code == 401
    read = await api.get(f"/v1/users/{body['id']}", headers=owner.headers)
    assert read.json()["is_active"] is False


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


async def test_inviting_an_existing_account_adds_it_without_touching_its_password(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    elsewhere = await member(make_tenant())
    owner = await member(make_tenant())
    with_password = {"email": elsewhere.email, "roles": ["viewer"], "password": "x" * 20}
    refused = await api.post("/v1/users", json=with_password, headers=owner.headers)
    assert refused.status_code == 422
    invited = await api.post(
        "/v1/users", json={"email": elsewhere.email, "roles": ["viewer"]}, headers=owner.headers
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["account_created"] is False
    assert invited.json()["initial_password"] is None
    joined = await login(api, elsewhere.email, tenant=owner.tenant_slug)
    assert joined.status_code == 200 and joined.json()["tenant"] == owner.tenant_slug
    weak = {"email": f"weak-{owner.user_id}@example.com", "roles": ["viewer"], "password": "short"}
    assert (await api.post("/v1/users", json=weak, headers=owner.headers)).status_code == 422
