"""Tenant scoping on real databases: reads, bulk writes and inserts stay in the session's tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from auterity.bootstrap import bootstrap_dev, create_member, create_tenant_with_audit
from auterity.db import transaction
from auterity.models.identity import Membership, MembershipRole, Role
from auterity.security import ratelimit
from auterity.security.passwords import verify_password
from auterity.security.scoping import TenantScopeError, set_tenant, unscoped
from auterity.settings import Settings, load_settings


@pytest.fixture
def tenants(sessions: sessionmaker[Session], tmp_path) -> tuple[str, str]:
    settings = load_settings(home=tmp_path)
    ids = []
    for _ in range(2):
        tenant = create_tenant_with_audit(sessions, settings, f"t-{uuid.uuid4().hex[:10]}")
        ids.append(tenant.id)
        with transaction(sessions, tenant.id) as session:
            session.add(Role(name="shared-name", description=tenant.slug, permissions=[]))
    return ids[0], ids[1]


def test_reads_see_only_the_session_tenant(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    a, b = tenants
    with transaction(sessions, a) as session:
        assert {role.tenant_id for role in session.scalars(select(Role))} == {a}
        counted = session.scalar(select(func.count()).select_from(Role))
        assert counted == 1
        joined = session.scalars(
            select(Role.tenant_id).join(Membership, Membership.tenant_id == Role.tenant_id)
        ).all()
        assert set(joined) <= {a}
    with transaction(sessions) as session:  # no tenant: no tenant-owned rows at all
        assert session.scalars(select(Role)).all() == []
        assert len(session.scalars(unscoped(select(Role))).all()) >= 2


def test_bulk_updates_and_deletes_stay_in_the_tenant(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    a, b = tenants
    with transaction(sessions, a) as session:
        session.execute(update(Role).values(description="changed"))
        session.execute(delete(MembershipRole))
    with transaction(sessions, b) as session:
        role = session.scalars(select(Role)).one()
        assert role.description != "changed"


def test_writes_into_another_tenant_are_refused(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    a, b = tenants
    with pytest.raises(TenantScopeError), transaction(sessions, a) as session:
        session.add(Role(tenant_id=b, name="smuggled", permissions=[]))
    with pytest.raises(TenantScopeError), transaction(sessions) as session:
        session.add(Role(name="orphan", permissions=[]))
    with pytest.raises(TenantScopeError), transaction(sessions, a) as session:
        role = session.scalars(select(Role)).one()
        role.tenant_id = b
    with transaction(sessions, a) as session:
        role = Role(name="filled-in", permissions=[])
        session.add(role)
        session.flush()
        assert role.tenant_id == a


def test_switching_tenant_mid_session_rescopes(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    a, b = tenants
    with transaction(sessions, a) as session:
        first = session.scalars(select(Role)).one()
        set_tenant(session, b)
        second = session.scalars(select(Role)).one()
    assert (first.tenant_id, second.tenant_id) == (a, b)


def test_bootstrap_dev_is_idempotent_and_prints_a_generated_password(
    sessions: sessionmaker[Session], tmp_path
) -> None:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    settings = load_settings(home=tmp_path, bootstrap_admin_email=email)
    first_email, password = bootstrap_dev(sessions, settings)
    assert first_email == email and password
    assert bootstrap_dev(sessions, settings) == (email, None)
    chosen = Settings(
        home=tmp_path, bootstrap_admin_email=email, bootstrap_admin_password="chosen-password-1"
    )
    assert bootstrap_dev(sessions, chosen) == (email, None)
    with transaction(sessions) as session:
        from auterity.security.accounts import tenant_by_slug, user_by_email

        user = user_by_email(session, email)
        assert user is not None and verify_password("chosen-password-1", user.password_hash)
        tenant = tenant_by_slug(session, "dev")
        assert tenant is not None
        set_tenant(session, tenant.id)
        membership = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        assert "owner" in membership.roles


def test_create_member_refuses_unknown_tenants_roles_and_duplicates(
    sessions: sessionmaker[Session], tenants: tuple[str, str], tmp_path
) -> None:
    from auterity.security.accounts import AccountError

    settings = load_settings(home=tmp_path)
    with transaction(sessions, tenants[0]) as session:
        from auterity.security.accounts import tenant_by_id

        slug = tenant_by_id(session, tenants[0]).slug  # type: ignore[union-attr]
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    created = create_member(sessions, settings, tenant_slug=slug, email=email, roles=["viewer"])
    assert created.password and created.roles == ["viewer"]
    for kwargs, message in (
        ({"tenant_slug": "nope-" + slug}, "does not exist"),
        ({"roles": ["emperor"]}, "unknown role"),
        ({}, "already a member"),
        ({"password": "another-password-1"}, "keeps its password"),
    ):
        arguments = {"tenant_slug": slug, "email": email, "roles": ["viewer"], **kwargs}
        with pytest.raises(AccountError, match=message):
            create_member(sessions, settings, **arguments)  # type: ignore[arg-type]


def test_login_rate_limit_counts_per_address_too(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    address = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    with transaction(sessions) as session:
        for index in range(ratelimit.ADDRESS_LIMIT):
            ratelimit.record_failure(session, f"user{index}@example.com", address, now)
    with transaction(sessions) as session:
        wait = ratelimit.retry_after(session, "fresh@example.com", address, now)
        assert wait is not None and 0 < wait <= ratelimit.WINDOW.total_seconds() + 1
        later = now + ratelimit.WINDOW + timedelta(seconds=1)
        assert ratelimit.retry_after(session, "fresh@example.com", address, later) is None
