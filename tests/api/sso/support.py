"""What the SSO tests share: the IdPs on loopback, a browser with cookies, configuring a
tenant over the API, walking a sign-in, and reading back the audit trail."""

from __future__ import annotations

import html
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auterity.bootstrap import create_member, create_tenant_with_audit
from tests.api.conftest import PASSWORD, Member, login, unique
from tests.conftest import IN_CI
from tests.oidc_provider import OidcProvider, serve_provider
from tests.saml_idp import Answer, Person, SamlIdP, serve_idp


@pytest.fixture(name="saml_idp", scope="module")
def fixture_saml_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdP]:
    if shutil.which("xmlsec1") is None:
        message = "xmlsec1 is not installed (apt-get install xmlsec1): the test SAML IdP needs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with serve_idp(tmp_path_factory.mktemp("idp")) as idp:
        yield idp


@pytest.fixture(name="oidc_provider", scope="module")
def fixture_oidc_provider() -> Iterator[OidcProvider]:
    with serve_provider() as provider:
        yield provider


@pytest.fixture(name="browser")
async def fixture_browser(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser: keeps cookies, follows no redirect by itself."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


@dataclass
class SsoTenant:
    owner: Member
    domain: str

    def email(self, name: str = "ada") -> str:
        return f"{name}-{uuid.uuid4().hex[:8]}@{self.domain}"


@pytest.fixture(name="sso_tenant")
async def fixture_sso_tenant(
    make_tenant: Callable[..., str], member: Callable[..., Awaitable[Member]]
) -> SsoTenant:
    """A tenant that verified its own email domain, with a signed-in owner."""
    domain = f"d{uuid.uuid4().hex[:10]}.example"
    slug = make_tenant(domains=[domain])
    return SsoTenant(owner=await member(slug), domain=domain)


@pytest.fixture(name="shared_tenant", scope="module")
async def fixture_shared_tenant(api_url: str, sessions: Any, settings: Any) -> SsoTenant:
    """Like `sso_tenant`, made once per module: for tests that only read the trail's newest
    entries, so each does not pay for a tenant and a password login of its own."""
    domain = f"d{uuid.uuid4().hex[:10]}.example"
    slug = create_tenant_with_audit(sessions, settings, unique("t"), domains=[domain]).slug
    created = create_member(sessions, settings, tenant_slug=slug, email=f"{unique('o')}@{domain}",
                            roles=["owner"], password=PASSWORD)  # fmt: skip
    owner = Member(tenant_id=created.tenant.id, tenant_slug=slug, user_id=created.user.id,
                   email=created.user.email, roles=created.roles)  # fmt: skip
    async with httpx.AsyncClient(base_url=api_url) as client:
        response = await login(client, owner.email, tenant=slug)
    assert response.status_code == 200, response.text
    owner.access_token = response.json()["access_token"]
    return SsoTenant(owner=owner, domain=domain)


MAPPINGS = [{"group": "engineering", "roles": ["editor"]}, {"group": "admins", "roles": ["admin"]}]


async def configure_saml(
    api: httpx.AsyncClient, tenant: SsoTenant, idp: SamlIdP, **saml: Any
) -> dict[str, Any]:
    """Configure SAML from the IdP's metadata, register our SP at the IdP; the config read."""
    body = {
        "saml": {"metadata_xml": idp.metadata_xml(), "groups_attribute": "groups", **saml},
        "role_mappings": MAPPINGS,
    }
    response = await api.put("/v1/sso/config", json=body, headers=tenant.owner.headers)
    assert response.status_code == 200, response.text
    metadata = await api.get(f"/v1/sso/saml/{tenant.owner.tenant_slug}/metadata")
    assert metadata.status_code == 200, metadata.text
    idp.trust(metadata.text)
    return dict(response.json())


async def configure_oidc(
    api: httpx.AsyncClient, tenant: SsoTenant, provider: OidcProvider, **extra: Any
) -> dict[str, Any]:
    body = {
        "oidc": {
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
        },
        "role_mappings": MAPPINGS,
        **extra,
    }
    response = await api.put("/v1/sso/config", json=body, headers=tenant.owner.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """(action, fields) of the IdP's auto-submitting form."""
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


async def start_saml(
    browser: httpx.AsyncClient, slug: str, return_to: str | None = None
) -> dict[str, str]:
    """Begin an SP-initiated sign-in: the query the browser carries to the IdP (SAMLRequest,
    RelayState, SigAlg, Signature)."""
    params = {"return_to": return_to} if return_to else None
    response = await browser.get(f"/v1/sso/saml/{slug}/login", params=params)
    assert response.status_code == 302, response.text
    return {
        key: values[0]
        for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()
    }


async def saml_sign_in(
    browser: httpx.AsyncClient,
    slug: str,
    idp: SamlIdP,
    person: Person,
    return_to: str | None = None,
) -> httpx.Response:
    """The whole walk over HTTP: our login, the IdP's page, the form posted to our ACS."""
    response = await browser.get(
        f"/v1/sso/saml/{slug}/login", params={"return_to": return_to} if return_to else None
    )
    assert response.status_code == 302, response.text
    idp.person = person
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200, page.text
    action, fields = form_fields(page.text)
    return await browser.post(action, data=fields)


async def post_answer(browser: httpx.AsyncClient, answer: Answer) -> httpx.Response:
    fields = {"SAMLResponse": answer.saml_response}
    if answer.relay_state is not None:
        fields["RelayState"] = answer.relay_state
    return await browser.post(answer.acs_url, data=fields)


def sso_code(response: httpx.Response) -> str:
    assert response.status_code == 303, f"{response.status_code} {response.text[:500]}"
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["sso_code"][0]


async def exchange(browser: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    """Trade the code of a finished sign-in for the token pair, from the same browser."""
    traded = await browser.post("/v1/sso/exchange", json={"code": sso_code(response)})
    assert traded.status_code == 200, traded.text
    return dict(traded.json())


async def refusals(
    api: httpx.AsyncClient, owner: Member, action: str = "auth.login"
) -> list[dict[str, Any]]:
    """The details of the tenant's refused `action` entries, newest first."""
    response = await api.get(
        "/v1/audit", params={"action": action, "outcome": "failure", "limit": 100},
        headers=owner.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return [entry["details"] for entry in response.json()["items"]]


async def assert_refused(
    api: httpx.AsyncClient, owner: Member, response: httpx.Response, reason: str, status: int = 401
) -> None:
    """The sign-in was refused with a page (no code), and the tenant's trail says why."""
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    assert "sso_code" not in response.headers.get("location", "")
    assert f"Reason: {reason}" in response.text, response.text[-300:]
    found = await refusals(api, owner)
    assert found and found[0]["reason"] == reason, found[:3]


FIXTURES = (
    fixture_browser,
    fixture_oidc_provider,
    fixture_saml_idp,
    fixture_shared_tenant,
    fixture_sso_tenant,
)
