"""Permissions across resources (api/auth.py): a missing one is 403, a missing credential 401,
and nobody grants more than they hold."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import Member

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
        ("POST", "/v1/invitations"),
        ("GET", "/v1/invitations"),
        ("DELETE", "/v1/invitations/x"),
        ("POST", "/v1/invitations/accept"),
        ("POST", "/v1/users/x/password"),
        ("POST", "/v1/me/password"),
        ("GET", "/v1/tenant"),
        ("PATCH", "/v1/tenant"),
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
    assert (await api.post("/v1/invitations", json=invite, headers=as_manager)).status_code == 403
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
