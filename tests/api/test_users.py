"""The tenant's members over HTTP (routes/users.py): invite or create, list, read, deactivate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import Member, login

MemberFactory = Callable[..., Awaitable[Member]]


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
