"""Tenants, users, memberships and the permissions a membership's roles grant."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.identity import Membership, MembershipRole, Role
from auterity.models.tenancy import Tenant, User
from auterity.security.passwords import hash_password
from auterity.security.permissions import BUILTIN_ROLES, OWNER
from auterity.security.scoping import current_tenant, set_tenant, unscoped

TENANT_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class AccountError(ValueError):
    """A tenant, user or membership cannot be created as asked; the message says why."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_domain(email: str) -> str:
    return normalize_email(email).rpartition("@")[2]


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalars(select(Tenant).where(Tenant.slug == slug)).one_or_none()


def tenant_by_id(session: Session, tenant_id: str) -> Tenant | None:
    return session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one_or_none()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalize_email(email))).one_or_none()


def create_tenant(
    session: Session, slug: str, name: str = "", verified_domains: Iterable[str] = ()
) -> Tenant:
    """A new tenant; its slug is immutable (workflow ids start with it)."""
    if not TENANT_SLUG.match(slug):
        raise AccountError(
            f"tenant slug {slug!r} must be 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    domains = sorted({domain.strip().lower() for domain in verified_domains})
    for domain in domains:
        if not DOMAIN.match(domain):
            raise AccountError(f"{domain!r} is not a domain name")
    if tenant_by_slug(session, slug) is not None:
        raise AccountError(f"tenant {slug!r} exists")
    tenant = Tenant(slug=slug, name=name or slug, verified_domains=domains, settings={})
    session.add(tenant)
    session.flush()
    return tenant


def create_user(session: Session, email: str, name: str = "", password: str | None = None) -> User:
    email = normalize_email(email)
    if not EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if user_by_email(session, email) is not None:
        raise AccountError(f"a user with email {email!r} exists")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def add_member(session: Session, tenant_id: str, user: User, roles: Iterable[str]) -> Membership:
    """Make `user` a member of the session's tenant with `roles` (names checked by the caller)."""
    if current_tenant(session) != tenant_id:
        set_tenant(session, tenant_id)
    membership = Membership(tenant_id=tenant_id, user_id=user.id, is_active=True)
    membership.role_links = [
        MembershipRole(tenant_id=tenant_id, role=role) for role in sorted(set(roles))
    ]
    session.add(membership)
    session.flush()
    return membership


def set_roles(membership: Membership, roles: Iterable[str]) -> None:
    """Make `roles` the membership's roles, keeping the links of the roles it keeps."""
    kept = {link.role: link for link in membership.role_links}
    membership.role_links = [
        kept.get(role) or MembershipRole(tenant_id=membership.tenant_id, role=role)
        for role in sorted(set(roles))
    ]


def active_owner_count(session: Session) -> int:
    """How many active members of the session's tenant hold the owner role."""
    return len(
        session.scalars(
            select(Membership.id)
            .join(MembershipRole, MembershipRole.membership_id == Membership.id)
            .where(MembershipRole.role == OWNER, Membership.is_active.is_(True))
        ).all()
    )


def membership_of(session: Session, user_id: str) -> Membership | None:
    """The membership of `user_id` in the session's tenant."""
    return session.scalars(select(Membership).where(Membership.user_id == user_id)).one_or_none()


def memberships_of_user(session: Session, user_id: str) -> list[tuple[Membership, Tenant]]:
    """Every tenant `user_id` belongs to (a cross-tenant look-up: only after a password check)."""
    rows = session.execute(
        unscoped(
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
        )
    ).all()
    return [(membership, tenant) for membership, tenant in rows]


def custom_roles(session: Session) -> dict[str, Role]:
    """The session tenant's custom roles by name."""
    return {role.name: role for role in session.scalars(select(Role).order_by(Role.name))}


def permissions_of(session: Session, role_names: Iterable[str]) -> frozenset[str]:
    """The union of the permissions the named roles grant in the session's tenant."""
    names = set(role_names)
    granted: set[str] = set()
    for name in names & BUILTIN_ROLES.keys():
        granted |= BUILTIN_ROLES[name]
    custom = names - BUILTIN_ROLES.keys()
    if custom:
        for role in session.scalars(select(Role).where(Role.name.in_(custom))):
            granted |= set(role.permissions)
    return frozenset(granted)
