"""The tenant's settings over HTTP (routes/tenant.py): audit retention, the tenant's own
egress allow-list within the platform's ceiling, SSO required; audited; owners and admins
only. Hostile allow-list entries are a 422 naming the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from auterity.models.sso import SsoConfig
from auterity.security.scoping import set_tenant
from auterity.settings import Settings
from tests.api.conftest import Member, login
from tests.support import serve

MemberFactory = Callable[..., Awaitable[Member]]
CEILING = ["10.20.0.0/16", "*.corp.test", "wiki.intranet.test"]


@pytest.fixture(scope="module")
def ceiling_url(settings: Settings) -> Iterator[str]:
    """The app with AUTERITY_TENANT_EGRESS_CEILING set."""
    app = create_app(settings.model_copy(update={"tenant_egress_ceiling": CEILING}))
    with serve(app) as url:
        yield url


@pytest.fixture
async def client(ceiling_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ceiling_url, timeout=30) as client:
        yield client


async def test_read_and_change_the_settings_audited(
    client: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    read = await client.get("/v1/tenant", headers=owner.headers)
    assert read.status_code == 200, read.text
    assert read.json() | {"id": None} == {
        "id": None,
        "slug": owner.tenant_slug,
        "name": owner.tenant_slug,
        "audit_retention_days": 365,
        "egress_allow": [],
        "sso_required": False,
        "sso_configured": False,
    }
    changed = await client.patch(
        "/v1/tenant",
        json={"audit_retention_days": 730, "egress_allow": ["10.20.5.0/24", "Git.Corp.Test"]},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["audit_retention_days"] == 730
    assert changed.json()["egress_allow"] == ["10.20.5.0/24", "git.corp.test"]
    assert (await client.get("/v1/tenant", headers=owner.headers)).json() == changed.json()
    entries = await client.get(
        "/v1/audit", params={"action": "tenant.updated"}, headers=owner.headers
    )
    (entry,) = entries.json()["items"]
    assert entry["details"] == {
        "audit_retention_days": {"from": 365, "to": 730},
        "egress_allow": {"from": [], "to": ["10.20.5.0/24", "git.corp.test"]},
    }
    # the same values again change nothing and audit nothing
    same = await client.patch(
        "/v1/tenant", json={"audit_retention_days": 730}, headers=owner.headers
    )
    assert same.status_code == 200
    entries = await client.get(
        "/v1/audit", params={"action": "tenant.updated"}, headers=owner.headers
    )
    assert len(entries.json()["items"]) == 1


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("169.254.169.254", "link-local"),
        ("169.254.0.0/16", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("0.0.0.0/0", "unspecified"),
        ("localhost", "single-label"),
        ("api.localhost", "local"),
        ("metadata.google.internal", "metadata"),
        ("*", "wildcard"),
        ("*.*", "wildcard"),
        ("a*.corp.test", "leading"),
        ("10.0.0.0/8", "AUTERITY_TENANT_EGRESS_CEILING"),
        ("192.168.1.1", "AUTERITY_TENANT_EGRESS_CEILING"),
        ("temporal.svc.cluster.local", "AUTERITY_TENANT_EGRESS_CEILING"),
        ("*.test", "top-level"),
        ("*.intranet.test", "AUTERITY_TENANT_EGRESS_CEILING"),
        ("not a host", "neither"),
    ],
)
async def test_hostile_allow_list_entries_are_refused_naming_the_entry(
    client: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    entry: str,
    why: str,
) -> None:
    owner = await member(make_tenant())
    refused = await client.patch(
        "/v1/tenant", json={"egress_allow": ["wiki.intranet.test", entry]}, headers=owner.headers
    )
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"egress_allow[1]: {entry!r}") and why in detail, detail
    assert (await client.get("/v1/tenant", headers=owner.headers)).json()["egress_allow"] == []


async def test_only_tenant_managers_change_settings(
    client: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    editor = await member(tenant, roles=["editor"])
    assert (await client.get("/v1/tenant", headers=editor.headers)).status_code == 200
    for body in (
        {"egress_allow": ["10.20.0.0/24"]},
        {"audit_retention_days": 0},
        {"sso_required": False},
    ):
        refused = await client.patch("/v1/tenant", json=body, headers=editor.headers)
        assert refused.status_code == 403, refused.text
    assert (await client.get("/v1/tenant", headers=owner.headers)).json()["egress_allow"] == []
    admin = await member(tenant, roles=["admin"])
    allowed = await client.patch(
        "/v1/tenant", json={"audit_retention_days": 0}, headers=admin.headers
    )
    assert allowed.status_code == 200 and allowed.json()["audit_retention_days"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"audit_retention_days": 1},
        {"audit_retention_days": -5},
        {"audit_retention_days": 10**9},
        {"egress_allow": "10.20.0.0/16"},
        {"egress_allow": [""]},
        {"sso_required": True},  # no SSO connection yet
        {"name": "renamed"},
    ],
)
async def test_bad_settings_are_422_naming_the_field(
    client: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory, body
) -> None:
    owner = await member(make_tenant())
    refused = await client.patch("/v1/tenant", json=body, headers=owner.headers)
    assert refused.status_code == 422, refused.text
    assert next(iter(body)) in refused.text


async def test_sso_required_refuses_password_sign_in_except_owners(
    client: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
) -> None:
    tenant = make_tenant()
    owner = await member(tenant)
    editor = await member(tenant, roles=["editor"])
    with sessions() as session, session.begin():
        set_tenant(session, owner.tenant_id)
        session.add(SsoConfig(tenant_id=owner.tenant_id, oidc={"issuer": "https://idp.test"}))
    required = await client.patch("/v1/tenant", json={"sso_required": True}, headers=owner.headers)
    assert required.status_code == 200, required.text
    assert required.json()["sso_required"] is True and required.json()["sso_configured"] is True
    refused = await login(client, editor.email, tenant=tenant)
    assert refused.status_code == 403 and "single sign-on" in refused.json()["detail"]
    assert (await login(client, owner.email, tenant=tenant)).status_code == 200  # break-glass
    lifted = await client.patch("/v1/tenant", json={"sso_required": False}, headers=owner.headers)
    assert lifted.status_code == 200
    assert (await login(client, editor.email, tenant=tenant)).status_code == 200
