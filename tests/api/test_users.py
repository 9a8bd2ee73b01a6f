"""The tenant's members over HTTP (routes/users.py): list, read, deactivate, reset a password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import PASSWORD, Member, login

MemberFactory = Callable[..., Awaitable[Member]]


async def invite_new(api: httpx.AsyncClient, admin: Member, email: str, roles: list[str]) -> str:
    """Invite `email` and accept it with a new account; the new account's password."""
    invited = await api.post(
        "/v1/invitations", json={"email": email, "roles": roles}, headers=admin.headers
    )
    assert invited.status_code == 201, invited.text
    password = f"a passphrase for {email}"
    accepted = await api.post(
        "/v1/invitations/accept-new",
        json={"token": invited.json()["token"], "name": "New", "password": password},
    )
    assert accepted.status_code == 201, accepted.text
    return password


async def test_invite_then_deactivate_a_member(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    email = f"new-{owner.user_id}@example.com"
    password = await invite_new(api, owner, email, ["viewer"])

    signed_in = await login(api, email, password)
    assert signed_in.status_code == 200
    token = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    assert (await api.get("/v1/me", headers=token)).status_code == 200

    again = await api.post(
        "/v1/invitations", json={"email": email, "roles": ["viewer"]}, headers=owner.headers
    )
    assert again.status_code == 409  # a member of this very tenant: the admin sees them anyway

    listed = (await api.get("/v1/users", headers=owner.headers)).json()["items"]
    assert {person["email"] for person in listed} == {owner.email, email}
    new_id = next(person["id"] for person in listed if person["email"] == email)

    assert (await api.delete(f"/v1/users/{new_id}", headers=owner.headers)).status_code == 204
    assert (await api.get("/v1/me", headers=token)).status_code == 401
    assert (await login(api, email, password)).status_code == 401
    read = await api.get(f"/v1/users/{new_id}", headers=owner.headers)
    assert read.json()["is_active"] is False


async def test_people_join_only_through_invitations(api: httpx.AsyncClient, two_tenants) -> None:
    body = {"email": two_tenants.b.email, "roles": ["viewer"]}
    assert (await api.post("/v1/users", json=body, headers=two_tenants.a.headers)).status_code in {
        404,
        405,
    }
    assert (
        await login(api, two_tenants.b.email, tenant=two_tenants.a.tenant_slug)
    ).status_code == 401


async def test_an_admin_resets_a_members_password_and_their_sessions_end(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    admin = await member(tenant, roles=["admin"])
    editor = await member(tenant, roles=["editor"])
    assert (await api.get("/v1/me", headers=editor.headers)).status_code == 200

    reset = await api.post(f"/v1/users/{editor.user_id}/password", json={}, headers=admin.headers)
    assert reset.status_code == 200, reset.text
    generated = reset.json()["password"]
    assert generated and reset.json()["sessions_ended"] == 1
    # the old access token and refresh token are refused; the old password too
    assert (await api.get("/v1/me", headers=editor.headers)).status_code == 401
    refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": editor.refresh_token})
    assert refreshed.status_code == 401
    assert (await login(api, editor.email, PASSWORD)).status_code == 401
    assert (await login(api, editor.email, generated)).status_code == 200

    chosen = {"password": "an admin's chosen passphrase"}
    done = await api.post(
        f"/v1/users/{editor.user_id}/password", json=chosen, headers=admin.headers
    )
    assert done.status_code == 200 and done.json()["password"] is None
    assert (await login(api, editor.email, chosen["password"])).status_code == 200

    weak = await api.post(
        f"/v1/users/{editor.user_id}/password", json={"password": "short"}, headers=admin.headers
    )
    assert weak.status_code == 422 and "password" in weak.json()["detail"]
    # an admin cannot reset an owner's, nor (without the current one) their own
    assert (
        await api.post(f"/v1/users/{owner.user_id}/password", json={}, headers=admin.headers)
    ).status_code == 403
    assert (
        await api.post(f"/v1/users/{admin.user_id}/password", json={}, headers=admin.headers)
    ).status_code == 403
    # nor can an editor reset anyone's
    other_editor = await member(tenant, roles=["editor"])
    assert (
        await api.post(
            f"/v1/users/{editor.user_id}/password", json={}, headers=other_editor.headers
        )
    ).status_code == 403
    entries = await api.get(
        "/v1/audit", params={"action": "users.password_reset"}, headers=owner.headers
    )
    assert len(entries.json()["items"]) == 2
    assert generated not in entries.text and chosen["password"] not in entries.text


async def test_an_admin_cannot_reset_the_password_of_an_account_of_other_tenants(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    """Tenant A's admin must not take over an account that is also an owner in tenant B."""
    a, b = make_tenant(), make_tenant()
    owner_b = await member(b)
    admin_a = await member(a, roles=["admin"])
    invited = await api.post(
        "/v1/invitations",
        json={"email": owner_b.email, "roles": ["viewer"]},
        headers=(await member(a)).headers,
    )
    accepted = await api.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"]}, headers=owner_b.headers
    )
    assert accepted.status_code == 200, accepted.text
    refused = await api.post(
        f"/v1/users/{owner_b.user_id}/password", json={}, headers=admin_a.headers
    )
    assert refused.status_code == 409, refused.text
    assert "other tenants" in refused.json()["detail"]
    assert (await login(api, owner_b.email, tenant=b)).status_code == 200
