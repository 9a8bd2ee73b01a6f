"""SCIM 2.0 over HTTP: what Okta and Entra send, deactivation ending sessions at once, groups
driving roles, and scim2-tester's checks against the running API."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import Member
from tests.api.sso.support import (
    MAPPINGS,
    SsoTenant,
    fixture_shared_tenant,  # noqa: F401 - fixture
    fixture_sso_tenant,  # noqa: F401 - fixture
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"


async def _scim_token(api: httpx.AsyncClient, tenant: SsoTenant) -> dict[str, str]:
    """The tenant maps groups to roles (no IdP needed for SCIM) and gets a SCIM token."""
    response = await api.put("/v1/sso/config", json={"role_mappings": MAPPINGS},
                             headers=tenant.owner.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    created = await api.post("/v1/sso/scim-token", headers=tenant.owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["token"].startswith("scim_")
    read = await api.get("/v1/sso/config", headers=tenant.owner.headers)
    assert read.json()["scim"]["token_set"] is True and "scim_" not in read.text
    return {"Authorization": f"Bearer {created.json()['token']}", "Content-Type": SCIM_JSON}


def _okta_user(email: str, external_id: str | None = None) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": email,
        "externalId": external_id or f"00u{uuid.uuid4().hex[:12]}",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Grace Hopper",
        "active": True,
    }


async def _failures(api: httpx.AsyncClient, owner: Member) -> list[dict[str, Any]]:
    response = await api.get("/v1/audit", params={"action": "scim.request", "limit": 20},
                              headers=owner.headers)  # fmt: skip
    return [entry["details"] for entry in response.json()["items"]]


async def test_scim2_tester_finds_nothing_wrong(
    api: httpx.AsyncClient, api_url: str, shared_tenant: SsoTenant, database_engine_name: str
) -> None:
    if database_engine_name != "postgresql":
        # ~15 s a run: it runs once, on the engine with row-level security (always in CI)
        pytest.skip("scim2-tester runs on the PostgreSQL leg")
    headers = await _scim_token(api, shared_tenant)
    token = headers["Authorization"].removeprefix("Bearer ")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.scim_check", f"{api_url}/v1/scim/v2/", token,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]
    report = json.loads(out)
    assert report["checks"] > 50
    assert not report["failed"], "\n".join(f"{f['title']}: {f['reason']}" for f in report["failed"])


async def test_create_read_filter_and_conflict_like_okta(
    api: httpx.AsyncClient, shared_tenant: SsoTenant
) -> None:
    headers = await _scim_token(api, shared_tenant)
    email = shared_tenant.email("grace")
    created = await api.post("/v1/scim/v2/Users", json=_okta_user(email), headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM_JSON)
    user = created.json()
    assert created.headers["location"].endswith(f"/v1/scim/v2/Users/{user['id']}")
    assert user["active"] is True and user["name"]["familyName"] == "Hopper"
    found = await api.get("/v1/scim/v2/Users", params={"filter": f'userName eq "{email.upper()}"'},
                          headers=headers)  # fmt: skip
    assert found.json()["totalResults"] == 1 and found.json()["Resources"][0]["id"] == user["id"]
    member = await api.get(f"/v1/users/{user['id']}", headers=shared_tenant.owner.headers)
    assert member.status_code == 200 and member.json()["email"] == email
    again = await api.post("/v1/scim/v2/Users", json=_okta_user(email, "00u2"), headers=headers)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    assert (await _failures(api, shared_tenant.owner))[0]["reason"] == "uniqueness"
    bad = await api.get("/v1/scim/v2/Users", params={"filter": 'title sw "x"'}, headers=headers)
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    garbage = await api.post("/v1/scim/v2/Users", content=b"{not json", headers=headers)
    assert garbage.status_code == 400 and garbage.json()["scimType"] == "invalidSyntax"
    created_entries = await api.get("/v1/audit", params={"action": "scim.users.created"},
                                    headers=shared_tenant.owner.headers)  # fmt: skip
    assert created_entries.json()["items"][0]["actor"]["name"] == "scim"


async def test_deactivation_ends_the_persons_sessions_at_once(
    api: httpx.AsyncClient, shared_tenant: SsoTenant, member: Callable[..., Awaitable[Member]]
) -> None:
    headers = await _scim_token(api, shared_tenant)
    person = await member(shared_tenant.owner.tenant_slug, ["viewer"],
                          email=shared_tenant.email("leaver"))  # fmt: skip
    assert (await api.get("/v1/me", headers=person.headers)).status_code == 200
    adopted = await api.post("/v1/scim/v2/Users", json=_okta_user(person.email), headers=headers)
    assert adopted.status_code == 201 and adopted.json()["id"] == person.user_id
    # Entra ID deactivates with a PATCH whose value is the string "False"
    entra = {"schemas": [PATCH],
             "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}  # fmt: skip
    patched = await api.patch(f"/v1/scim/v2/Users/{person.user_id}", json=entra, headers=headers)
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert (await api.get("/v1/me", headers=person.headers)).status_code == 401
    refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert refreshed.status_code == 401
    entries = await api.get("/v1/audit", params={"action": "scim.users.deactivated"},
                            headers=shared_tenant.owner.headers)  # fmt: skip
    assert entries.json()["items"][0]["details"]["sessions_ended"] >= 1
    # Okta's PUT reactivates
    body = _okta_user(person.email) | {"active": True}
    assert (await api.put(f"/v1/scim/v2/Users/{person.user_id}", json=body,
                          headers=headers)).json()["active"] is True  # fmt: skip


async def test_group_membership_drives_the_role_mapping(
    api: httpx.AsyncClient, shared_tenant: SsoTenant
) -> None:
    headers = await _scim_token(api, shared_tenant)
    user = (await api.post("/v1/scim/v2/Users", json=_okta_user(shared_tenant.email("eng"), "00u9"),
                           headers=headers)).json()  # fmt: skip
    owner = shared_tenant.owner.headers
    assert (await api.get(f"/v1/users/{user['id']}", headers=owner)).json()["roles"] == []
    group = await api.post(
        "/v1/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "engineering", "members": [{"value": user["id"]}]},
        headers=headers,
    )
    assert group.status_code == 201, group.text
    assert (await api.get(f"/v1/users/{user['id']}", headers=owner)).json()["roles"] == ["editor"]
    read = await api.get(f"/v1/scim/v2/Users/{user['id']}", headers=headers)
    assert read.json()["groups"][0]["display"] == "engineering"
    removal = {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}]}  # fmt: skip
    patched = await api.patch(
        f"/v1/scim/v2/Groups/{group.json()['id']}", json=removal, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["members"] == []
    assert (await api.get(f"/v1/users/{user['id']}", headers=owner)).json()["roles"] == []
    addition = {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]}]}  # fmt: skip
    await api.patch(f"/v1/scim/v2/Groups/{group.json()['id']}", json=addition, headers=headers)
    assert (await api.get(f"/v1/users/{user['id']}", headers=owner)).json()["roles"] == ["editor"]
    deleted = await api.delete(f"/v1/scim/v2/Groups/{group.json()['id']}", headers=headers)
    assert deleted.status_code == 204
    assert (await api.get(f"/v1/users/{user['id']}", headers=owner)).json()["roles"] == []


async def test_the_scim_token_is_checked_and_refusals_audited(
    api: httpx.AsyncClient, shared_tenant: SsoTenant
) -> None:
    missing = await api.get("/v1/scim/v2/Users")
    assert missing.status_code == 401 and missing.json()["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"]  # fmt: skip
    user_token = await api.get("/v1/scim/v2/Users", headers=shared_tenant.owner.headers)
    assert user_token.status_code == 401  # an access token is not a SCIM token
    headers = await _scim_token(api, shared_tenant)
    assert (await api.get("/v1/scim/v2/Users", headers=headers)).status_code == 200
    assert (
        await api.delete("/v1/sso/scim-token", headers=shared_tenant.owner.headers)
    ).status_code == 204
    revoked = await api.post(
        "/v1/scim/v2/Users", json=_okta_user(shared_tenant.email()), headers=headers
    )
    assert revoked.status_code == 401
    assert (await _failures(api, shared_tenant.owner))[0]["reason"] == "unauthorized"


async def test_another_tenants_scim_token_sees_nothing_of_this_one(
    api: httpx.AsyncClient, sso_tenant: SsoTenant, make_tenant: Callable[..., str],
    member: Callable[..., Awaitable[Member]],
) -> None:  # fmt: skip
    headers = await _scim_token(api, sso_tenant)
    user = (await api.post("/v1/scim/v2/Users", json=_okta_user(sso_tenant.email()),
                           headers=headers)).json()  # fmt: skip
    other = SsoTenant(owner=await member(make_tenant()), domain="other.example")
    theirs = await _scim_token(api, other)
    assert (await api.get(f"/v1/scim/v2/Users/{user['id']}", headers=theirs)).status_code == 404
    assert (await api.get("/v1/scim/v2/Users", headers=theirs)).json()["totalResults"] == 0
    gone = await api.delete(f"/v1/scim/v2/Users/{user['id']}", headers=theirs)
    assert gone.status_code == 404
