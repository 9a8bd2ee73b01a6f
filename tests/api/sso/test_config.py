"""SSO configuration, discovery and the require-SSO policy, over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import Member, login
from tests.api.sso.support import (
    SsoTenant,
    configure_oidc,
    configure_saml,
    fixture_oidc_provider,  # noqa: F401 - fixture
    fixture_saml_idp,  # noqa: F401 - fixture
    fixture_sso_tenant,  # noqa: F401 - fixture
)
from tests.oidc_provider import OidcProvider
from tests.saml_idp import SamlIdP


async def test_configuration_needs_sso_manage_and_never_returns_secrets(
    api: httpx.AsyncClient, sso_tenant: SsoTenant, saml_idp: SamlIdP, oidc_provider: OidcProvider,
    member: Callable[..., Awaitable[Member]],
) -> None:  # fmt: skip
    editor = await member(sso_tenant.owner.tenant_slug, ["editor"])
    assert (await api.get("/v1/sso/config", headers=editor.headers)).status_code == 403
    assert (await api.put("/v1/sso/config", json={}, headers=editor.headers)).status_code == 403
    assert (await api.get("/v1/sso/config")).status_code == 401
    empty = await api.get("/v1/sso/config", headers=sso_tenant.owner.headers)
    assert empty.status_code == 200 and empty.json()["saml"] is None
    await configure_saml(api, sso_tenant, saml_idp)
    both = await configure_oidc(api, sso_tenant, oidc_provider,
                                saml={"metadata_xml": saml_idp.metadata_xml()})  # fmt: skip
    assert both["oidc"]["client_secret_set"] is True and both["saml"] is not None
    read = await api.get("/v1/sso/config", headers=sso_tenant.owner.headers)
    assert oidc_provider.client_secret not in read.text and "PRIVATE KEY" not in read.text
    # PUT without the secret keeps it; the audit trail never has it either
    kept = await api.put("/v1/sso/config", headers=sso_tenant.owner.headers, json={
        "oidc": {"issuer": oidc_provider.issuer, "client_id": oidc_provider.client_id}})  # fmt: skip
    assert kept.json()["oidc"]["client_secret_set"] is True
    trail = await api.get("/v1/audit", params={"action": "sso.config.*"},
                          headers=sso_tenant.owner.headers)  # fmt: skip
    assert len(trail.json()["items"]) == 3 and oidc_provider.client_secret not in trail.text
    assert (await api.delete("/v1/sso/config", headers=sso_tenant.owner.headers)).status_code == 204
    assert (await api.get(f"/v1/sso/oidc/{sso_tenant.owner.tenant_slug}/login")).status_code == 404


async def test_bad_configuration_is_a_4xx_that_says_where(
    api: httpx.AsyncClient, sso_tenant: SsoTenant
) -> None:
    owner = sso_tenant.owner.headers
    cases = [
        ({"saml": {"metadata_xml": "<not-metadata/>"}}, "saml.metadata_xml"),
        ({"saml": {"metadata_url": "http://169.254.169.254/latest/meta-data"}}, "saml.metadata_url"),
        ({"saml": {"metadata_url": "https://10.0.0.5/metadata"}}, "saml.metadata_url"),
        ({"saml": {"metadata_url": "ftp://idp.example/metadata"}}, "saml.metadata_url"),
        ({"saml": {"idp_entity_id": "x", "idp_sso_url": "https://idp.example/sso",
                   "idp_certificates": ["not a certificate"]}}, "saml.idp_certificates"),
        ({"saml": {}}, "body.saml"),
        ({"oidc": {"issuer": "idp.example", "client_id": "c", "client_secret": "s"}}, "oidc.issuer"),
        ({"oidc": {"issuer": "https://idp.example", "client_id": "c", "scopes": ["email"]}},
         "oidc.scopes"),
        ({"role_mappings": [{"group": "g", "roles": ["no-such-role"]}]}, "role_mappings"),
        ({"require_sso": True}, "require_sso"),
        ({"unexpected": 1}, "body.unexpected"),
    ]  # fmt: skip
    for body, where in cases:
        response = await api.put("/v1/sso/config", json=body, headers=owner)
        assert response.status_code == 422, (body, response.text)
        assert where in response.json()["detail"] or where in str(response.json().get("errors")), (
            body, response.json())  # fmt: skip
    refused = await api.get("/v1/audit", params={"action": "sso.config.*"}, headers=owner)
    assert refused.json()["items"] == []


async def test_discovery_says_where_to_sign_in_without_revealing_accounts(
    api: httpx.AsyncClient, sso_tenant: SsoTenant, saml_idp: SamlIdP,
    member: Callable[..., Awaitable[Member]],
) -> None:  # fmt: skip
    colleague = await member(sso_tenant.owner.tenant_slug, ["viewer"], email=sso_tenant.email())
    before = await api.post("/v1/sso/discover", json={"email": sso_tenant.email()})
    assert before.status_code == 200 and before.json() == {"sso": False, "options": []}
    await configure_saml(api, sso_tenant, saml_idp)
    slug = sso_tenant.owner.tenant_slug
    for email in (colleague.email, sso_tenant.email("nobody-here")):
        found = await api.post("/v1/sso/discover", json={"email": email})
        option = found.json()["options"][0]
        assert found.json()["sso"] is True and option["tenant"] == slug
        assert option["protocol"] == "saml" and option["login_url"].endswith(
            f"/v1/sso/saml/{slug}/login"
        )
    elsewhere = await api.post("/v1/sso/discover", json={"email": "someone@unrelated.example"})
    assert elsewhere.json()["sso"] is False
    assert (await api.post("/v1/sso/discover", json={})).status_code == 422


async def test_require_sso_refuses_passwords_but_lets_an_owner_break_glass(
    api: httpx.AsyncClient, sso_tenant: SsoTenant, saml_idp: SamlIdP,
    member: Callable[..., Awaitable[Member]],
) -> None:  # fmt: skip
    slug = sso_tenant.owner.tenant_slug
    editor = await member(slug, ["editor"])
    await configure_saml(api, sso_tenant, saml_idp, allow_idp_initiated=False)
    response = await api.put("/v1/sso/config", headers=sso_tenant.owner.headers, json={
        "saml": {"metadata_xml": saml_idp.metadata_xml()}, "require_sso": True})  # fmt: skip
    assert response.status_code == 200 and response.json()["require_sso"] is True
    refused = await login(api, editor.email, tenant=slug)
    assert refused.status_code == 403 and "single sign-on" in refused.json()["detail"]
    wrong = await login(api, editor.email, password="not the password", tenant=slug)
    assert wrong.status_code == 401  # a wrong password learns nothing about the policy
    owner = await login(api, sso_tenant.owner.email, tenant=slug)
    assert owner.status_code == 200
    trail = (await api.get("/v1/audit", params={"action": "auth.login"},
                           headers=sso_tenant.owner.headers)).json()["items"]  # fmt: skip
    assert trail[0]["details"].get("break_glass") is True
    assert any(
        e["outcome"] == "failure" and e["details"]["reason"] == "sso_required" for e in trail
    )
