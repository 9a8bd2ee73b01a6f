"""OpenID Connect sign-in against a real provider on loopback: PKCE, state and nonce bound
to the browser, ID-token checks, key rotation; each attack refused and audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.sso.support import (
    SsoTenant,
    assert_refused,
    configure_oidc,
    exchange,
    fixture_browser,  # noqa: F401 - fixture
    fixture_oidc_provider,  # noqa: F401 - fixture
    fixture_shared_tenant,  # noqa: F401 - fixture
)
from tests.oidc_provider import OidcProvider, Subject, code_without_pkce, new_key
from tests.support import metric


@pytest.fixture(scope="module")
async def oidc_tenant(
    api_url: str, shared_tenant: SsoTenant, oidc_provider: OidcProvider
) -> SsoTenant:
    async with httpx.AsyncClient(base_url=api_url) as api:
        await configure_oidc(api, shared_tenant, oidc_provider)
    return shared_tenant


@pytest.fixture(autouse=True)
def honest_provider(oidc_provider: OidcProvider) -> Iterator[None]:
    """Every test starts with a provider that behaves, whatever the last one made it do."""
    yield
    oidc_provider.claims, oidc_provider.header = {}, {}
    oidc_provider.sign_with, oidc_provider.unsigned = None, False


async def _authorize(browser: httpx.AsyncClient, slug: str, provider: OidcProvider,
                     subject: Subject, return_to: str | None = None) -> tuple[str, dict[str, str]]:  # fmt: skip
    """Our login, then the provider's authorize: (our callback URL, the authorize query)."""
    started = await browser.get(f"/v1/sso/oidc/{slug}/login",
                                params={"return_to": return_to} if return_to else None)  # fmt: skip
    assert started.status_code == 302, started.text
    authorize = started.headers["location"]
    provider.subject = subject
    answered = await browser.get(authorize)
    assert answered.status_code == 302, answered.text
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorize).query).items()}
    return answered.headers["location"], query


async def _sign_in(browser: httpx.AsyncClient, slug: str, provider: OidcProvider,
                   subject: Subject, return_to: str | None = None) -> httpx.Response:  # fmt: skip
    callback, _ = await _authorize(browser, slug, provider, subject, return_to)
    return await browser.get(callback)


def _subject(tenant: SsoTenant, groups: list[str] | None = None) -> Subject:
    return Subject(sub=f"sub-{time.monotonic_ns()}", email=tenant.email(),
                   groups=["engineering"] if groups is None else groups, name="Ada Lovelace")  # fmt: skip


async def test_code_flow_with_pkce_ends_like_a_password_login(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider,
) -> None:  # fmt: skip
    slug = oidc_tenant.owner.tenant_slug
    subject = _subject(oidc_tenant)
    callback, query = await _authorize(browser, slug, oidc_provider, subject, "/runs")
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
    landed = await browser.get(callback)
    assert landed.headers["location"].startswith("/runs?sso_code=")
    assert oidc_provider.token_requests[-1].get("code_verifier")
    tokens = await exchange(browser, landed)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = (await api.get("/v1/me", headers=headers)).json()
    assert me["roles"] == ["editor"] and me["name"] == subject.email
    # keyed on (iss, sub): the provider changes the email, the person stays the same
    subject.email = oidc_tenant.email("renamed")
    again = await exchange(browser, await _sign_in(browser, slug, oidc_provider, subject))
    me_again = (
        await api.get("/v1/me", headers={"Authorization": f"Bearer {again['access_token']}"})
    ).json()
    assert me_again["user_id"] == me["user_id"]
    # ... and the same email under another subject is another identity, not a takeover
    logins = (await api.get("/v1/audit", params={"action": "auth.login", "outcome": "success"},
                            headers=oidc_tenant.owner.headers)).json()["items"]  # fmt: skip
    assert (
        logins[0]["details"]["method"] == "oidc" and logins[0]["details"]["subject"] == subject.sub
    )


async def test_a_callback_with_another_browsers_state_is_refused(
    api: httpx.AsyncClient, api_url: str, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider,
) -> None:  # fmt: skip
    slug = oidc_tenant.owner.tenant_slug
    async with httpx.AsyncClient(base_url=api_url) as attacker:
        callback, _ = await _authorize(attacker, slug, oidc_provider, _subject(oidc_tenant))
    await browser.get(f"/v1/sso/oidc/{slug}/login")  # the victim has a cookie of their own
    sso_failures = await metric(api, "auterity_sso_failures_total", protocol="oidc", reason="state")
    logins = await metric(api, "auterity_login_failures_total", method="oidc", reason="sso_error")
    await assert_refused(api, oidc_tenant.owner, await browser.get(callback), "state_mismatch")
    tampered = callback.replace("state=", "state=x")
    await assert_refused(api, oidc_tenant.owner, await browser.get(tampered), "state_mismatch")
    assert (
        await metric(api, "auterity_sso_failures_total", protocol="oidc", reason="state")
        == sso_failures + 2
    )
    assert (
        await metric(api, "auterity_login_failures_total", method="oidc", reason="sso_error")
        == logins + 2
    )


async def test_a_reused_nonce_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider,
) -> None:  # fmt: skip
    slug = oidc_tenant.owner.tenant_slug
    callback, first = await _authorize(browser, slug, oidc_provider, _subject(oidc_tenant))
    await exchange(browser, await browser.get(callback))
    oidc_provider.claims = {"nonce": first["nonce"]}  # an ID token minted for the last sign-in
    refused = await _sign_in(browser, slug, oidc_provider, _subject(oidc_tenant))
    await assert_refused(api, oidc_tenant.owner, refused, "nonce_mismatch")


async def test_a_code_obtained_without_pkce_is_refused(
    api: httpx.AsyncClient, api_url: str, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider,
) -> None:  # fmt: skip
    """Code injection: the attacker's own code (no PKCE challenge) swapped into the victim's
    callback. Our verifier has no challenge to match, so the provider refuses the exchange."""
    slug = oidc_tenant.owner.tenant_slug
    callback, query = await _authorize(browser, slug, oidc_provider, _subject(oidc_tenant))
    stolen = code_without_pkce(
        oidc_provider, query["redirect_uri"], _subject(oidc_tenant, ["admins"])
    )
    injected = f"{callback.split('?')[0]}?code={stolen}&state={query['state']}"
    await assert_refused(
        api, oidc_tenant.owner, await browser.get(injected), "token_exchange_failed"
    )
    assert "code_verifier" in oidc_provider.token_requests[-1]


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        ({"claims": {"iss": "https://evil.example"}}, "wrong_issuer"),
        ({"claims": {"aud": "another-client"}}, "wrong_audience"),
        ({"claims": {"aud": ["CLIENT", "another-client"], "azp": "another-client"}}, "wrong_azp"),
        ({"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}}, "expired"),
        ({"unsigned": True}, "alg_not_allowed"),
        ({"header": {"alg": "HS256"}}, "alg_not_allowed"),
        ({"sign_with": "unpublished"}, "unknown_key"),
    ],
    ids=["wrong-issuer", "wrong-audience", "wrong-azp", "expired", "alg-none", "alg-hs256",
         "unknown-key"],
)  # fmt: skip
async def test_a_bad_id_token_is_refused_and_audited(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider, misbehave: dict[str, object], reason: str,
) -> None:  # fmt: skip
    for name, value in misbehave.items():
        if name == "claims":
            assert isinstance(value, dict)
            value = {k: [oidc_provider.client_id if a == "CLIENT" else a for a in v]
                     if isinstance(v, list) else v for k, v in value.items()}  # fmt: skip
        if name == "sign_with":
            value = new_key()
        if name == "header":
            value = {"alg": "RS256", **value}  # signed with RSA, header lies
        setattr(oidc_provider, name, value)
    fetches = oidc_provider.jwks_fetches
    refused = await _sign_in(
        browser, oidc_tenant.owner.tenant_slug, oidc_provider, _subject(oidc_tenant)
    )
    await assert_refused(api, oidc_tenant.owner, refused, reason)
    if reason == "unknown_key":
        assert oidc_provider.jwks_fetches == fetches + 1  # refetched once, then refused


async def test_the_provider_rotates_its_key_and_sign_in_still_works(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, oidc_tenant: SsoTenant,
    oidc_provider: OidcProvider,
) -> None:  # fmt: skip
    slug = oidc_tenant.owner.tenant_slug
    await exchange(browser, await _sign_in(browser, slug, oidc_provider, _subject(oidc_tenant)))
    fetches = oidc_provider.jwks_fetches
    oidc_provider.rotate()
    await exchange(browser, await _sign_in(browser, slug, oidc_provider, _subject(oidc_tenant)))
    assert oidc_provider.jwks_fetches == fetches + 1
    await exchange(browser, await _sign_in(browser, slug, oidc_provider, _subject(oidc_tenant)))
    assert oidc_provider.jwks_fetches == fetches + 1  # the new key set is cached
