"""Invitations over HTTP (routes/invitations.py): the admin's answer never says whether an
address has an account; the person accepts; tokens are single-use, expiring, per tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from auterity.models.identity import Invitation
from tests.api.conftest import Member, login

MemberFactory = Callable[..., Awaitable[Member]]


async def invite(api: httpx.AsyncClient, admin: Member, email: str, roles=("viewer",)):
    return await api.post(
        "/v1/invitations", json={"email": email, "roles": list(roles)}, headers=admin.headers
    )


def shape(response: httpx.Response) -> tuple[int, set[str], dict[str, object]]:
    body = response.json()
    volatile = {"id", "token", "created_at", "expires_at", "email"}
    return response.status_code, set(body), {k: v for k, v in body.items() if k not in volatile}


async def test_the_answer_does_not_reveal_whether_an_address_has_an_account(
    api: httpx.AsyncClient, two_tenants
) -> None:
    existing = await invite(api, two_tenants.a, two_tenants.b.email)
    unknown = await invite(api, two_tenants.a, f"nobody-{two_tenants.a.user_id}@example.com")
    assert existing.status_code == 201, existing.text
    assert shape(existing) == shape(unknown)
    assert existing.json()["status"] == "pending"
    assert len(existing.json()["token"]) == len(unknown.json()["token"])
    # nor does the list, nor reading one
    listed = (await api.get("/v1/invitations", headers=two_tenants.a.headers)).json()["items"]
    by_email = {item["email"]: item for item in listed}
    mine, theirs = by_email[two_tenants.b.email], by_email[unknown.json()["email"]]
    assert set(mine) == set(theirs) and mine["status"] == theirs["status"] == "pending"
    # inviting never adds anyone: B's owner is not a member of A until they accept
    assert (
        await login(api, two_tenants.b.email, tenant=two_tenants.a.tenant_slug)
    ).status_code == 401


async def test_an_existing_account_joins_by_accepting_signed_in(
    api: httpx.AsyncClient, two_tenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    token = (await invite(api, a, b.email, roles=["editor"])).json()["token"]
    # the token alone cannot attach an existing account
    taken = await api.post(
        "/v1/invitations/accept-new", json={"token": token, "password": "somebody else's pass"}
    )
    assert taken.status_code == 409
    accepted = await api.post("/v1/invitations/accept", json={"token": token}, headers=b.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "tenant": a.tenant_slug,
        "email": b.email,
        "roles": ["editor"],
        "account_created": False,
    }
    joined = await login(api, b.email, tenant=a.tenant_slug)
    assert joined.status_code == 200 and joined.json()["tenant"] == a.tenant_slug
    # single use
    again = await api.post("/v1/invitations/accept", json={"token": token}, headers=b.headers)
    assert again.status_code == 404
    listed = (await api.get("/v1/invitations", headers=a.headers)).json()["items"]
    assert [item["status"] for item in listed if item["email"] == b.email] == ["accepted"]
    actions = [e["action"] for e in (await api.get("/v1/audit", headers=a.headers)).json()["items"]]
    assert "invitations.created" in actions and "invitations.accepted" in actions
    assert token not in (await api.get("/v1/audit", headers=a.headers)).text


async def test_a_new_account_accepts_with_the_token_once(
    api: httpx.AsyncClient, two_tenants
) -> None:
    email = f"fresh-{two_tenants.a.user_id}@example.com"
    token = (await invite(api, two_tenants.a, email)).json()["token"]
    weak = await api.post("/v1/invitations/accept-new", json={"token": token, "password": "x"})
    assert weak.status_code == 422
    body = {"token": token, "name": "Fresh", "password": "a fresh passphrase 42"}
    created = await api.post("/v1/invitations/accept-new", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["account_created"] is True
    assert (await login(api, email, "a fresh passphrase 42")).status_code == 200
    replayed = await api.post("/v1/invitations/accept-new", json=body)
    assert replayed.status_code == 404


async def test_tenants_cannot_read_revoke_or_accept_each_others_invitations(
    api: httpx.AsyncClient, two_tenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    created = (await invite(api, b, f"for-b-{b.user_id}@example.com")).json()
    for method in ("GET", "DELETE"):
        response = await api.request(method, f"/v1/invitations/{created['id']}", headers=a.headers)
        assert response.status_code == 404, (method, response.text)
    assert created["id"] not in (await api.get("/v1/invitations", headers=a.headers)).text
    # A's owner holds B's token for someone else's address: refused as if there were none
    stolen = await api.post(
        "/v1/invitations/accept", json={"token": created["token"]}, headers=a.headers
    )
    assert stolen.status_code == 404
    assert (await login(api, a.email, tenant=b.tenant_slug)).status_code == 401
    # and B's invitation is still pending, usable by its person
    read = await api.get(f"/v1/invitations/{created['id']}", headers=b.headers)
    assert read.json()["status"] == "pending"


async def test_expired_and_revoked_tokens_are_refused(
    api: httpx.AsyncClient, two_tenants, sessions: sessionmaker[Session]
) -> None:
    a = two_tenants.a
    expired = (await invite(api, a, f"late-{a.user_id}@example.com")).json()
    with sessions() as session, session.begin():
        session.execute(
            update(Invitation)
            .where(Invitation.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .execution_options(auterity_unscoped=True)
        )
    body = {"token": expired["token"], "password": "a late passphrase 42"}
    assert (await api.post("/v1/invitations/accept-new", json=body)).status_code == 404
    read = await api.get(f"/v1/invitations/{expired['id']}", headers=a.headers)
    assert read.json()["status"] == "expired"

    revoked = (await invite(api, a, f"revoked-{a.user_id}@example.com")).json()
    gone = await api.delete(f"/v1/invitations/{revoked['id']}", headers=a.headers)
    assert gone.status_code == 204
    body = {"token": revoked["token"], "password": "a revoked passphrase"}
    assert (await api.post("/v1/invitations/accept-new", json=body)).status_code == 404
    assert (
        await api.post(
            "/v1/invitations/accept-new",
            json={"token": "ati_forged", "password": "a forged passphrase"},
        )
    ).status_code == 404


async def test_an_invitation_grants_no_more_than_the_inviter_holds(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    admin = await member(tenant, roles=["admin"])
    refused = await invite(api, admin, f"boss-{owner.user_id}@example.com", roles=["owner"])
    assert refused.status_code == 403
    unknown = await invite(api, owner, f"x-{owner.user_id}@example.com", roles=["wizard"])
    assert unknown.status_code == 422
    bad = await invite(api, owner, "not-an-address", roles=["viewer"])
    assert bad.status_code == 422 and "email" in bad.json()["detail"]
    key = await api.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["users:manage"]}, headers=owner.headers
    )
    token = (await invite(api, owner, f"k-{owner.user_id}@example.com")).json()["token"]
    as_key = {"Authorization": f"Bearer {key.json()['key']}"}
    by_key = await api.post("/v1/invitations/accept", json={"token": token}, headers=as_key)
    assert by_key.status_code == 403
