"""Login, tokens, refresh rotation and logout over HTTP; every forged or stale token is a 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auterity.security import tokens
from auterity.settings import Settings
from tests.api.conftest import PASSWORD, Member, TwoTenants, login, unique
from tests.support import metric

MemberFactory = Callable[..., Awaitable[Member]]


async def test_login_returns_tokens_and_me_describes_the_caller(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant(), roles=["editor"])
    response = await api.get("/v1/me", headers=person.headers)
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["kind"] == "user"
    assert me["id"] == person.user_id
    assert me["tenant"]["slug"] == person.tenant_slug
    assert me["roles"] == ["editor"]
    assert "graphs:write" in me["permissions"]
    assert "users:manage" not in me["permissions"]


async def test_access_token_claims_are_explicit(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant())
    header = jwt.get_unverified_header(person.access_token)
    claims = jwt.decode(person.access_token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"]
    assert claims["aud"] == tokens.AUDIENCE
    assert claims["iss"]
    assert claims["tenant"] == person.tenant_id
    assert claims["sub"] == person.user_id
    assert claims["exp"] - claims["iat"] == int(tokens.ACCESS_TOKEN_TTL.total_seconds())


async def test_failures_do_not_reveal_whether_the_account_exists(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant())
    failures = "auterity_login_failures_total"
    bad = await metric(api, failures, method="password", reason="bad_credentials")
    unknown = await metric(api, failures, method="password", reason="unknown_user")
    wrong_password = await login(api, person.email, "not the password at all")
    no_account = await login(api, f"{unique('nobody')}@example.com", "not the password at all")
    assert wrong_password.status_code == no_account.status_code == 401
    # the response says the same; the metric tells operators which it was
    assert await metric(api, failures, method="password", reason="bad_credentials") == bad + 1
    assert await metric(api, failures, method="password", reason="unknown_user") == unknown + 1
    assert wrong_password.json()["detail"] == no_account.json()["detail"]
    assert wrong_password.headers["content-type"] == "application/problem+json"


async def test_login_is_rate_limited_per_account(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant())
    for _ in range(5):
        assert (await login(api, person.email, "wrong password here")).status_code == 401
    refused = await login(api, person.email)  # even the right password waits now
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    unknown = f"{unique('ghost')}@example.com"
    for _ in range(5):
        await login(api, unknown, "wrong password here")
    assert (await login(api, unknown, "wrong password here")).status_code == 429


async def test_tenant_comes_from_the_body_the_only_membership_or_a_verified_domain(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions,
    settings: Settings,
) -> None:
    from auterity.bootstrap import create_member

    domain = f"{unique('corp')}.example.com"
    first, second = make_tenant(), make_tenant(domains=[domain])
    person = await member(first, email=f"{unique('pat')}@{domain}")
    only = await login(api, person.email)
    assert only.status_code == 200 and only.json()["tenant"] == first

    create_member(sessions, settings, tenant_slug=second, email=person.email, roles=["viewer"])
    by_domain = await login(api, person.email)
    assert by_domain.status_code == 200 and by_domain.json()["tenant"] == second
    named = await login(api, person.email, tenant=first)
    assert named.status_code == 200 and named.json()["tenant"] == first
    elsewhere = await login(api, person.email, tenant=make_tenant())
    assert elsewhere.status_code == 401
    header_ignored = await api.post(
        "/v1/auth/login",
        json={"email": person.email, "password": PASSWORD, "tenant": first},
        headers={"X-Tenant": second},
    )
    assert header_ignored.json()["tenant"] == first


async def test_several_tenants_and_no_verified_domain_asks_for_one(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions,
    settings,
) -> None:
    from auterity.bootstrap import create_member

    first, second = make_tenant(), make_tenant()
    person = await member(first)
    create_member(sessions, settings, tenant_slug=second, email=person.email, roles=["viewer"])
    response = await login(api, person.email)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "tenant"]


async def test_login_body_rejects_unknown_fields(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/auth/login", json={"email": "a@example.com", "password": "x", "role": "owner"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "role"]


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant())
    first = await api.post("/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != person.refresh_token
    assert (await api.get("/v1/me", headers=_bearer(rotated["access_token"]))).status_code == 200

    reused = await metric(api, "auterity_tokens_refused_total", kind="refresh", reason="reused")
    reuse = await api.post("/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert reuse.status_code == 401
    assert (
        await metric(api, "auterity_tokens_refused_total", kind="refresh", reason="reused")
        == reused + 1
    )
    # the whole family is gone: the newest refresh token and every access token of the session
    after = await api.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    assert (await api.get("/v1/me", headers=_bearer(rotated["access_token"]))).status_code == 401
    assert (await api.get("/v1/me", headers=person.headers)).status_code == 401

    again = await login(api, person.email, tenant=person.tenant_slug)
    audit = await api.get(
        "/v1/audit",
        params={"action": "auth.refresh_token_reused"},
        headers=_bearer(again.json()["access_token"]),
    )
    assert audit.status_code == 200
    assert [entry["outcome"] for entry in audit.json()["items"]] == ["denied"]


async def test_logout_ends_the_session(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant())
    assert (await api.post("/v1/auth/logout", headers=person.headers)).status_code == 204
    assert (await api.get("/v1/me", headers=person.headers)).status_code == 401
    refresh = await api.post("/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert refresh.status_code == 401


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(person: Member, **changes: object) -> dict[str, object]:
    claims = jwt.decode(person.access_token, options={"verify_signature": False})
    claims.update(changes)
    return claims


def _forged_tokens(settings: Settings, person: Member, other: Member) -> dict[str, str]:
    keys = tokens.signing_keys(settings)
    kid = {"kid": keys.current_id}
    now = int(datetime.now(UTC).timestamp())
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload, signature = person.access_token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered["tenant"] = other.tenant_id
    import hashlib
    import hmac

    def hs256(secret: bytes, claims: dict[str, object], head: dict[str, object]) -> str:
        signing_input = _b64(json.dumps(head).encode()) + "." + _b64(json.dumps(claims).encode())
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(mac)

    return {
        "alg none": _b64(json.dumps({"alg": "none", "typ": "JWT", **kid}).encode())
        + "."
        + _b64(json.dumps(_claims(person)).encode())
        + ".",
        "HS256 signed with a public key": hs256(
            public_pem, _claims(person), {"alg": "HS256", "typ": "JWT", **kid}
        ),
        "RS256": jwt.encode(_claims(person), private, algorithm="RS256", headers=kid),
        "wrong key": jwt.encode(_claims(person), b"k" * 32, algorithm="HS256", headers=kid),
        "unknown kid": jwt.encode(
            _claims(person), keys.current, algorithm="HS256", headers={"kid": "0" * 16}
        ),
        "expired": jwt.encode(
            _claims(person, iat=now - 3600, nbf=now - 3600, exp=now - 600),
            keys.current,
            algorithm="HS256",
            headers=kid,
        ),
        "wrong audience": jwt.encode(
            _claims(person, aud="someone-else"), keys.current, algorithm="HS256", headers=kid
        ),
        "wrong issuer": jwt.encode(
            _claims(person, iss="https://evil.example"),
            keys.current,
            algorithm="HS256",
            headers=kid,
        ),
        "missing tenant": jwt.encode(
            {k: v for k, v in _claims(person).items() if k != "tenant"},
            keys.current,
            algorithm="HS256",
            headers=kid,
        ),
        "tampered payload": f"{header}.{_b64(json.dumps(tampered).encode())}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        # correctly signed, but naming a tenant the user does not belong to
        "another tenant": jwt.encode(
            _claims(person, tenant=other.tenant_id), keys.current, algorithm="HS256", headers=kid
        ),
        "another tenant's session": jwt.encode(
            _claims(person, sid=_claims(other)["sid"]), keys.current, algorithm="HS256", headers=kid
        ),
        "garbage": "not.a.jwt",
        "malformed API key": "atk_zz_notakey",
        "unknown API key": f"atk_{'a' * 32}_{'b' * 43}",
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 signed with a public key",
        "RS256",
        "wrong key",
        "unknown kid",
        "expired",
        "wrong audience",
        "wrong issuer",
        "missing tenant",
        "tampered payload",
        "tampered signature",
        "another tenant",
        "another tenant's session",
        "garbage",
        "malformed API key",
        "unknown API key",
    ],
)
async def test_forged_or_stale_tokens_are_401(
    case: str, api: httpx.AsyncClient, two_tenants: TwoTenants, settings: Settings
) -> None:
    token = _forged_tokens(settings, two_tenants.a, two_tenants.b)[case]
    response = await api.get("/v1/me", headers=_bearer(token))
    assert response.status_code == 401, f"{case}: {response.status_code} {response.text}"
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await api.get("/v1/me", headers=two_tenants.a.headers)).status_code == 200


async def test_missing_or_non_bearer_credentials_are_401(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/me")).status_code == 401
    assert (
        await api.get("/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    ).status_code == 401


async def test_tokens_signed_with_a_previous_key_verify_during_rotation(
    api_url: str, make_tenant: Callable[..., str], member: MemberFactory, settings: Settings
) -> None:
    from pydantic import SecretStr

    from api.main import create_app
    from tests.support import serve

    person = await member(make_tenant())
    rotated = settings.model_copy(
        update={
            "secret_key": SecretStr("a-brand-new-secret-key-0123456789abcdef"),
            "secret_keys_previous": [settings.secret_key],
        }
    )
    retired = settings.model_copy(
        update={"secret_key": SecretStr("a-brand-new-secret-key-0123456789abcdef")}
    )
    with serve(create_app(rotated)) as url, serve(create_app(retired)) as retired_url:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/v1/me", headers=person.headers)).status_code == 200
        async with httpx.AsyncClient(base_url=retired_url) as client:
            assert (await client.get("/v1/me", headers=person.headers)).status_code == 401


async def test_changing_your_password_ends_your_sessions_in_every_tenant(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    # B's owner joins A too, and has a session in each
    invited = await api.post(
        "/v1/invitations", json={"email": b.email, "roles": ["viewer"]}, headers=a.headers
    )
    joined = await api.post(
        "/v1/invitations/accept", json={"token": invited.json()["token"]}, headers=b.headers
    )
    assert joined.status_code == 200, joined.text
    in_a = await login(api, b.email, tenant=a.tenant_slug)
    in_a_headers = {"Authorization": f"Bearer {in_a.json()['access_token']}"}
    new = "a brand new passphrase 42"

    wrong = await api.post(
        "/v1/me/password",
        json={"current_password": "not it at all", "new_password": new},
        headers=b.headers,
    )
    assert wrong.status_code == 403 and "current_password" in wrong.json()["detail"]
    weak = await api.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": "x"},
        headers=b.headers,
    )  # fmt: skip
    assert weak.status_code == 422 and "new_password" in weak.json()["detail"]
    assert (await api.get("/v1/me", headers=b.headers)).status_code == 200  # nothing changed

    changed = await api.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=b.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["sessions_ended"] == 2
    for headers in (b.headers, in_a_headers):
        assert (await api.get("/v1/me", headers=headers)).status_code == 401
    stale = await api.post("/v1/auth/refresh", json={"refresh_token": b.refresh_token})
    assert stale.status_code == 401
    assert (await login(api, b.email, PASSWORD, tenant=b.tenant_slug)).status_code == 401
    assert (await login(api, b.email, new, tenant=b.tenant_slug)).status_code == 200
    audit = await api.get(
        "/v1/audit",
        params={"action": "users.password_changed"},
        headers=(await _fresh(api, b, new)).headers,
    )
    assert len(audit.json()["items"]) == 1
    assert new not in audit.text and PASSWORD not in audit.text


async def _fresh(api: httpx.AsyncClient, person: Member, password: str) -> Member:
    response = await login(api, person.email, password, tenant=person.tenant_slug)
    assert response.status_code == 200, response.text
    person.access_token = response.json()["access_token"]
    return person


async def test_wrong_current_passwords_are_rate_limited(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    person = await member(make_tenant(), roles=["viewer"])
    statuses = [
        (
            await api.post(
                "/v1/me/password",
                json={"current_password": f"guess {n}", "new_password": "a new passphrase 42"},
                headers=person.headers,
            )
        ).status_code
        for n in range(6)
    ]
    assert statuses == [403] * 5 + [429]


async def test_an_api_key_has_no_password_to_change(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    key = await api.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["graphs:read"]}, headers=owner.headers
    )
    refused = await api.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a new passphrase 42"},
        headers={"Authorization": f"Bearer {key.json()['key']}"},
    )
    assert refused.status_code == 403
