"""API fixtures: on PostgreSQL the app connects as a non-owner role, so RLS binds it.

`member()` makes a person in a tenant (through the same code the CLI uses) and
logs them in over HTTP; `two_tenants` gives an owner in each of tenants A and B.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from auterity.bootstrap import create_member, create_tenant_with_audit
from auterity.security.rls import APP_ROLE
from auterity.settings import Settings

PASSWORD = "correct horse battery staple"
APP_LOGIN = "auterity_test_app_login"


@pytest.fixture(scope="session")
def settings(settings: Settings, database_url: str) -> Settings:
    """The app's settings; on PostgreSQL its URL is a login that is only a member of APP_ROLE."""
    if not database_url.startswith("postgres"):
        return settings
    owner_url = make_url(settings.database_url_resolved)
    admin = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                f"DO $$ BEGIN CREATE ROLE {APP_LOGIN} LOGIN IN ROLE {APP_ROLE}; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
    admin.dispose()
    app_url = owner_url.set(username=APP_LOGIN, password=None)
    return settings.model_copy(
        update={"database_url": app_url.render_as_string(hide_password=False)}
    )


@dataclass
class Member:
    tenant_id: str
    tenant_slug: str
    user_id: str
    email: str
    roles: list[str]
    access_token: str = ""
    refresh_token: str = ""
    password: str = field(default=PASSWORD, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_tenant(sessions: sessionmaker[Session], settings: Settings) -> Callable[..., str]:
    """Create a tenant; returns its slug."""

    def _make(slug: str | None = None, domains: Iterable[str] = ()) -> str:
        tenant = create_tenant_with_audit(sessions, settings, slug or unique("t"), domains=domains)
        return tenant.slug

    return _make


async def login(
    api: httpx.AsyncClient, email: str, password: str = PASSWORD, tenant: str | None = None
) -> httpx.Response:
    body = {"email": email, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    return await api.post("/v1/auth/login", json=body)


@pytest.fixture
def member(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], settings: Settings
) -> Callable[..., Awaitable[Member]]:
    """Make a member of a tenant with roles and log them in."""

    async def _make(
        tenant_slug: str, roles: Iterable[str] = ("owner",), *, email: str | None = None
    ) -> Member:
        created = create_member(
            sessions,
            settings,
            tenant_slug=tenant_slug,
            email=email or f"{unique('u')}@example.com",
            roles=roles,
            password=PASSWORD,
        )
        person = Member(
            tenant_id=created.tenant.id,
            tenant_slug=tenant_slug,
            user_id=created.user.id,
            email=created.user.email,
            roles=created.roles,
        )
        response = await login(api, person.email, tenant=tenant_slug)
        assert response.status_code == 200, response.text
        person.access_token = response.json()["access_token"]
        person.refresh_token = response.json()["refresh_token"]
        return person

    return _make


@dataclass
class TwoTenants:
    a: Member
    b: Member


@pytest.fixture
async def two_tenants(
    make_tenant: Callable[..., str], member: Callable[..., Awaitable[Member]]
) -> TwoTenants:
    """An owner in tenant A and an owner in tenant B."""
    return TwoTenants(a=await member(make_tenant()), b=await member(make_tenant()))
